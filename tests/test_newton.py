"""Newton solver for nonlinear devices on the nodal system (ngspice checks in test_spice)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.crossbar import Lines, effective_matrix
from xbarsim.crossbar.newton import NewtonConvergenceError, SinhIV, solve_nonlinear
from xbarsim.errors import XbarsimInputError

LINES = Lines(r_row_ohm=2.0, r_col_ohm=3.0, r_source_ohm=20.0, r_sink_ohm=10.0)


class LinearLaw:
    """I = G V, without a derivative method (exercises the finite-difference Jacobian)."""

    def current(self, g_s, v):
        return g_s * v


def _case(seed: int, rows: int = 10, cols: int = 7):
    rng = np.random.default_rng(seed)
    return rng.uniform(1e-6, 200e-6, (rows, cols)), rng.uniform(0.0, 0.3, (4, rows))


def test_linear_law_reproduces_the_effective_matrix():
    g, v = _case(0)
    sol = solve_nonlinear(g, LINES, v, LinearLaw())
    np.testing.assert_allclose(sol.currents_a, v @ effective_matrix(g, LINES), rtol=1e-10)
    np.testing.assert_allclose(sol.linear_currents_a, sol.currents_a, rtol=1e-10)
    assert sol.iterations.max() <= 2


def test_ideal_lines_give_the_device_law_directly():
    g, v = _case(1)
    law = SinhIV(5.0)
    sol = solve_nonlinear(g, Lines(), v, law)
    np.testing.assert_allclose(sol.currents_a,
                               law.current(g[None], v[:, :, None]).sum(axis=1), rtol=1e-14)


@given(seed=st.integers(0, 2**16), b=st.floats(0.5, 8.0))
@settings(max_examples=25, deadline=None)
def test_newton_limits_and_monotonicity(seed, b):
    """Converged and finite; a nearly linear law (b -> 0) gives the linear solution; with all
    inputs equal the array is a two-terminal network of devices that are everywhere more
    conductive than linear, so the total output current is at least the linear one."""
    g, v = _case(seed, rows=6, cols=5)
    sol = solve_nonlinear(g, LINES, v, SinhIV(b))
    assert np.all(np.isfinite(sol.currents_a))
    assert np.all(sol.iterations >= 1) and np.all(sol.iterations <= 50)
    weak = solve_nonlinear(g, LINES, v, SinhIV(1e-3))
    np.testing.assert_allclose(weak.currents_a, weak.linear_currents_a, rtol=1e-6)
    equal = solve_nonlinear(g, LINES, np.full(6, 0.25), SinhIV(b))
    assert equal.currents_a.sum() >= equal.linear_currents_a.sum() * (1 - 1e-12)


def test_non_convergence_is_an_error_not_an_answer():
    g, v = _case(2)
    with pytest.raises(NewtonConvergenceError, match="no convergence after 1 iterations"):
        solve_nonlinear(g, LINES, v, SinhIV(6.0), max_iter=1)
    with pytest.raises(NewtonConvergenceError):
        solve_nonlinear(g, Lines(r_row_ohm=1e3, r_col_ohm=1e3, r_source_ohm=1e3, r_sink_ohm=1e3),
                        v * 100, SinhIV(80.0), max_iter=8)


@pytest.mark.parametrize(
    "kwargs", [{"tol_v": 0.0}, {"tol_v": float("nan")}, {"max_iter": 0}, {"max_iter": 2.5}]
)
def test_bad_settings_are_refused(kwargs):
    g, v = _case(3)
    with pytest.raises(XbarsimInputError):
        solve_nonlinear(g, LINES, v, SinhIV(), **kwargs)
    with pytest.raises(XbarsimInputError):
        SinhIV(-1.0)

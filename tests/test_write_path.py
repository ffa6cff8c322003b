"""Write pulses through resistive lines."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.crossbar import BiasScheme, Lines, lines_preset
from xbarsim.crossbar.write_path import line_voltages, write_voltages
from xbarsim.errors import XbarsimInputError


@pytest.mark.parametrize("scheme", [BiasScheme.V2, BiasScheme.V3])
def test_ideal_lines_give_the_scheme_fractions(scheme):
    g = np.random.default_rng(0).uniform(10e-6, 100e-6, (6, 5))
    v = write_voltages(g, Lines(), 2, 3, 1.5, scheme)
    expected = np.full((6, 5), scheme.other_fraction * 1.5)
    expected[2, :] = expected[:, 3] = scheme.line_fraction * 1.5
    expected[2, 3] = 1.5
    np.testing.assert_allclose(v, expected, atol=1e-14)


def test_line_drop_hits_far_devices_hardest_and_stays_bounded():
    """Uniform array, rows driven at column 0, columns at row 63 (the far end from the
    drivers is row 0, column 63): the selected device there sees the least voltage."""
    g = np.full((64, 64), 100e-6)
    lines = lines_preset("paper").model_copy(update={"r_source_ohm": 5.0, "r_sink_ohm": 5.0})
    near = write_voltages(g, lines, 63, 0, 2.0)
    far = write_voltages(g, lines, 0, 63, 2.0)
    assert far[0, 63] < near[63, 0] < 2.0
    assert far[0, 63] < 0.9 * 2.0  # 100 uS devices, 64 per line: a >10 % loss far away
    # half-selected devices never see more than V/2; unselected ones stay near 0 V
    assert np.max(np.delete(far[0], 63)) <= 1.0 + 1e-12
    assert np.max(np.delete(far[:, 63], 0)) <= 1.0 + 1e-12
    others = np.delete(np.delete(far, 0, axis=0), 63, axis=1)
    assert np.max(np.abs(others)) < 0.05 * 2.0
    row_v, col_v = line_voltages(64, 64, 0, 63, 2.0, BiasScheme.V2)
    assert row_v[0] == 2.0 and col_v[63] == 0.0 and row_v[1] == col_v[0] == 1.0


def test_write_path_rejects_bad_input():
    g = np.full((4, 4), 1e-5)
    with pytest.raises(XbarsimInputError, match="outside"):
        write_voltages(g, Lines(), 4, 0, 1.0)
    with pytest.raises(XbarsimInputError, match="scheme"):
        write_voltages(g, Lines(), 0, 0, 1.0, BiasScheme.NONE)
    with pytest.raises(XbarsimInputError, match="v_pulse"):
        write_voltages(g, Lines(), 0, 0, float("nan"))


def _dense_write(g, r_row, r_col, r_src, r_snk, row_v, col_v):
    """Independent dense nodal solve: rows driven at column 0, columns at the last row."""
    rows, cols = g.shape
    n = 2 * rows * cols
    k = np.zeros((n, n))
    rhs = np.zeros(n)

    def r(i, j):
        return i * cols + j

    def c(i, j):
        return rows * cols + i * cols + j

    def link(a, b, cond):
        k[a, a] += cond
        k[b, b] += cond
        k[a, b] -= cond
        k[b, a] -= cond

    for i in range(rows):
        for j in range(cols):
            link(r(i, j), c(i, j), g[i, j])
            if j + 1 < cols:
                link(r(i, j), r(i, j + 1), 1 / r_row)
            if i + 1 < rows:
                link(c(i, j), c(i + 1, j), 1 / r_col)
        k[r(i, 0), r(i, 0)] += 1 / r_src
        rhs[r(i, 0)] += row_v[i] / r_src
    for j in range(cols):
        k[c(rows - 1, j), c(rows - 1, j)] += 1 / r_snk
        rhs[c(rows - 1, j)] += col_v[j] / r_snk
    x = np.linalg.solve(k, rhs)
    return x[: rows * cols].reshape(rows, cols) - x[rows * cols :].reshape(rows, cols)


@pytest.mark.parametrize("scheme", [BiasScheme.V2, BiasScheme.V3])
def test_superposition_matches_an_independent_dense_solve(scheme):
    g = np.random.default_rng(3).uniform(1e-6, 200e-6, (5, 7))
    lines = Lines(r_row_ohm=30.0, r_col_ohm=50.0, r_source_ohm=100.0, r_sink_ohm=70.0)
    row_v, col_v = line_voltages(5, 7, 1, 4, 1.8, scheme)
    expected = _dense_write(g, 30.0, 50.0, 100.0, 70.0, row_v, col_v)
    np.testing.assert_allclose(write_voltages(g, lines, 1, 4, 1.8, scheme), expected,
                               rtol=1e-10, atol=1e-13)

"""Three-piece pulse law (issue 8): the law, its exact special case, engine equivalence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.crossbar import BiasScheme, Crossbar
from xbarsim.devices import ThreePieceDynamics, TwoSlopeDynamics, device_config_from_dict, preset
from xbarsim.devices.dynamics import PulseLaw
from xbarsim.errors import XbarsimInputError
from xbarsim.programming import WriteVerify, program

BASE = dict(g_min=1e-6, g_max=200e-6, d0_set=0.1, d0_reset=0.2, slope_below=0.032, slope_above=0.3)


def _dev(sigma: float, dynamics: object) -> object:
    return preset("tio2-64x64-paper").with_sigma(sigma).model_copy(update={"dynamics": dynamics})


@settings(max_examples=200, deadline=None)
@given(
    a=st.floats(0.0, 5.0),
    th=st.floats(0.3, 3.0),
    knee=st.floats(0.01, 2.0),
    far=st.floats(0.01, 50.0),
)
def test_law_pieces(a: float, th: float, knee: float, far: float) -> None:
    """Two-slope below the knee, continuous at it, the far slope beyond it."""
    two = PulseLaw(**BASE)
    three = PulseLaw(**BASE, knee=knee, slope_far=far)
    d2, d3 = float(two.dose(a, th, 0.1)), float(three.dose(a, th, 0.1))
    if a < th + knee:
        assert d3 == d2
    else:
        expect = 0.1 * math.exp(knee / 0.3) * math.exp((a - th - knee) / far)
        assert d3 == pytest.approx(expect, rel=1e-12)
    at_knee = float(three.dose(th + knee, th, 0.1))
    assert at_knee == pytest.approx(0.1 * math.exp(knee / 0.3), rel=1e-12)
    # monotone in amplitude
    assert float(three.dose(a + 0.01, th, 0.1)) >= d3


@settings(max_examples=100, deadline=None)
@given(a=st.floats(0.0, 5.0), th=st.floats(0.3, 3.0), knee=st.floats(0.01, 2.0))
def test_far_slope_equal_to_above_is_the_two_slope_law(a: float, th: float, knee: float) -> None:
    three = PulseLaw(**BASE, knee=knee, slope_far=0.3)
    assert float(three.dose(a, th, 0.1)) == pytest.approx(
        float(PulseLaw(**BASE).dose(a, th, 0.1)), rel=1e-12
    )


def test_saturating_far_slope_gives_less_dose_far_above() -> None:
    three = PulseLaw(**BASE, knee=0.2, slope_far=2.0)
    a = np.linspace(1.5, 3.0, 7)
    assert np.all(three.dose(a, 1.2, 0.1) < PulseLaw(**BASE).dose(a, 1.2, 0.1))


def test_config_kind_and_validation() -> None:
    dev = device_config_from_dict(
        {
            "preset": "tio2-64x64-paper",
            "dynamics": {"kind": "three-piece", "knee_v": 0.4, "slope_far_v": 2.0},
        }
    )
    law = dev.pulse_law()
    assert (law.knee, law.slope_far, law.slope_below, law.slope_above) == (0.4, 2.0, 0.032, 0.3)
    assert math.isinf(preset("tio2-64x64-paper").pulse_law().knee)
    with pytest.raises(XbarsimInputError, match="knee_v"):
        device_config_from_dict(
            {"preset": "tio2-64x64-paper", "dynamics": {"kind": "three-piece", "knee_v": 0.0}}
        )


LAWS = {
    "saturating": ThreePieceDynamics(knee_v=0.15, slope_far_v=1.5),
    "steeper": ThreePieceDynamics(slope_below_v=0.05, knee_v=0.1, slope_far_v=0.08),
}


def _case(n: int, sigma: float, dynamics: object, seed: int, batch: int = 2):
    x = Crossbar.sample(_dev(sigma, dynamics), (n, n), batch=batch, seed=seed)
    t = np.random.default_rng(seed + 100).uniform(10e-6, 100e-6, (batch, n, n))
    return x, t


def _assert_same(a, b, rtol: float) -> None:
    np.testing.assert_array_equal(a.pulses, b.pulses)
    np.testing.assert_array_equal(a.abandoned, b.abandoned)
    np.testing.assert_array_equal(a.n_hs_per_pass, b.n_hs_per_pass)
    np.testing.assert_allclose(a.conductance, b.conductance, rtol=rtol, atol=0)
    for key in a.history:
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("law", sorted(LAWS))
@pytest.mark.parametrize("scheme", [BiasScheme.V2, BiasScheme.V3])
@pytest.mark.parametrize("sigma", [0.05, 0.25, 0.35])
@pytest.mark.parametrize("n", [4, 6])
def test_engines_agree_with_reference(n: int, sigma: float, scheme: BiasScheme, law: str) -> None:
    alg = WriteVerify.thesis(scheme=scheme, passes=3)
    res = {}
    for engine in ("reference", "cpu", "cpu-direct"):
        x, t = _case(n, sigma, LAWS[law], seed=n + int(100 * sigma))
        res[engine] = program(x, t, alg, engine=engine)
    _assert_same(res["reference"], res["cpu-direct"], rtol=1e-12)
    _assert_same(res["reference"], res["cpu"], rtol=1e-9)


@pytest.mark.parametrize("law", sorted(LAWS))
@pytest.mark.parametrize("sigma", [0.05, 0.25])
def test_lazy_equals_direct_at_32_and_the_far_piece_matters(law: str, sigma: float) -> None:
    """cpu equals cpu-direct on larger arrays, and the far piece changes the outcome
    (it is exercised, not skipped)."""
    alg = WriteVerify.thesis(passes=4)
    out = []
    for engine in ("cpu", "cpu-direct"):
        x, t = _case(32, sigma, LAWS[law], seed=7)
        out.append(program(x, t, alg, engine=engine))
    _assert_same(*out, rtol=1e-9)
    d = LAWS[law]
    two = TwoSlopeDynamics(slope_below_v=d.slope_below_v, slope_above_v=d.slope_above_v)
    x, t = _case(32, sigma, two, seed=7)
    base = program(x, t, alg, engine="cpu")
    assert not np.array_equal(base.conductance, out[0].conductance)


def test_far_slope_equal_to_above_gives_the_two_slope_pulse_counts() -> None:
    """The two-slope law is the special case: a three-piece law whose far slope equals the
    above slope tunes pulse for pulse like it (the far table and split index are used,
    so this checks their arithmetic against the two-slope tables)."""
    alg = WriteVerify.thesis(passes=3)
    two = TwoSlopeDynamics()
    three = ThreePieceDynamics(knee_v=0.2, slope_far_v=two.slope_above_v)
    for engine in ("cpu", "cpu-direct"):
        a = program(*_case(16, 0.25, two, seed=3), alg, engine=engine)
        b = program(*_case(16, 0.25, three, seed=3), alg, engine=engine)
        np.testing.assert_array_equal(a.pulses, b.pulses)
        np.testing.assert_allclose(a.conductance, b.conductance, rtol=1e-9, atol=0)

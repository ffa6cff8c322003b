"""The compiled engine's accumulated disturbances: vectorized lines, exact redo, counters."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.crossbar import BiasScheme, Crossbar
from xbarsim.devices import device_config_from_dict, preset
from xbarsim.programming import WriteVerify, program
from xbarsim.programming.compiled import (
    _POLY_MAX_DOSE,
    _crossbar_tables,
    _cum_dose,
    _first_reaching,
    _layout,
    _poly_neg_expm1,
    kernel_parameters,
)

DEV = preset("tio2-64x64-paper")
THREE_PIECE = device_config_from_dict(
    {"preset": "tio2-64x64-paper", "dynamics": {"kind": "three-piece", "knee_v": 0.1,
                                                "slope_far_v": 0.08}}
)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, max_value=_POLY_MAX_DOSE, exclude_max=True))
def test_polynomial_matches_expm1_to_rounding(dose):
    """1 - exp(-dose) by the vectorizable polynomial: within a few units in the last place."""
    exact = -math.expm1(-dose)
    assert abs(_poly_neg_expm1(dose) - exact) <= 4 * np.spacing(exact) + 1e-300


@pytest.mark.parametrize(
    ("device", "scheme", "sigma", "n"),
    [
        (DEV, BiasScheme.V2, 0.35, 24),  # many neighbours above threshold: the exact redo
        (DEV, BiasScheme.V3, 0.25, 10),  # the other devices, a block of rows at a time
        (THREE_PIECE, BiasScheme.V2, 0.25, 12),  # the far piece in the redo
        (THREE_PIECE, BiasScheme.V3, 0.25, 8),
    ],
)
def test_accumulated_equals_direct_within_1e12(device, scheme, sigma, n):
    """Closed-form ramps with vectorized line disturbances give the pulse-by-pulse engine's
    pulse counts, flags and conductances (relative 1e-12), over several seeds."""
    alg = WriteVerify.thesis(scheme=scheme, passes=3)
    for seed in (1, 2):
        x = Crossbar.sample(device.with_sigma(sigma), (n, n + 1), batch=2, seed=seed)
        t = np.random.default_rng(seed).uniform(10e-6, 100e-6, (2, n, n + 1))
        lazy = program(x.copy(), t, alg, engine="cpu")
        direct = program(x.copy(), t, alg, engine="cpu-direct")
        np.testing.assert_array_equal(lazy.pulses, direct.pulses)
        np.testing.assert_array_equal(lazy.ramps_per_pass, direct.ramps_per_pass)
        np.testing.assert_array_equal(lazy.n_hs_per_pass, direct.n_hs_per_pass)
        np.testing.assert_array_equal(lazy.hs_exposures_per_pass, direct.hs_exposures_per_pass)
        np.testing.assert_array_equal(lazy.abandoned, direct.abandoned)
        np.testing.assert_allclose(lazy.conductance, direct.conductance, rtol=1e-12, atol=0)
        np.testing.assert_allclose(lazy.pulse_v2_sum, direct.pulse_v2_sum, rtol=1e-12, atol=0)
        assert lazy.n_hs_ever.max() > 0.0  # the redo path (devices above threshold) ran


@pytest.mark.parametrize("scheme", [BiasScheme.V2, BiasScheme.V3])
@pytest.mark.parametrize(
    "extra", [{"leak_dose": 2e-4}, {"leak_dose": 1e-4, "cycle_to_cycle": 0.2}], ids=str
)
def test_device_family_on_the_flat_tables(extra, scheme):
    """A leak floor and cycle-to-cycle variation on crossbars large enough for the per-line
    candidate lists and the column-major other rows: the accumulated engine gives the
    pulse-by-pulse engine's pulse counts, per-pulse n_HS, V^2 sums and conductances."""
    device = device_config_from_dict({"preset": "tio2-64x64-paper", **extra}).with_sigma(0.35)
    alg = WriteVerify.thesis(scheme=scheme, passes=3)
    for seed in (1, 2):
        x = Crossbar.sample(device, (12, 13), batch=2, seed=seed)
        t = np.random.default_rng(seed).uniform(10e-6, 100e-6, (2, 12, 13))
        lazy = program(x.copy(), t, alg, engine="cpu")
        direct = program(x.copy(), t, alg, engine="cpu-direct")
        np.testing.assert_array_equal(lazy.pulses, direct.pulses)
        np.testing.assert_array_equal(lazy.n_hs_per_pass, direct.n_hs_per_pass)
        np.testing.assert_array_equal(lazy.hs_exposures_per_pass, direct.hs_exposures_per_pass)
        np.testing.assert_allclose(lazy.conductance, direct.conductance, rtol=1e-12, atol=0)
        np.testing.assert_allclose(lazy.pulse_v2_sum, direct.pulse_v2_sum, rtol=1e-12, atol=0)
        assert lazy.hs_exposures_per_pass.sum() > 0


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([DEV, THREE_PIECE]),
    st.floats(min_value=0.3, max_value=3.0),  # threshold (V)
    st.floats(min_value=1e-4, max_value=20.0),  # dose needed
    st.integers(min_value=0, max_value=1),  # polarity
)
def test_first_reaching_pulse_is_the_first_with_enough_dose(device, threshold, needed, polarity):
    """The geometric-series estimate, settled by exact comparisons, finds the first pulse
    whose cumulative dose reaches the dose needed: the one a pulse-by-pulse scan finds."""
    x = Crossbar.sample(device, (1, 1), seed=0)
    alg = WriteVerify.thesis()
    params = kernel_parameters(x, alg)
    v = np.full((1, 1), threshold)
    length = int(params["lengths"][0, polarity])
    max_len = np.array([length, int(params["lengths"][0, 1 - polarity])])
    ints, fl = _crossbar_tables(v, v, params["law"], params["alg"], params["fractions"], max_len,
                                params["tables"])
    t_len = params["tables"].shape[3]
    tab = _layout(1, 1)[0][5]
    at = polarity * 3  # [pol, fraction (selected), device]; size 1
    args = (ints[at], ints[6 + at], fl[2 + at], fl[3 + at], fl[4 + at], fl, tab + at * 3 * t_len,
            t_len)
    doses = [_cum_dose(n, *args) for n in range(length + 1)]
    assert np.all(np.diff(doses) >= 0.0)
    if doses[length] < needed:
        return
    scan = next(n for n in range(1, length + 1) if doses[n] >= needed)
    assert _first_reaching(needed, length, *args, tab + 18 * t_len + 9 * polarity) == scan


@pytest.mark.parametrize("engine", ["cpu", "cpu-direct"])
def test_a_run_without_history_programs_the_same(engine):
    """keep_history=False skips the per-pass statistics only: the same pulses, conductances
    and write power bit for bit, and history arrays without columns."""
    alg = WriteVerify.thesis(passes=3)
    x = Crossbar.sample(DEV.with_sigma(0.25), (7, 6), batch=3, seed=4)
    t = np.random.default_rng(4).uniform(10e-6, 100e-6, (3, 7, 6))
    kept = program(x.copy(), t, alg, engine=engine)
    lean = program(x.copy(), t, alg, engine=engine, keep_history=False, keep_pulse_v2=False)
    np.testing.assert_array_equal(lean.pulses, kept.pulses)
    np.testing.assert_array_equal(lean.conductance, kept.conductance)
    np.testing.assert_array_equal(lean.pulse_power_w, kept.pulse_power_w)
    np.testing.assert_array_equal(lean.n_hs_per_pass, kept.n_hs_per_pass)
    assert kept.history["p99"].shape == (3, 4)
    assert all(v.shape == (3, 0) for v in lean.history.values())
    assert lean.pulse_v2_sum is None


@pytest.mark.parametrize("engine", ["cpu", "reference"])
def test_a_run_without_a_conductance_copy_hands_over_the_crossbars_array(engine):
    alg = WriteVerify.thesis(passes=2)
    x = Crossbar.sample(DEV.with_sigma(0.25), (5, 6), batch=2, seed=6)
    t = np.random.default_rng(6).uniform(10e-6, 100e-6, (2, 5, 6))
    own, y = x.copy(), x.copy()
    copied = program(own, t, alg, engine=engine)
    shared = program(y, t, alg, engine=engine, copy_conductance=False)
    assert shared.conductance is y.conductance
    assert not np.shares_memory(copied.conductance, own.conductance)
    np.testing.assert_array_equal(shared.conductance, copied.conductance)

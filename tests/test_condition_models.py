"""Layer-1 operating-condition models: temperature, nonlinearity, retention, read noise,
stuck devices, eFlash synapse (spec E sections 1-4)."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from xbarsim.devices import (
    ArrheniusRetention,
    EflashNonlinearity,
    EflashPolyTemperature,
    EflashSubthresholdTemperature,
    EflashSynapse,
    ExtrapolationWarning,
    FaultCode,
    MemristorTemperature,
    PolynomialNonlinearity,
    ReadNoise,
    SinhNonlinearity,
    StuckFaults,
    device_config_from_dict,
)
from xbarsim.devices.read_noise import output_noise, sample_device_noise
from xbarsim.errors import XbarsimInputError

W0 = st.floats(0.1, 1.0)
TEMP = st.floats(25.0, 100.0)
NONLINEAR = [PolynomialNonlinearity(), SinhNonlinearity()]


# --- temperature -----------------------------------------------------------------------


@given(W0)
def test_temperature_change_is_zero_at_t0(w0):
    for model in (MemristorTemperature(), EflashPolyTemperature(), EflashSubthresholdTemperature()):
        assert model.relative_change(w0, 25.0) == 0.0


@given(w0=W0, temp=st.floats(26.0, 100.0))
def test_memristor_temperature_sign_flips_at_the_crossover(w0, temp):
    model = MemristorTemperature()
    change = float(model.relative_change(w0, temp))
    if w0 < 0.699:
        assert change > 0.0  # PTAT in low states
    elif w0 > 0.701:
        assert change < 0.0  # CTAT in high states


def test_memristor_temperature_defaults_match_the_spec_anchors():
    model = MemristorTemperature()
    assert model.crossover_s() == pytest.approx(70e-6, abs=0.1e-6)
    change = model.relative_change(np.array([0.1, 0.2, 0.5, 1.0]), 100.0)
    np.testing.assert_allclose(change, [0.450, 0.245, 0.071, -0.080], atol=6e-4)
    # the basis is {1, 1/w0, w0^2, w0^3} in percent
    custom = MemristorTemperature(p00=1.0, p10=0.0, p20=0.0, p30=0.0)
    assert custom.relative_change(0.5, 35.0) == pytest.approx(0.10)
    custom = MemristorTemperature(p00=0.0, p10=1.0, p20=0.0, p30=0.0)
    assert custom.relative_change(0.5, 35.0) == pytest.approx(0.20)
    assert MemristorTemperature(temp_scale=2.0).relative_change(0.1, 100.0) == pytest.approx(
        2 * model.relative_change(0.1, 100.0)
    )


@given(g=st.floats(10e-6, 100e-6), temp=TEMP)
def test_memristor_conductance_at_temperature_stays_positive_and_bounded(g, temp):
    g_t = float(MemristorTemperature().conductance_at(g, temp))
    assert 0.9 * g <= g_t <= 1.46 * g


def test_eflash_subthreshold_law_numbers():
    change = EflashSubthresholdTemperature().relative_change(np.array([0.1, 0.5, 0.7, 1.0]), 100.0)
    np.testing.assert_allclose(change, [0.589, 0.150, 0.074, 0.0], atol=1e-3)


def test_temperature_outside_fitted_range_warns_or_is_refused():
    model = MemristorTemperature()
    with pytest.warns(ExtrapolationWarning, match="temp_c"):
        model.relative_change(0.5, 120.0)
    with pytest.raises(XbarsimInputError, match=r"^temp_c: .*fitted on \[25, 100\]"):
        model.relative_change(0.5, 120.0, strict=True)
    with pytest.raises(XbarsimInputError, match=r"^w0: "):
        model.relative_change(0.05, 50.0, strict=True)
    with pytest.raises(XbarsimInputError, match=r"^temp_c: values must be finite"):
        model.relative_change(0.5, float("nan"))


# --- nonlinearity ----------------------------------------------------------------------


@pytest.mark.parametrize("model", NONLINEAR, ids=lambda m: m.kind)
@given(g=st.floats(10e-6, 100e-6))
def test_nonlinearity_error_is_zero_at_zero_and_at_the_tuning_input(model, g):
    assert model.current(g, 0.0) == 0.0
    assert model.current(g, model.v_tune_v) == pytest.approx(g * model.v_tune_v, rel=1e-12)


@pytest.mark.parametrize("model", NONLINEAR, ids=lambda m: m.kind)
@given(g=st.floats(10e-6, 100e-6), v=st.floats(0.001, 0.1))
def test_nonlinear_current_is_odd_and_close_to_linear(model, g, v):
    i = float(model.current(g, v))
    assert float(model.current(g, -v)) == -i
    assert 0.95 * g * v < i < 1.07 * g * v


@pytest.mark.parametrize("model", NONLINEAR, ids=lambda m: m.kind)
def test_matrix_product_path_equals_per_device_sum(model):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        g = rng.uniform(10e-6, 100e-6, (2, 16, 5))
        v = rng.uniform(-0.1, 0.1, (7, 16))
        per_device = model.current(g[:, None], v[None, :, :, None]).sum(axis=2)
        np.testing.assert_allclose(model.column_currents(v, g), per_device, rtol=1e-13, atol=0)


def test_nonlinearity_defaults_match_the_spec():
    sinh = SinhNonlinearity()
    # the paper's nonlinearity factors 0.5 I(V)/I(V/2) at 0.25 V
    for g, factor in ((10e-6, 1.3), (100e-6, 1.1)):
        ratio = 0.5 * sinh.current(g, 0.25) / sinh.current(g, 0.125)
        assert ratio == pytest.approx(factor, rel=1e-9)
    assert sinh.relative_error(10e-6, 1e-9) == pytest.approx(-0.022, abs=1e-3)
    assert sinh.relative_error(10e-6, 0.1) == pytest.approx(0.039, abs=1e-3)
    poly = PolynomialNonlinearity()
    g = np.linspace(10e-6, 100e-6, 10)[:, None]
    v = np.linspace(0.0, 0.1, 11)[None, :]
    misfit = np.abs(poly.current(g, v) - sinh.current(g, v))
    assert misfit.max() < 0.019e-6  # spec: within 0.018 uA


def test_nonlinearity_refuses_or_warns_outside_its_fitted_range():
    model = PolynomialNonlinearity()
    with pytest.raises(XbarsimInputError, match=r"^\|voltage\|: .*fitted on \[0, 0.1\] V"):
        model.current(50e-6, 0.2, strict=True)
    with pytest.raises(XbarsimInputError, match=r"^conductance: "):
        model.current(150e-6, 0.05, strict=True)
    with pytest.warns(ExtrapolationWarning):
        model.current(50e-6, 0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.current(50e-6, -0.1)


# --- retention -------------------------------------------------------------------------


@settings(max_examples=50)
@given(ea=st.floats(0.1, 2.0), use=st.floats(-20.0, 80.0), stress=st.floats(50.0, 200.0))
def test_arrhenius_acceleration_matches_closed_form(ea, use, stress):
    model = ArrheniusRetention(activation_energy_ev=ea)
    expected = math.exp(ea / 8.617333262e-5 * (1 / (use + 273.15) - 1 / (stress + 273.15)))
    assert model.acceleration(stress, use) == pytest.approx(expected, rel=1e-12)


def test_arrhenius_published_numbers():
    model = ArrheniusRetention()
    assert model.acceleration(100.0) == pytest.approx(5460, abs=1)
    assert model.equivalent_years(25.0, 100.0) == pytest.approx(15.57, abs=0.01)
    assert model.time_factor(14 * 365.25 * 24) == pytest.approx(1.0)
    assert model.time_factor(0.0) == 0.0


def test_retention_drift_direction_by_state_over_seeds():
    model = ArrheniusRetention()
    t14 = 14 * 365.25 * 24
    for seed in range(5):
        z = np.random.default_rng(seed).standard_normal(4000)
        low = model.relative_change(np.full(4000, 10e-6), z, t14)
        mid = model.relative_change(np.full(4000, 50e-6), z, t14)
        high = model.relative_change(np.full(4000, 100e-6), z, t14)
        assert low.mean() > 0.008 and high.mean() < -0.008
        assert abs(mid.mean()) < 0.001
        assert 0.9 < np.mean(np.abs(mid) < 0.02) < 0.97  # "most devices < 2 %"


@given(z=st.floats(-4, 4), g=st.floats(10e-6, 100e-6), t1=st.floats(0, 1e6), dt=st.floats(0, 1e6))
def test_retention_trajectory_grows_monotonically(z, g, t1, dt):
    model = ArrheniusRetention()
    e1 = float(model.relative_change(g, z, t1))
    e2 = float(model.relative_change(g, z, t1 + dt))
    assert abs(e2) >= abs(e1) - 1e-15 and e1 * e2 >= 0.0


def test_retention_bad_input():
    model = ArrheniusRetention()
    with pytest.raises(XbarsimInputError, match=r"^age_h: "):
        model.equivalent_hours(-1.0)
    with pytest.raises(XbarsimInputError, match=r"^bake_c: "):
        model.equivalent_hours(1.0, -300.0)


# --- read noise ------------------------------------------------------------------------


def test_output_noise_and_per_device_noise_agree_in_distribution():
    noise = ReadNoise(sigma_rel=0.05, scale_spread=0.5)
    pvalues = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        g = rng.uniform(10e-6, 100e-6, (1, 32, 4))
        sigma = noise.device_sigma(g, noise.draw_scale(g.shape, rng))
        v = np.tile(rng.uniform(0.0, 0.1, (1, 32)), (4000, 1))
        fast = output_noise(v, sigma, rng)[0, :, 0]
        slow = sample_device_noise(v, sigma, rng)[0, :, 0]
        expected = math.sqrt(float((v[0] ** 2) @ (sigma[0, :, 0] ** 2)))
        assert fast.std() == pytest.approx(expected, rel=0.05)
        assert slow.std() == pytest.approx(expected, rel=0.05)
        pvalues.append(stats.ks_2samp(fast, slow).pvalue)
    assert np.median(pvalues) > 0.05


def test_read_noise_scale_has_mean_one():
    scale = ReadNoise(sigma_rel=0.01, scale_spread=0.3).draw_scale(
        (200_000,), np.random.default_rng(0)
    )
    assert scale.mean() == pytest.approx(1.0, abs=0.005)
    assert scale.std() == pytest.approx(0.3, rel=0.02)


# --- stuck devices ---------------------------------------------------------------------


def test_stuck_rates_kinds_and_values_over_seeds():
    faults = StuckFaults(high_ppm=2e4, low_ppm=1e4, random_ppm=3e4)
    for seed in range(4):
        code, value = faults.draw((200, 200), np.random.default_rng(seed))
        n = code.size
        for kind, ppm in (
            (FaultCode.STUCK_HIGH, 2e4),
            (FaultCode.STUCK_LOW, 1e4),
            (FaultCode.STUCK_RANDOM, 3e4),
        ):
            p = ppm * 1e-6
            assert abs(np.mean(code == kind) - p) < 4 * math.sqrt(p * (1 - p) / n)
        assert np.all(value[code == FaultCode.STUCK_HIGH] == 100e-6)
        assert np.all(value[code == FaultCode.STUCK_LOW] == 10e-6)
        rand = value[code == FaultCode.STUCK_RANDOM]
        assert np.all((rand > 10e-6) & (rand < 100e-6))
        assert np.all(np.isnan(value[code == FaultCode.OK]))


def test_stuck_mixed_and_bad_ppm():
    assert StuckFaults.mixed(3e4).total_ppm == pytest.approx(3e4)
    for bad in ({"high_ppm": -1}, {"low_ppm": 2e6}, {"high_ppm": 6e5, "low_ppm": 6e5}):
        with pytest.raises(XbarsimInputError, match=r"conditions\.stuck"):
            device_config_from_dict({"preset": "tio2-64x64-paper", "conditions": {"stuck": bad}})


# --- eFlash synapse --------------------------------------------------------------------


def test_eflash_synapse_weight_is_the_current_ratio():
    syn = EflashSynapse()
    assert syn.weight(21e-9) == pytest.approx(0.7)
    out = syn.output_current(21e-9, np.array([0.0, 15e-9, 30e-9]))
    np.testing.assert_allclose(out, [0.0, 10.5e-9, 21e-9], rtol=1e-12)
    hot = syn.output_current(21e-9, 3e-9, temp_c=100.0)
    assert hot == pytest.approx(21e-9 * 0.1 * 1.5885, rel=1e-3)
    with pytest.raises(XbarsimInputError, match=r"^i_state_a: "):
        syn.weight(40e-9)


@given(w=st.floats(0.0, 1.0))
def test_eflash_nonlinearity_zero_at_zero_and_tuning_input(w):
    model = EflashNonlinearity(p01=0.1, p03=-0.2, p10=0.05, p20=0.3, p30=-0.1, p11=0.2, p22=0.1)
    assert model.error(w, 0.0) == 0.0
    assert model.error(w, 0.7) == 0.0

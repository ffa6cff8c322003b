"""Layer 1: pulse law properties, threshold sampling, config validation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.devices import DeviceConfig, ExponentialDynamics, preset, sample_devices
from xbarsim.errors import XbarsimInputError

LAW = preset("tio2-64x64-paper").pulse_law()
conductance = st.floats(LAW.g_min, LAW.g_max)
voltage = st.floats(-4.0, 4.0)
threshold = st.floats(0.2, 3.0)


@given(g=conductance, v=voltage, vs=threshold, vr=threshold)
def test_conductance_stays_within_bounds(g, v, vs, vr):
    out = LAW.pulse(g, v, vs, vr)
    slack = 1e-12 * LAW.g_max  # rounding of the soft-bound update
    assert LAW.g_min - slack <= out <= LAW.g_max + slack


@given(g=conductance, vs=threshold, vr=threshold)
def test_zero_volt_pulse_changes_nothing(g, vs, vr):
    assert LAW.pulse(g, 0.0, vs, vr) == g


@given(g=st.floats(2e-6, 190e-6), v=st.floats(0.05, 4.0), vs=threshold, vr=threshold)
def test_set_raises_and_reset_lowers(g, v, vs, vr):
    assert LAW.pulse(g, v, vs, vr) >= g
    assert LAW.pulse(g, -v, vs, vr) <= g


@given(g=st.floats(2e-6, 150e-6), v=st.floats(0.3, 4.0), vs=threshold)
def test_half_selected_device_changes_less_than_selected(g, v, vs):
    full = LAW.pulse(g, v, vs, vs) - g
    half = LAW.pulse(g, v / 2, vs, vs) - g
    assert 0.0 <= half <= full
    assert half < full or full == 0.0


@given(g=conductance, a=st.floats(0.0, 0.5), b=st.floats(0.0, 0.5))
@settings(max_examples=200)
def test_same_polarity_doses_compose(g, a, b):
    two = LAW.apply_set(LAW.apply_set(g, a), b)
    one = LAW.apply_set(g, a + b)
    assert math.isclose(two, one, rel_tol=1e-12)


@given(v1=st.floats(0.3, 3.0), dv=st.floats(0.001, 1.0), vs=threshold)
def test_dose_rises_with_amplitude(v1, dv, vs):
    assert LAW.dose(v1 + dv, vs, LAW.d0_set) > LAW.dose(v1, vs, LAW.d0_set)


def test_pulse_at_threshold_moves_reference_device_by_criterion():
    dev = preset("tio2-64x64-paper")
    g0 = dev.set_reference_s
    g1 = LAW.pulse(g0, 1.0, 1.0, 1.0)
    assert g1 / g0 - 1 == pytest.approx(dev.threshold_change, rel=1e-12)
    g0 = dev.reset_reference_s
    g1 = LAW.pulse(g0, -1.3, 9.0, 1.3)
    assert 1 - g1 / g0 == pytest.approx(dev.threshold_change, rel=1e-12)


def test_unswitchable_device_never_moves():
    assert LAW.pulse(50e-6, 3.0, np.inf, np.inf) == 50e-6


def test_threshold_statistics_and_faults_match_config():
    dev = preset("tio2-64x64-paper")
    s = sample_devices(dev, (200, 200), np.random.default_rng(3))
    ok = ~s.unswitchable
    assert s.v_set[ok].mean() == pytest.approx(1.19, rel=0.01)
    assert s.v_set[ok].std() == pytest.approx(0.31, rel=0.03)
    assert s.v_reset[ok].mean() == pytest.approx(1.39, rel=0.01)
    assert s.v_reset[ok].std() == pytest.approx(0.37, rel=0.03)
    assert np.corrcoef(np.log(s.v_set[ok]), np.log(s.v_reset[ok]))[0, 1] == pytest.approx(
        0.7, abs=0.02
    )
    assert s.unswitchable.mean() == pytest.approx(0.011, abs=1e-4)
    # scattered, not whole lines
    assert s.unswitchable.sum(axis=1).max() < 10
    assert np.all(s.conductance[s.unswitchable] == dev.g_min_s)


def test_with_sigma_sets_normalized_spread():
    dev = preset("thesis-uniformity").with_sigma(0.05)
    assert dev.thresholds.set_sigma == pytest.approx(0.05)
    assert dev.thresholds.reset_sigma == pytest.approx(0.05)
    with pytest.raises(XbarsimInputError, match="sigma"):
        dev.with_sigma(-0.1)
    with pytest.raises(XbarsimInputError, match="sigma"):
        dev.with_sigma(float("nan"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"g_min_s": 100e-6, "g_max_s": 50e-6}, "g_max_s must exceed g_min_s"),
        ({"g_min_s": -1e-6}, "g_min_s"),
        ({"thresholds": {"set_std_v": -0.1}}, "set_std_v"),
        ({"thresholds": {"set_mean_v": float("nan")}}, "set_mean_v"),
        ({"faults": {"unswitchable_fraction": 1.5}}, "unswitchable_fraction"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_invalid_config_names_the_field(fields, message):
    from xbarsim.devices import device_config_from_dict

    with pytest.raises(XbarsimInputError, match=message) as info:
        device_config_from_dict({"preset": "tio2-64x64-paper", **fields})
    assert "\n" not in str(info.value)


def test_unknown_preset_lists_allowed():
    with pytest.raises(XbarsimInputError, match="tio2-64x64-paper"):
        preset("no-such-device")


def test_exponential_model_behind_the_same_interface():
    dev = DeviceConfig(dynamics=ExponentialDynamics(slope_v=0.05))
    law = dev.pulse_law()
    assert law.slope_below == law.slope_above == 0.05

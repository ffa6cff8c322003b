"""Layer 1: the wider device model family (threshold distributions, leak floor)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.devices import DeviceConfig, preset, sample_devices
from xbarsim.devices.config import device_config_from_dict
from xbarsim.devices.sampling import sample_thresholds, truncated_normal_parameters
from xbarsim.errors import XbarsimInputError

BASE = preset("tio2-64x64-paper")
SEEDS = range(5)


def test_default_fields_are_todays_model():
    dev = DeviceConfig()
    assert dev.threshold_distribution == "lognormal"
    assert dev.leak_dose == 0.0
    assert dev.cycle_to_cycle == 0.0
    assert dev.pulse_law().leak_dose == 0.0


def test_lognormal_is_the_default_sampling_bit_for_bit():
    explicit = BASE.model_copy(update={"threshold_distribution": "lognormal"})
    a = sample_devices(BASE, (16, 16), np.random.default_rng(3))
    b = sample_devices(explicit, (16, 16), np.random.default_rng(3))
    np.testing.assert_array_equal(a.v_set, b.v_set)
    np.testing.assert_array_equal(a.v_reset, b.v_reset)
    np.testing.assert_array_equal(a.conductance, b.conductance)


@pytest.mark.parametrize("distribution", ["lognormal", "normal", "truncated_normal"])
@pytest.mark.parametrize("sigma", [0.25, 0.5])
def test_every_distribution_has_the_configured_moments(distribution, sigma):
    stats = BASE.thresholds.with_sigma(sigma)
    for seed in SEEDS:
        v_set, v_reset = sample_thresholds(
            stats, (300, 300), np.random.default_rng(seed), distribution
        )
        for values, mean, std in (
            (v_set, stats.set_mean_v, stats.set_std_v),
            (v_reset, stats.reset_mean_v, stats.reset_std_v),
        ):
            assert values.mean() == pytest.approx(mean, rel=0.01)
            assert values.std() == pytest.approx(std, rel=0.02)
        if distribution == "truncated_normal":
            assert v_set.min() > 0.0 and v_reset.min() > 0.0


def test_normal_keeps_the_correlation_and_draws_the_same_normals():
    stats = BASE.thresholds.with_sigma(0.25)
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        v_set, v_reset = sample_thresholds(stats, (200, 200), rng, "normal")
        r = np.corrcoef(v_set.ravel(), v_reset.ravel())[0, 1]
        assert r == pytest.approx(stats.correlation, abs=0.01)
        log_set, _ = sample_thresholds(stats, (200, 200), np.random.default_rng(seed))
        # one copula: the same device is high (low) in every distribution
        order = np.argsort(v_set.ravel())
        assert np.all(np.diff(log_set.ravel()[order]) >= 0.0)


def test_normal_can_go_negative_and_truncated_cannot():
    stats = BASE.thresholds.with_sigma(0.6)
    normal, _ = sample_thresholds(stats, (200, 200), np.random.default_rng(1), "normal")
    trunc, _ = sample_thresholds(stats, (200, 200), np.random.default_rng(1), "truncated_normal")
    assert normal.min() < 0.0
    assert trunc.min() > 0.0


@given(cv=st.floats(0.001, 0.97))
@settings(max_examples=50, deadline=None)
def test_truncated_parent_reproduces_mean_and_std(cv):
    from scipy.stats import truncnorm

    mu, sigma = truncated_normal_parameters(1.3, 1.3 * cv)
    dist = truncnorm(-mu / sigma, np.inf, loc=mu, scale=sigma)
    assert dist.mean() == pytest.approx(1.3, rel=1e-6)
    assert dist.std() == pytest.approx(1.3 * cv, rel=1e-6)


def test_truncated_normal_refuses_std_above_mean():
    with pytest.raises(XbarsimInputError, match="std below its mean"):
        device_config_from_dict(
            {
                "threshold_distribution": "truncated_normal",
                "thresholds": {"set_std_v": 1.5, "set_mean_v": 1.2},
            }
        )
    with pytest.raises(XbarsimInputError, match="must be below its mean"):
        truncated_normal_parameters(1.0, 1.0)


@pytest.mark.parametrize(
    "field, value",
    [("leak_dose", -1e-6), ("cycle_to_cycle", -0.1), ("threshold_distribution", "uniform")],
)
def test_new_fields_are_validated(field, value):
    with pytest.raises(XbarsimInputError, match=field):
        device_config_from_dict({field: value})


LEAKY = BASE.model_copy(update={"leak_dose": 1e-4}).pulse_law()
conductance = st.floats(BASE.g_min_s, BASE.g_max_s)
threshold = st.floats(0.2, 3.0)


@given(g=conductance, v=st.floats(0.01, 4.0), vs=threshold, vr=threshold)
def test_leak_only_moves_toward_the_polarity_bound(g, v, vs, vr):
    plain = BASE.pulse_law()
    up, down = LEAKY.pulse(g, v, vs, vr), LEAKY.pulse(g, -v, vs, vr)
    assert plain.pulse(g, v, vs, vr) <= up <= BASE.g_max_s * (1 + 1e-12)
    assert BASE.g_min_s * (1 - 1e-12) <= down <= plain.pulse(g, -v, vs, vr)


@given(v=st.floats(0.01, 4.0), vs=threshold, n=st.integers(1, 50))
def test_leak_is_additive_and_spares_unswitchable_and_zero_pulses(v, vs, n):
    plain = BASE.pulse_law()
    doses = LEAKY.dose(np.full(n, v), vs, LEAKY.d0_set)
    base = plain.dose(np.full(n, v), vs, plain.d0_set)
    assert math.isclose(doses.sum(), base.sum() + n * 1e-4, rel_tol=1e-12)
    assert LEAKY.dose(v, math.inf, LEAKY.d0_set) == 0.0
    assert LEAKY.dose(0.0, vs, LEAKY.d0_set) == 0.0

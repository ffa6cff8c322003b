"""Crossbars at operating conditions: Crossbar.at(...) views (layer 2)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from xbarsim.crossbar import Crossbar
from xbarsim.devices import ExtrapolationWarning, device_config_from_dict
from xbarsim.errors import XbarsimInputError

YEAR_H = 365.25 * 24


def device(**conditions):
    return device_config_from_dict({"preset": "tio2-64x64-paper", "conditions": conditions})


def programmed(dev=None, batch=2, size=16, seed=1, first_index=0):
    dev = device() if dev is None else dev
    x = Crossbar.sample(dev, (size, size), batch=batch, seed=seed, first_index=first_index)
    rng = np.random.default_rng(100 + seed)
    x.conductance[...] = rng.uniform(10e-6, 100e-6, x.conductance.shape)
    return x


def test_nominal_view_without_nonlinearity_or_noise_is_the_ideal_crossbar():
    x = programmed()
    v = np.random.default_rng(0).uniform(0, 0.1, (5, 16))
    view = x.at(nonlinear=False)
    np.testing.assert_array_equal(view.conductance, x.conductance)
    np.testing.assert_allclose(view.vmm(v), x.vmm(v), rtol=1e-14)
    with pytest.raises(ValueError):
        view.conductance[0, 0, 0] = 1.0  # read-only


def test_bake_and_room_temperature_years_are_one_clock():
    x = programmed()
    baked = x.at(age_h=25.0, bake_c=100.0)
    factor = x.device.conditions.retention.acceleration(100.0)
    room = x.at(age_h=25.0 * factor)
    np.testing.assert_allclose(baked.conductance, room.conductance, rtol=1e-14)
    assert baked.equivalent_hours / YEAR_H == pytest.approx(15.57, abs=0.01)


def test_one_trajectory_across_calls_and_views():
    x = programmed()
    a = x.at(age_h=1000.0).at(age_h=2000.0, bake_c=85.0)
    b = x.at(age_h=1000.0 + 2000.0 * x.device.conditions.retention.acceleration(85.0))
    np.testing.assert_allclose(a.conductance, b.conductance, rtol=1e-13)
    # same device, same trajectory: drift grows monotonically in time and keeps its sign
    g0 = x.conductance
    earlier = x.at(age_h=YEAR_H).conductance - g0
    later = x.at(age_h=10 * YEAR_H).conductance - g0
    assert np.all(np.abs(later) >= np.abs(earlier)) and np.all(earlier * later >= 0)
    # a copy (or a fresh draw of the same crossbar) follows the same trajectory
    again = programmed()
    np.testing.assert_array_equal(
        again.at(age_h=YEAR_H).conductance, x.at(age_h=YEAR_H).conductance
    )
    # the temperature is reversible: back at T0 the state is the aged one
    hot = x.at(temp_c=85.0, age_h=YEAR_H)
    assert not np.allclose(hot.conductance, x.at(age_h=YEAR_H).conductance)
    np.testing.assert_array_equal(hot.at(temp_c=25.0).conductance, x.at(age_h=YEAR_H).conductance)


def test_conditions_keep_conductances_in_device_bounds():
    x = programmed()
    x.conductance[0, 0, :4] = [x.device.g_min_s, x.device.g_max_s, 5e-6, 150e-6]
    with pytest.warns(ExtrapolationWarning):
        g = x.at(temp_c=100.0, age_h=1e7).conductance
    assert np.all(g >= x.device.g_min_s) and np.all(g <= x.device.g_max_s)


def test_vmm_matrix_path_equals_per_device_reference_without_noise():
    for kind in ("thesis-poly", "sinh"):
        x = programmed(device(nonlinearity={"kind": kind}))
        v = np.random.default_rng(2).uniform(-0.1, 0.1, (6, 16))
        view = x.at(temp_c=60.0, age_h=YEAR_H)
        np.testing.assert_allclose(view.vmm(v), view.vmm_reference(v), rtol=1e-12)
        assert view.vmm(v[0]).shape == (2, 16)


def test_read_noise_at_output_agrees_in_distribution_with_per_device_sampling():
    dev = device(read_noise={"sigma_rel": 0.05, "scale_spread": 0.3})
    pvalues = []
    for seed in range(4):
        x = programmed(dev, batch=1, seed=seed)
        v = np.tile(np.random.default_rng(seed).uniform(0, 0.1, 16), (3000, 1))
        view = x.at(nonlinear=False, seed=seed)
        fast = view.vmm(v)[0, :, 3]
        slow = view.vmm_reference(v)[0, :, 3]
        pvalues.append(stats.ks_2samp(fast, slow).pvalue)
        sigma = view.noise_sigma()[0, :, 3]
        expected = np.sqrt(np.sum(sigma**2 * v[0] ** 2))
        assert fast.std() == pytest.approx(expected, rel=0.06)
        assert fast.mean() == pytest.approx(
            float(v[0] @ x.conductance[0, :, 3]), abs=4 * expected / 50
        )
    assert min(pvalues) > 0.001 and np.median(pvalues) > 0.05


def test_read_noise_is_reproducible_and_independent_of_batching():
    dev = device(read_noise={"sigma_rel": 0.02})
    v = np.random.default_rng(0).uniform(0, 0.1, (4, 16))
    both = programmed(dev, batch=2, seed=7)
    second = Crossbar.sample(dev, (16, 16), batch=1, seed=7, first_index=1)
    second.conductance[...] = both.conductance[1:]
    a = both.at(seed=3).vmm(v)
    b = second.at(seed=3).vmm(v)
    np.testing.assert_array_equal(a[1], b[0])
    np.testing.assert_array_equal(both.at(seed=3).vmm(v), a)
    view = both.at(seed=3)
    assert not np.array_equal(view.vmm(v), view.vmm(v))  # a fresh draw per read
    reads = both.at(seed=1).read(0.05)
    assert reads.shape == both.conductance.shape and not np.array_equal(reads, both.read(0.05))


def test_bad_conditions_are_refused_with_one_line():
    x = programmed()
    with pytest.raises(XbarsimInputError, match=r"^age_h: must be >= 0"):
        x.at(age_h=-1.0)
    with pytest.raises(XbarsimInputError, match=r"^temp_c: must be finite"):
        x.at(temp_c=float("nan"))
    with pytest.raises(XbarsimInputError, match=r"^temp_c: temperature model was fitted"):
        x.at(temp_c=130.0, strict=True)
    with pytest.warns(ExtrapolationWarning, match="temp_c"):
        x.at(temp_c=130.0)
    with pytest.raises(XbarsimInputError, match=r"^\|voltage\|: "):
        x.at(strict=True).vmm(np.full(16, 0.2))
    with pytest.raises(XbarsimInputError, match=r"^voltages: last axis"):
        x.at().vmm(np.zeros(5))
    with pytest.raises(XbarsimInputError, match=r"^seed: "):
        x.at(seed=-1)


HYPO_XBARS = programmed(batch=1, size=8, seed=11)


@settings(max_examples=40, deadline=None)
@given(
    temp=st.floats(25.0, 100.0),
    age=st.floats(0.0, 1e7),
    bake=st.floats(20.0, 150.0),
    later=st.floats(0.0, 1e6),
)
def test_any_conditions_keep_bounds_and_one_clock(temp, age, bake, later):
    x = HYPO_XBARS
    view = x.at(temp_c=temp, age_h=age, bake_c=bake)
    g = view.conductance
    assert np.all(g >= x.device.g_min_s) and np.all(g <= x.device.g_max_s)
    factor = x.device.conditions.retention.acceleration(bake)
    chained = view.at(age_h=later).conductance
    direct = x.at(temp_c=temp, age_h=age * factor + later).conductance
    np.testing.assert_allclose(chained, direct, rtol=1e-12)


def test_stuck_devices_hold_their_value_at_every_condition_without_warnings():
    device = device_config_from_dict(
        {
            "preset": "tio2-64x64-paper",
            "conditions": {
                "stuck": {"high_ppm": 3e4, "low_ppm": 3e4, "g_low_s": 1e-6, "g_high_s": 200e-6}
            },
        }
    )
    for seed in range(3):
        xbars = Crossbar.sample(device, (16, 16), 2, seed)
        stuck = xbars.device_state.stuck
        assert stuck.any() and not stuck.all()
        xbars.conductance[...] = np.where(stuck, xbars.device_state.stuck_s, 50e-6)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ExtrapolationWarning)
            hot = xbars.at(temp_c=85.0, age_h=8760.0).conductance
        assert np.array_equal(hot[stuck], xbars.conductance[stuck])
        assert np.all(hot[~stuck] != 50e-6)  # working devices drift and follow temperature

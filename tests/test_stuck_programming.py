"""Stuck devices as programming sees them: every engine pulses them alike (layer 2-3).

The GPU kernel is checked on stuck devices in tests/test_gpu.py (CUDA simulator).
"""

import warnings

import numpy as np
import pytest

from xbarsim.crossbar import Crossbar
from xbarsim.devices import FaultCode, device_config_from_dict, preset
from xbarsim.programming import StuckDevicesWarning, WriteVerify, program
from xbarsim.programming.faults import fault_report

STUCK = {"high_ppm": 5e4, "low_ppm": 5e4, "random_ppm": 5e4}


def stuck_device(**stuck: float):
    return device_config_from_dict({"preset": "tio2-64x64-paper", "conditions": {"stuck": stuck}})


def test_state_draw_leaves_existing_draws_bit_identical():
    plain = Crossbar.sample(preset("tio2-64x64-paper"), (12, 12), batch=3, seed=4, first_index=1)
    faulty = Crossbar.sample(stuck_device(**STUCK), (12, 12), batch=3, seed=4, first_index=1)
    ok = faulty.fault <= FaultCode.UNSWITCHABLE
    assert np.array_equal(plain.conductance[ok], faulty.conductance[ok])
    assert np.array_equal(plain.v_set[ok], faulty.v_set[ok])
    assert np.array_equal(plain.unswitchable, faulty.unswitchable)
    # the state is per crossbar: the same whatever batch it was drawn in
    alone = Crossbar.sample(stuck_device(**STUCK), (12, 12), batch=1, seed=4, first_index=2)
    assert np.array_equal(alone.fault[0], faulty.fault[1])
    assert np.array_equal(alone.device_state.drift_z[0], faulty.device_state.drift_z[1])
    assert np.array_equal(alone.conductance[0], faulty.conductance[1])


def test_stuck_devices_sit_at_their_value_with_infinite_thresholds():
    x = Crossbar.sample(stuck_device(**STUCK), (40, 40), batch=2, seed=0)
    high = x.fault == FaultCode.STUCK_HIGH
    low = x.fault == FaultCode.STUCK_LOW
    assert high.any() and low.any()
    assert np.all(x.conductance[high] == 100e-6) and np.all(x.conductance[low] == 10e-6)
    stuck = x.device_state.stuck
    assert np.all(np.isinf(x.v_set[stuck])) and not x.unswitchable[stuck].any()
    assert np.all(x.fault[x.unswitchable] == FaultCode.UNSWITCHABLE)


@pytest.mark.parametrize(("abandon", "detect"), [(True, True), (False, True), (False, False)])
def test_engines_program_stuck_devices_identically(abandon, detect):
    x = Crossbar.sample(stuck_device(**STUCK), (6, 6), batch=2, seed=3)
    assert x.device_state.stuck.sum() >= 5
    t = np.random.default_rng(0).uniform(10e-6, 100e-6, (2, 6, 6))
    alg = WriteVerify.thesis(passes=3, abandon_at_cap=abandon, stuck_detection=detect)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StuckDevicesWarning)
        runs = {
            e: program(x.copy(), t, alg, engine=e) for e in ("reference", "cpu", "cpu-direct")
        }
    ref = runs["reference"]
    for engine in ("cpu", "cpu-direct"):
        other = runs[engine]
        np.testing.assert_array_equal(other.pulses, ref.pulses)
        np.testing.assert_array_equal(other.abandoned, ref.abandoned)
        np.testing.assert_array_equal(other.stuck, ref.stuck)
        np.testing.assert_array_equal(other.n_hs_per_pass, ref.n_hs_per_pass)
        np.testing.assert_allclose(other.conductance, ref.conductance, rtol=1e-12, atol=0)
    stuck = x.device_state.stuck
    missed = stuck & (np.abs(x.conductance - t) > 0.01 * t)
    # they take their ramps to the cap, never move, and are reported
    ramp = alg.ramp_length(1)
    assert np.all(ref.pulses[missed] >= ramp)
    assert np.array_equal(ref.conductance[stuck], x.conductance[stuck])
    # seen stuck exactly where they are stuck and out of tolerance, with or without the rule
    assert np.array_equal(ref.stuck, missed)
    # abandoned after one ramp with either rule; retried in every pass without both
    one_ramp = abandon or detect
    expected = ref.pulses[missed] == (ramp if one_ramp else alg.passes * ramp)
    assert np.all(expected)
    assert np.array_equal(ref.abandoned[missed], np.full(missed.sum(), one_ramp))
    report = fault_report(x, ref)
    assert np.array_equal(report.detected, missed)
    assert np.array_equal(report.declared, missed)
    assert report.pulses_on_stuck.sum() == ref.pulses[stuck].sum()
    assert report.counts()["detected"].sum() == missed.sum()
    assert report.counts()["declared_stuck"].sum() == missed.sum()
    # and their pulses disturb neighbours: marking them unswitchable (skipped) changes others
    skipped = x.copy()
    skipped.unswitchable |= stuck
    alt = program(skipped, t, alg, engine="cpu")
    assert not np.array_equal(alt.conductance[~stuck], ref.conductance[~stuck])


def test_warns_at_the_users_line_when_stuck_devices_are_retried():
    x = Crossbar.sample(stuck_device(**STUCK), (6, 6), batch=1, seed=3)
    t = np.random.default_rng(0).uniform(10e-6, 100e-6, (1, 6, 6))
    off = WriteVerify.thesis(passes=2, stuck_detection=False)
    with pytest.warns(StuckDevicesWarning, match="stuck_detection off") as record:
        program(x.copy(), t, off, engine="cpu")
    assert len(record) == 1 and record[0].filename == __file__
    assert "\n" not in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        program(x.copy(), t, WriteVerify.thesis(passes=2), engine="cpu")  # the default: silent
        program(x.copy(), t, off.model_copy(update={"abandon_at_cap": True}), engine="cpu")


def test_stuck_rule_spares_disturbance_of_neighbours():
    """Abandoned after one ramp, a stuck device no longer ramps its row and column to half
    the 5 V bound in later passes: the working devices end closer to their targets."""
    worse = 0
    for seed in range(5):
        x = Crossbar.sample(stuck_device(random_ppm=2e4), (12, 12), batch=1, seed=seed)
        t = np.random.default_rng(seed).uniform(10e-6, 100e-6, (1, 12, 12))
        ok = ~x.device_state.stuck
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StuckDevicesWarning)
            on = program(x.copy(), t, WriteVerify.thesis(), engine="cpu")
            off = program(x.copy(), t, WriteVerify.thesis(stuck_detection=False), engine="cpu")
        assert on.total_pulses < off.total_pulses or not on.stuck.any()
        worse += on.error[ok].max() > off.error[ok].max()
    assert worse == 0


def test_port_driven_write_verify_applies_the_rule_like_the_reference_engine():
    from xbarsim.crossbar.bias import BiasScheme
    from xbarsim.programming.port import DirectPort, program_port

    x = Crossbar.sample(stuck_device(**STUCK), (6, 6), batch=1, seed=3)
    t = np.random.default_rng(0).uniform(10e-6, 100e-6, (6, 6))
    alg = WriteVerify.thesis(passes=3)
    ref = program(x.copy(), t, alg, engine="reference")
    assert ref.stuck.any()
    port, _ = program_port(DirectPort(x.copy(), 0, BiasScheme.V2), t, alg, skip=x.unswitchable[0])
    np.testing.assert_array_equal(port.stuck, ref.stuck)
    np.testing.assert_array_equal(port.abandoned, ref.abandoned)
    np.testing.assert_array_equal(port.pulses, ref.pulses)
    np.testing.assert_array_equal(port.conductance, ref.conductance)

"""Programming energy and time from the pulse amplitudes every engine records per device."""

import dataclasses

import numpy as np
import pytest

from xbarsim.chip.activity_cost import run_programming_cost
from xbarsim.chip.cost import (
    CostParameters,
    estimate_programming_cost,
    logged_programming_cost,
    programming_cost,
)
from xbarsim.crossbar import Crossbar
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.programming import WriteVerify, program
from xbarsim.programming.algorithm import ramp_square_sum
from xbarsim.programming.improved import ImprovedTuning, program_improved
from xbarsim.programming.port import DirectPort, program_port
from xbarsim.programming.result import ProgramResult

DEV = preset("tio2-64x64-paper")


@pytest.mark.parametrize("n", [0, 1, 2, 7, 451])
@pytest.mark.parametrize(("start", "step"), [(0.5, 0.01), (0.5, 0.008), (1.1, 0.004)])
def test_ramp_square_sum_is_the_sum_of_the_grid_squares(n, start, step):
    alg = WriteVerify(ramp_start_v=start, step_set_v=step, step_reset_v=step)
    expected = sum(alg.amplitude(1, k) ** 2 for k in range(n))
    assert ramp_square_sum(n, start, step) == pytest.approx(expected, rel=1e-13, abs=0)


@pytest.mark.parametrize(
    ("alg", "sigma"),
    [
        (WriteVerify.thesis(passes=3), 0.25),
        (WriteVerify.thesis(passes=2, scheme=BiasScheme.V3), 0.05),
        (WriteVerify.paper(), 0.25),  # set and reset steps differ, abandoning at the cap
    ],
)
def test_every_engine_records_the_same_squared_amplitudes(alg, sigma):
    """Reference (pulse by pulse), compiled (closed form per ramp, both modes) and the port
    (from its log) agree within 1e-12; the port and the reference bit for bit."""
    for seed in (1, 2, 3):
        x = Crossbar.sample(DEV.with_sigma(sigma), (6, 7), batch=2, seed=seed)
        t = np.random.default_rng(seed).uniform(10e-6, 100e-6, (2, 6, 7))
        ref = program(x.copy(), t, alg, engine="reference")
        assert ref.pulse_v2_sum is not None and ref.pulse_v2_sum.max() > 0.0
        assert np.all((ref.pulse_v2_sum > 0) == (ref.pulses > 0))
        # every pulse lies between the ramp start and the cap
        assert np.all(ref.pulse_v2_sum >= ref.pulses * alg.ramp_start_v**2)
        assert np.all(ref.pulse_v2_sum <= ref.pulses * alg.max_amplitude_v**2 * (1 + 1e-12))
        for engine in ("cpu", "cpu-direct"):
            res = program(x.copy(), t, alg, engine=engine)
            np.testing.assert_array_equal(res.pulses, ref.pulses)
            np.testing.assert_allclose(res.pulse_v2_sum, ref.pulse_v2_sum, rtol=1e-12, atol=0)
        port, _ = program_port(DirectPort(x.copy(), 1, alg.scheme), t[1], alg,
                               skip=x.unswitchable[1])
        np.testing.assert_array_equal(port.pulse_v2_sum[0], ref.pulse_v2_sum[1])
        np.testing.assert_array_equal(ref.initial_conductance, x.conductance)


def test_improved_tuning_sums_its_runs():
    x = Crossbar.sample(DEV.with_sigma(0.1), (5, 5), batch=2, seed=4)
    t = np.random.default_rng(4).uniform(20e-6, 90e-6, (2, 5, 5))
    tuning = ImprovedTuning(base=WriteVerify.thesis(passes=2), prestage=False)
    a = program_improved(x.copy(), t, tuning, engine="cpu")
    b = program_improved(x.copy(), t, tuning, engine="reference")
    np.testing.assert_array_equal(a.pulses, b.pulses)
    np.testing.assert_allclose(a.pulse_v2_sum, b.pulse_v2_sum, rtol=1e-12, atol=0)
    assert np.all(a.pulse_v2_sum >= a.pulses * 0.25)  # every pulse at 0.5 V or more
    np.testing.assert_array_equal(a.initial_conductance, x.conductance)


def _two_by_two(initial: np.ndarray | None) -> ProgramResult:
    target = np.array([[[10e-6, 20e-6], [30e-6, 40e-6]]])
    return ProgramResult(
        target=target,
        conductance=target.copy(),
        pulses=np.array([[[2, 0], [1, 3]]]),
        abandoned=np.zeros((1, 2, 2), bool),
        unswitchable=np.array([[[False, False], [False, True]]]),
        tolerance=0.01,
        history={},
        pulses_per_pass=np.array([[4, 2]]),
        n_hs_per_pass=np.zeros((1, 2)),
        n_hs_ever=np.zeros(1),
        engine="by hand",
        pulse_v2_sum=np.array([[[0.5, 0.0], [0.36, 1.0]]]),
        initial_conductance=initial,
    )


def test_two_by_two_by_hand():
    """A 2 x 2 array under V/2, computed by hand: device (0, 0) saw S = 0.5 V^2, (1, 0)
    0.36 V^2, (1, 1) 1.0 V^2 (device (0, 1) no pulse)."""
    p = CostParameters(pulse_width_s=1e-3, read_time_s=10e-6, read_voltage_v=0.25,
                       g_avg_s=50e-6)
    alg = WriteVerify.thesis()  # V/2: line fraction 1/2, others 0
    cost = logged_programming_cost(_two_by_two(None), alg, p)
    u = 1e-6
    # (0,0): selected 10 uS; its row holds 20 uS, its column 30 uS -> 0.5 (10 + (50) / 4)
    # (1,0): selected 30 uS; row 40 uS, column 10 uS                -> 0.36 (30 + 50 / 4)
    # (1,1): selected 40 uS; row 30 uS, column 20 uS                -> 1.0 (40 + 50 / 4)
    selected = (0.5 * 10 + 0.36 * 30 + 1.0 * 40) * u * 1e-3
    half = (0.5 * 50 + 0.36 * 50 + 1.0 * 50) / 4 * u * 1e-3
    reads = 6 + 3 * 2  # a read after each pulse, and each switchable device once per pass
    read = reads * 0.25**2 * 50e-6 * 10e-6
    assert cost["programming_energy_breakdown_j"]["selected"] == pytest.approx(selected, 1e-12)
    assert cost["programming_energy_breakdown_j"]["half-selected"] == pytest.approx(half, 1e-12)
    assert cost["programming_energy_breakdown_j"]["other"] == 0.0
    assert cost["write_energy_j"] == pytest.approx(selected + half, rel=1e-12)
    assert cost["read_energy_j"] == pytest.approx(read, rel=1e-12)
    assert cost["programming_energy_j"] == pytest.approx(selected + half + read, rel=1e-12)
    assert cost["programming_time_s"] == pytest.approx(6 * 1e-3 + reads * 10e-6, rel=1e-12)
    assert (cost["pulses"], cost["reads"]) == (6.0, 12.0)
    # with initial conductances the midpoint is used: initial = targets / 2 -> 3/4 of it
    mid = logged_programming_cost(_two_by_two(0.5 * _two_by_two(None).target), alg, p)
    assert mid["write_energy_j"] == pytest.approx(0.75 * (selected + half), rel=1e-12)
    # V/3: line fraction 1/3 and the other device at 1/3
    v3 = logged_programming_cost(_two_by_two(None), alg.model_copy(
        update={"scheme": BiasScheme.V3}), p)
    other = (0.5 * 40 + 0.36 * 20 + 1.0 * 10) / 9 * u * 1e-3
    assert v3["programming_energy_breakdown_j"]["other"] == pytest.approx(other, rel=1e-12)
    assert v3["programming_energy_breakdown_j"]["half-selected"] == pytest.approx(
        half * 4 / 9, rel=1e-12)


def test_groups_split_the_total_and_a_result_without_amplitudes_is_refused():
    x = Crossbar.sample(DEV.with_sigma(0.05), (4, 4), batch=4, seed=2)
    t = np.random.default_rng(2).uniform(10e-6, 100e-6, (4, 4, 4))
    alg = WriteVerify.thesis(passes=2)
    res = program(x, t, alg, engine="cpu")
    groups = {"a": np.array([0, 2]), "b": np.array([1, 3])}
    cost = run_programming_cost(res, alg, groups=groups)
    layers = cost["programming_layers"]
    for key in ("programming_energy_j", "programming_time_s", "pulses", "reads"):
        assert layers["a"][key] + layers["b"][key] == pytest.approx(cost[key], rel=1e-12)
    assert cost["programming_method"] == "pulse amplitudes recorded per device"
    bare = dataclasses.replace(res, pulse_v2_sum=None)
    assert run_programming_cost(bare, alg)["programming_method"] == "ramp-grid upper estimate"
    with pytest.raises(XbarsimInputError, match="pulse_v2_sum"):
        logged_programming_cost(bare, alg)


@pytest.mark.parametrize("sigma", [0.05, 0.25])
def test_recorded_amplitudes_beat_the_ramp_grid_estimate(sigma):
    """Against the exact per-pulse log of the same run: within 15 % (midpoint conductances),
    while the ramp-grid estimate is an upper estimate (more than the recorded one)."""
    alg = WriteVerify.thesis(passes=3)
    for seed in (1, 2, 3):
        x = Crossbar.sample(DEV.with_sigma(sigma), (8, 8), seed=seed)
        t = np.random.default_rng(seed).uniform(10e-6, 100e-6, (8, 8))
        result, log = program_port(DirectPort(x.copy(), 0, alg.scheme), t, alg,
                                   skip=x.unswitchable[0])
        exact = programming_cost(log)
        recorded = logged_programming_cost(result, alg)
        upper = estimate_programming_cost(result, alg)
        assert recorded["pulses"] == exact["pulses"] == upper["pulses"]
        assert recorded["reads"] == exact["reads"]
        assert recorded["write_energy_j"] < upper["write_energy_j"]
        assert 0.85 < recorded["write_energy_j"] / exact["write_energy_j"] < 1.15

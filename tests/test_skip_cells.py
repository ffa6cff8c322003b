"""Devices left alone by programming: ``program(skip=...)``, kernel padding, known-stuck
devices in the mitigated retuning."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.crossbar import Crossbar
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.devices import preset
from xbarsim.devices.stuck import StuckFaults
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.tiling import tile
from xbarsim.nn import ChipConfig, program_model
from xbarsim.nn.defects import DefectMitigation, program_model_mitigated
from xbarsim.programming import WriteVerify, program
from xbarsim.programming.improved import program_improved
from xbarsim.programming.result import error_statistics, relative_error

N = 8


def _xbars(batch: int = 2, seed: int = 1) -> tuple[Crossbar, np.ndarray, np.ndarray]:
    """Paper devices (sigma 26 %, 1.1 % unswitchable), targets and a skip mask."""
    xbars = Crossbar.sample(preset("tio2-64x64-paper"), (N, N), batch, seed)
    rng = np.random.default_rng(seed)
    target = rng.uniform(10e-6, 100e-6, (batch, N, N))
    skip = np.zeros((batch, N, N), dtype=bool)
    skip[:, 5:, :] = True  # three unused rows
    skip[:, :, 6:] = True  # two unused columns
    return xbars, target, skip


@pytest.mark.parametrize("engine", ["reference", "cpu", "cpu-direct"])
def test_skipped_devices_get_no_pulse_and_leave_the_statistics(engine: str) -> None:
    xbars, target, skip = _xbars()
    fault_map = xbars.unswitchable.copy()
    res = program(xbars, target, WriteVerify.thesis(passes=3), engine=engine, skip=skip)
    assert (res.pulses[skip] == 0).all()
    assert res.pulses[~skip].sum() > 1000
    assert np.array_equal(res.unswitchable, fault_map)
    assert np.array_equal(res.skipped, skip)
    assert res.excluded[skip].all()
    stats = error_statistics(relative_error(res.conductance, target), 0.01, ~(fault_map | skip))
    for key, value in stats.items():
        np.testing.assert_allclose(res.history[key][:, -1], value)
    np.testing.assert_array_equal(xbars.conductance, res.conductance)  # programmed in place


def test_engines_agree_with_skipped_devices() -> None:
    runs = {}
    for engine in ("reference", "cpu", "cpu-direct"):
        xbars, target, skip = _xbars(seed=4)
        runs[engine] = program(xbars, target, WriteVerify.thesis(passes=2), engine=engine,
                               skip=skip)
    for engine in ("cpu", "cpu-direct"):
        np.testing.assert_array_equal(runs[engine].pulses, runs["reference"].pulses)
        np.testing.assert_allclose(
            runs[engine].conductance, runs["reference"].conductance, rtol=1e-9, atol=0.0
        )


GPU_CHECK = textwrap.dedent(
    """
    import numpy as np
    from xbarsim.crossbar import Crossbar
    from xbarsim.devices import preset
    from xbarsim.programming import WriteVerify, program
    x = Crossbar.sample(preset("tio2-64x64-paper"), (6, 5), batch=2, seed=3)
    t = np.random.default_rng(0).uniform(10e-6, 100e-6, (2, 6, 5))
    skip = np.zeros((6, 5), bool)
    skip[4:, :] = True
    skip[:, 3:] = True
    alg = WriteVerify.thesis(passes=2)
    a = program(x.copy(), t, alg, engine="cpu", skip=skip)
    b = program(x.copy(), t, alg, engine="gpu", skip=skip)
    assert b.engine == "gpu"
    assert np.array_equal(a.pulses, b.pulses) and np.array_equal(a.skipped, b.skipped)
    assert (b.pulses[:, skip] == 0).all() and np.array_equal(a.unswitchable, b.unswitchable)
    np.testing.assert_allclose(a.conductance, b.conductance, rtol=1e-12, atol=0)
    print("gpu-skip-ok")
    """
)


def test_gpu_engine_skips_alike_in_cuda_simulator() -> None:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    out = subprocess.run(
        [sys.executable, "-c", GPU_CHECK], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "gpu-skip-ok" in out.stdout


def test_skipping_is_a_fault_map_for_the_tuner_and_nothing_else() -> None:
    """Skipping = programming with the skipped devices unswitchable, except in the record."""
    xbars, target, skip = _xbars(seed=2)
    marked = xbars.copy()
    marked.unswitchable |= skip
    a = program(xbars, target, WriteVerify.thesis(passes=2), engine="cpu", skip=skip)
    b = program(marked, target, WriteVerify.thesis(passes=2), engine="cpu")
    np.testing.assert_array_equal(a.conductance, b.conductance)
    np.testing.assert_array_equal(a.pulses, b.pulses)
    assert not np.array_equal(a.unswitchable, b.unswitchable)


def test_without_half_select_a_skipped_device_keeps_its_state() -> None:
    xbars, target, skip = _xbars(seed=5)
    before = xbars.conductance.copy()
    program(xbars, target, WriteVerify.thesis(passes=2, scheme=BiasScheme.NONE),
            engine="reference", skip=skip)
    np.testing.assert_array_equal(xbars.conductance[skip], before[skip])
    assert not np.allclose(xbars.conductance[~skip], before[~skip])


@pytest.mark.parametrize(
    "skip", [np.zeros((N, N + 1), dtype=bool), np.zeros((2, N, N)), np.zeros((3, N, N), bool)]
)
def test_bad_skip_masks_are_refused_before_any_pulse(skip: np.ndarray) -> None:
    xbars, target, _ = _xbars()
    before = xbars.conductance.copy()
    with pytest.raises(XbarsimInputError, match=r"^skip: must be a bool mask"):
        program(xbars, target, engine="cpu", skip=skip)
    np.testing.assert_array_equal(xbars.conductance, before)


def test_improved_tuning_leaves_skipped_devices_alone() -> None:
    xbars, target, skip = _xbars(batch=4, seed=6)
    fault_map = xbars.unswitchable.copy()
    res = program_improved(xbars, target, engine="cpu", skip=skip)
    assert (res.pulses[skip] == 0).all()
    assert res.pulses[~skip].sum() > 1000
    assert np.array_equal(res.unswitchable, fault_map)
    assert np.array_equal(res.skipped, skip)


@settings(max_examples=60, deadline=None)
@given(
    inputs=st.integers(1, 40),
    outputs=st.integers(1, 40),
    size=st.integers(1, 16),
    bias=st.booleans(),
)
def test_padding_is_where_tile_pads(inputs: int, outputs: int, size: int, bias: bool) -> None:
    kernels, layout = tile(np.ones((inputs, outputs)), size,
                           bias=np.ones(outputs) if bias else None)
    padding = layout.padding()
    assert padding.shape == kernels.shape
    np.testing.assert_array_equal(padding, kernels == 0.0)
    assert int((~padding).sum()) == (inputs + bias) * outputs


def _stuck_chip(ppm: float, tune_padding: bool = False) -> ChipConfig:
    dev = preset("tio2-64x64-paper")
    cond = dev.conditions.model_copy(update={"stuck": StuckFaults.mixed(ppm)})
    return ChipConfig(device=dev.model_copy(update={"conditions": cond}), kernel=16,
                      engine="cpu", tune_padding=tune_padding)


def test_deployment_tunes_only_weight_cells_unless_asked() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 12))  # 20 x 12 on 16 x 16 kernels
    dep = program_model(model, _stuck_chip(0.0), seed=0)
    skipped = dep.result.skipped
    assert int((~skipped).sum()) == 2 * 20 * 12
    assert (dep.result.pulses[skipped] == 0).all()
    full = program_model(model, _stuck_chip(0.0, tune_padding=True), seed=0)
    assert full.result.skipped is None
    assert full.result.pulses[skipped].sum() > 0


def test_mitigated_retuning_never_pulses_known_stuck_devices(monkeypatch) -> None:
    """The partners' retuning run skips the padding and every device found stuck."""
    defects = importlib.import_module("xbarsim.nn.defects")
    calls = []
    original = defects.tune

    def spy(chip, xbars, targets, skip=None, progress=False):
        calls.append((xbars.fault.copy(), skip))
        return original(chip, xbars, targets, skip, progress)

    monkeypatch.setattr(defects, "tune", spy)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 12))
    out = program_model_mitigated(model, _stuck_chip(3e4), seed=1,
                                  mitigation=DefectMitigation(kind="pair"))
    assert sum(r.pairs_retuned for r in out.layers) > 0
    assert len(calls) == 1
    fault, skip = calls[0]
    stuck = fault >= 2
    assert skip is not None and stuck.any() and len(fault) % 2 == 0  # whole pairs
    assert skip[stuck].mean() > 0.9  # found stuck (a few sit within tolerance of the target)
    assert int((~skip).sum()) <= 2 * 20 * 12


def test_fault_report_detects_no_stuck_device_it_skipped() -> None:
    from xbarsim.programming.faults import fault_report

    chip = _stuck_chip(1e5)
    xbars = Crossbar.sample(chip.device, (N, N), 2, 3)
    target = np.random.default_rng(3).uniform(10e-6, 100e-6, (2, N, N))
    skip = np.zeros((N, N), dtype=bool)
    skip[:, 4:] = True
    stuck = xbars.device_state.stuck
    assert stuck[:, skip].sum() >= 2 and stuck[:, ~skip].sum() >= 2
    report = fault_report(xbars, program(xbars, target, engine="cpu", skip=skip))
    assert not report.detected[:, skip].any()
    assert report.detected[:, ~skip].sum() >= 2


def test_mitigations_on_an_improved_tuning_chip() -> None:
    """Pair retuning and the compensation column program with the chip's algorithm, also
    improved tuning (whole pairs, G+ then G-)."""
    from xbarsim.programming.improved import ImprovedTuning

    chip = _stuck_chip(3e4).model_copy(update={"algorithm": ImprovedTuning.thesis()})
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 12))
    x = np.random.default_rng(0).random((64, 20), dtype=np.float32)
    out = program_model_mitigated(model, chip, seed=1, calibration_x=x,
                                  mitigation=DefectMitigation(kind="pair+column",
                                                              calibration_images=64))
    assert sum(r.pairs_retuned for r in out.layers) > 0
    assert [r.compensation_pairs for r in out.layers] == [2 * 12]  # per row kernel, output
    with torch.no_grad():
        y = out.deployment.model(torch.as_tensor(x))
    assert torch.isfinite(y).all()

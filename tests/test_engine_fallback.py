"""``engine="auto"`` falls back to ``cpu`` (one warning line) when the GPU engine cannot
import, compile or launch; an explicit ``"gpu"`` fails with one error line."""

from __future__ import annotations

import sys
import types
import warnings

import numpy as np
import pytest

from xbarsim.cli import main
from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.config import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.programming import engine
from xbarsim.programming.algorithm import WriteVerify

IMPORT_FAILURE = "numba-cuda does not import (ImportError: cannot import name 'row_stack')"


@pytest.fixture
def gpu_state(monkeypatch: pytest.MonkeyPatch):
    """Set what the GPU probe answers; launch failures start empty."""
    monkeypatch.setattr(engine, "_launch_failure", [])
    monkeypatch.setattr(engine, "_warned", set())

    def set_problem(problem: str | None) -> None:
        monkeypatch.setattr(engine, "gpu_problem", lambda: problem)

    return set_problem


def _xbars() -> tuple[Crossbar, np.ndarray]:
    xbars = Crossbar.sample(preset("thesis-uniformity"), (6, 6), batch=2, seed=3)
    targets = np.random.default_rng(0).uniform(20e-6, 80e-6, (6, 6))
    return xbars, targets


def test_auto_falls_back_with_the_reason(gpu_state) -> None:
    gpu_state(IMPORT_FAILURE)
    with pytest.warns(engine.EngineFallbackWarning, match="row_stack") as record:
        assert engine.resolve_engine("auto") == "cpu"
    assert len(record) == 1 and "\n" not in str(record[0].message)


def test_explicit_gpu_is_one_error_line(gpu_state) -> None:
    gpu_state(IMPORT_FAILURE)
    with pytest.raises(XbarsimInputError, match="engine: 'gpu' cannot run here: numba-cuda"):
        engine.resolve_engine("gpu")


def test_no_device_is_silent(gpu_state) -> None:
    gpu_state(engine.NO_DEVICE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert engine.resolve_engine("auto") == "cpu"


def test_import_failure_of_numba_cuda_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> types.ModuleType:
        raise AttributeError("module 'numpy' has no attribute 'row_stack'")

    monkeypatch.setattr(engine, "load_cuda", broken)
    engine.gpu_problem.cache_clear()
    try:
        assert engine.gpu_problem() == (
            "numba-cuda does not import (AttributeError: module 'numpy' has no attribute "
            "'row_stack')"
        )
    finally:
        engine.gpu_problem.cache_clear()


@pytest.fixture
def failing_kernel(gpu_state, monkeypatch: pytest.MonkeyPatch):
    """A GPU engine that scribbles on the conductances, then fails to launch."""
    gpu_state(None)
    fake = types.ModuleType("xbarsim.programming.gpu")

    def program_gpu(xbars, targets, algorithm, progress=False, keep_history=True):
        xbars.conductance[...] = 0.0
        raise RuntimeError("CUDA_ERROR_LAUNCH_FAILED")

    fake.program_gpu = program_gpu
    monkeypatch.setitem(sys.modules, "xbarsim.programming.gpu", fake)


def test_launch_failure_falls_back_to_identical_cpu_results(failing_kernel) -> None:
    xbars, targets = _xbars()
    cpu_xbars = xbars.copy()
    with pytest.warns(engine.EngineFallbackWarning, match="CUDA_ERROR_LAUNCH_FAILED"):
        result = engine.program(xbars, targets, WriteVerify.thesis(), engine="auto")
    expected = engine.program(cpu_xbars, targets, WriteVerify.thesis(), engine="cpu")
    assert result.engine == "cpu"
    np.testing.assert_array_equal(result.conductance, expected.conductance)
    np.testing.assert_array_equal(xbars.conductance, cpu_xbars.conductance)
    assert result.total_pulses == expected.total_pulses
    assert engine.resolve_engine("auto") == "cpu"  # the failure is remembered


def test_launch_failure_with_explicit_gpu_is_an_error(failing_kernel) -> None:
    xbars, targets = _xbars()
    before = xbars.conductance.copy()
    with pytest.raises(XbarsimInputError, match="engine: 'gpu' failed: compiling or launch"):
        engine.program(xbars, targets, WriteVerify.thesis(), engine="gpu")
    np.testing.assert_array_equal(xbars.conductance, before)


def test_cli_prints_one_warning_line(gpu_state, capsys: pytest.CaptureFixture[str]) -> None:
    gpu_state(IMPORT_FAILURE)
    args = ["program-image", "--size", "4", "--engine", "auto", "--no-progress", "--json", "-"]
    assert main(args) == 0
    captured = capsys.readouterr()
    warning_lines = [ln for ln in captured.err.splitlines() if ln.startswith("warning:")]
    assert warning_lines == [f"warning: engine auto: GPU engine unavailable, using cpu: "
                             f"{IMPORT_FAILURE}"]
    assert captured.out.lstrip().startswith("{")
    gpu_state(IMPORT_FAILURE)
    assert main([*args[:4], "gpu", *args[5:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: engine: 'gpu' cannot run here") and err.count("\n") == 1

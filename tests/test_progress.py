"""Progress: the compiled engine's counter polled from Python without effect on the
results; a bar on a terminal, plain lines every few seconds anywhere else."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from rich.console import Console

import xbarsim.progress as progress_module
from xbarsim.cli import main
from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.config import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.compiled import program_compiled
from xbarsim.progress import format_duration, polled_progress, progress_bar, progress_line


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Make stderr look like a terminal; returns what the bars render."""
    sink = io.StringIO()
    monkeypatch.setattr(
        progress_module,
        "Console",
        lambda stderr=True: Console(file=sink, force_terminal=True, width=100),
    )
    return sink


@pytest.mark.parametrize("batch", [1, 3])
def test_kernel_counter_reaches_the_total_and_changes_nothing(terminal, batch: int) -> None:
    xbars = Crossbar.sample(preset("thesis-uniformity").with_sigma(0.2), (12, 12), batch, seed=4)
    targets = np.random.default_rng(1).uniform(20e-6, 80e-6, (12, 12))
    algorithm = WriteVerify.thesis()
    quiet = program_compiled(xbars.copy(), targets, algorithm, progress=False)
    assert terminal.getvalue() == ""
    shown = program_compiled(xbars.copy(), targets, algorithm, progress=True)
    total = batch * algorithm.passes * 12
    assert f"{total}/{total}" in terminal.getvalue()
    np.testing.assert_array_equal(quiet.conductance, shown.conductance)
    np.testing.assert_array_equal(quiet.pulses, shown.pulses)


def test_polling_follows_the_counter(terminal) -> None:
    counter = np.zeros(2, dtype=np.int64)
    with polled_progress(counter, 10, "work", period_s=0.01):
        counter[0] = 3
        deadline = time.monotonic() + 10.0  # the poller and the bar refresh on their own clocks
        while "3/10" not in terminal.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "3/10" in terminal.getvalue()
        counter[1] = 7
    assert "10/10" in terminal.getvalue()


def test_a_short_run_off_a_terminal_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(5, "work") as advance:
        advance(5)
    counter = np.ones(1, dtype=np.int64)
    with polled_progress(counter, 1, "work"):
        pass
    assert capsys.readouterr() == ("", "")


def test_progress_line_reads_like_a_log_line() -> None:
    assert progress_line("jobs", 12, 186, 100.0) == "jobs: 12/186, 1m40s elapsed, ~24m left"
    assert progress_line("jobs", 93, 186, 100.0) == "jobs: 93/186, 1m40s elapsed, ~2m left"
    assert progress_line("jobs", 180, 186, 100.0) == "jobs: 180/186, 1m40s elapsed, ~3s left"
    assert progress_line("jobs", 0, 5, 7.9) == "jobs: 0/5, 7s elapsed, time left unknown"
    assert progress_line("jobs", 5, 5, 7300.0) == "jobs: 5/5, 2h01m elapsed, done"
    assert format_duration(59.9) == "59s" and format_duration(3599) == "59m59s"


@pytest.fixture
def fast_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "PLAIN_PERIOD_S", 0.02)


def test_plain_lines_off_a_terminal(fast_lines, capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(4, "work") as advance:
        for _ in range(4):
            time.sleep(0.05)
            advance(1)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) >= 3
    assert all(line.startswith("work: ") and " elapsed" in line for line in lines)
    assert lines[-1].startswith("work: 4/4,") and lines[-1].endswith(", done")
    with progress_bar(4, "off", enabled=False) as advance:
        time.sleep(0.05)
        advance(4)
    assert capsys.readouterr() == ("", "")


def test_polled_counter_reaches_plain_lines(fast_lines, capsys) -> None:
    counter = np.zeros(2, dtype=np.int64)
    with polled_progress(counter, 10, "kernel", period_s=0.01):
        counter[0] = 4
        time.sleep(0.1)
        counter[1] = 6
    assert "kernel: 10/10" in capsys.readouterr().err


def test_the_period_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("XBARSIM_PROGRESS_PERIOD_S", "30")
    assert progress_module.plain_period_s() == 30.0
    for bad in ("0", "-1", "x", "inf", "nan"):
        monkeypatch.setenv("XBARSIM_PROGRESS_PERIOD_S", bad)
        with pytest.raises(XbarsimInputError, match="XBARSIM_PROGRESS_PERIOD_S"):
            progress_module.plain_period_s()
    monkeypatch.delenv("XBARSIM_PROGRESS_PERIOD_S")
    assert progress_module.plain_period_s() == progress_module.PLAIN_PERIOD_S


def test_a_command_logs_progress_to_a_non_terminal_stderr(fast_lines, capsys) -> None:
    args = ["thresholds", "--size", "12", "--seed", "1", "--json", "-"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "threshold sweeps: 12/12, " in err and ", done" in err
    assert '"set_mean_v"' in out and "threshold sweeps" not in out
    assert main([*args, "--no-progress"]) == 0
    assert "threshold sweeps" not in capsys.readouterr().err


@pytest.mark.slow
def test_reproduce_logs_progress_to_a_file(tmp_path) -> None:
    """``xbarsim reproduce --quick --only P2 --out D 2>log``: a line at least every 30 s."""
    import os
    import subprocess
    import sys

    log = tmp_path / "log"
    start = time.monotonic()
    with log.open("w") as err:
        done = subprocess.run(
            [sys.executable, "-m", "xbarsim.cli", "reproduce", "--quick", "--only", "P2",
             "--workers", "0", "--out", str(tmp_path / "d")],
            stdout=subprocess.DEVNULL, stderr=err, timeout=600, check=False,
            env={**os.environ, "XBARSIM_PROGRESS_PERIOD_S": "0.5"},
        )
    wall = time.monotonic() - start
    assert done.returncode == 0
    lines = [line for line in log.read_text().splitlines() if " elapsed" in line]
    assert lines and lines[-1].endswith(", done")
    assert len(lines) >= wall / 30 - 1 and len(lines) >= 2

"""Progress of the compiled engine: counted in the kernel, polled from Python, shown only
on a terminal, and without effect on the results."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from rich.console import Console

import xbarsim.progress as progress_module
from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.config import preset
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.compiled import program_compiled
from xbarsim.progress import polled_progress, progress_bar


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


def test_silent_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(5, "work") as advance:
        advance(5)
    counter = np.ones(1, dtype=np.int64)
    with polled_progress(counter, 1, "work"):
        pass
    assert capsys.readouterr() == ("", "")

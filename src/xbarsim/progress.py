"""Progress of long runs on stderr: a rich bar on a terminal, plain lines anywhere else.

On a terminal, :func:`progress_bar` shows a bar with the elapsed time and an estimate of the
time left. When stderr is a file or a pipe (a batch job, ``2>log``, CI), it prints one plain
line every :data:`PLAIN_PERIOD_S` seconds (or ``$XBARSIM_PROGRESS_PERIOD_S``) instead, e.g.
``sweep: 12/186, 1m40s elapsed, ~3m left``, and a last line when the run ends; a run shorter
than one period prints nothing. Progress never goes to stdout, so ``--json -`` stays one JSON
object.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from xbarsim.errors import XbarsimInputError

#: Seconds between two plain progress lines when stderr is not a terminal.
PLAIN_PERIOD_S = 5.0
#: Environment variable that overrides :data:`PLAIN_PERIOD_S` (seconds, > 0).
PERIOD_ENV = "XBARSIM_PROGRESS_PERIOD_S"


def plain_period_s() -> float:
    """Seconds between plain lines: ``$XBARSIM_PROGRESS_PERIOD_S``, else the default."""
    text = os.environ.get(PERIOD_ENV)
    if text is None:
        return PLAIN_PERIOD_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise XbarsimInputError(f"{PERIOD_ENV}: must be a number of seconds > 0, got {text!r}")
    return value


def format_duration(seconds: float) -> str:
    """``42s``, ``1m40s`` or ``2h05m`` (rounded down to the shown unit)."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _format_left(seconds: float) -> str:
    """Coarse time left: ``~40s``, ``~3m``, ``~1h20m``."""
    if seconds < 60:
        return f"~{max(1, round(seconds))}s"
    if seconds < 3600:
        return f"~{round(seconds / 60)}m"
    return f"~{int(seconds // 3600)}h{round(seconds % 3600 / 60):02d}m"


def progress_line(description: str, done: int, total: int, elapsed_s: float) -> str:
    """One plain progress line: ``sweep: 12/186, 1m40s elapsed, ~3m left``.

    The time left assumes the remaining steps take as long as the finished ones did.
    """
    line = f"{description}: {done}/{total}, {format_duration(elapsed_s)} elapsed"
    if done >= total:
        return line + ", done"
    if done == 0:
        return line + ", time left unknown"
    return line + f", {_format_left(elapsed_s * (total - done) / done)} left"


class _PlainProgress:
    """Counts steps and prints :func:`progress_line` every ``period_s`` from a thread."""

    def __init__(self, total: int, description: str, period_s: float) -> None:
        self.total, self.description, self.period_s = total, description, period_s
        self.done = 0
        self.printed: int | None = None  # the count of the last line printed
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.start = time.monotonic()
        self.thread = threading.Thread(target=self._run, name="xbarsim-progress", daemon=True)

    def advance(self, n: int = 1) -> None:
        with self.lock:
            self.done += n

    def _print(self) -> None:
        with self.lock:
            done = self.done
        line = progress_line(self.description, done, self.total, time.monotonic() - self.start)
        print(line, file=sys.stderr, flush=True)
        self.printed = done

    def _run(self) -> None:
        while not self.stop.wait(self.period_s):
            self._print()

    def __enter__(self) -> _PlainProgress:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        if self.printed is not None and self.printed != self.done:
            self._print()  # close what the log started; a short run stays silent


@contextmanager
def progress_bar(
    total: int, description: str, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; shows progress on stderr when ``enabled``.

    Parameters
    ----------
    total : int
        Number of steps.
    description : str
        Label shown left of the bar (and at the start of a plain line).
    enabled : bool
        False gives a no-op ``advance``.
    """
    if not enabled:
        yield lambda n=1: None
        return
    console = Console(stderr=True)
    if not console.is_terminal:
        with _PlainProgress(total, description, plain_period_s()) as plain:
            yield plain.advance
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


@contextmanager
def polled_progress(
    counter: np.ndarray, total: int, description: str, enabled: bool = True, period_s: float = 0.2
) -> Iterator[None]:
    """Show ``counter.sum()`` out of ``total`` while the block runs (compiled kernels).

    A compiled kernel (running without the GIL) increments its own slots of the int64
    array ``counter``; a Python thread reads the sum every ``period_s`` seconds and moves
    the bar (or the plain lines off a terminal). The kernel never calls back into Python,
    and a slot is written only by the thread that owns it, so the results cannot depend on
    the progress shown.

    Parameters
    ----------
    counter : ndarray of int64
        Progress slots the kernel increments.
    total : int
        Value of ``counter.sum()`` when the work is done.
    description : str
        Label shown left of the bar.
    enabled : bool
        False shows nothing and starts no thread.
    period_s : float
        Polling period (s).
    """
    with progress_bar(total, description, enabled) as advance:
        if not enabled:
            yield
            return
        stop = threading.Event()
        shown = [0]

        def update() -> None:
            now = int(counter.sum())
            advance(now - shown[0])
            shown[0] = now

        def poll() -> None:
            while not stop.wait(period_s):
                update()

        thread = threading.Thread(target=poll, name="xbarsim-progress-poll", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            update()

"""Progress bars for long runs (rich), silent when disabled or not on a terminal."""

from __future__ import annotations

import threading
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


@contextmanager
def progress_bar(
    total: int, description: str, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; shows a bar with ETA on stderr when ``enabled``.

    Parameters
    ----------
    total : int
        Number of steps.
    description : str
        Label shown left of the bar.
    enabled : bool
        False gives a no-op ``advance``.
    """
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda n=1: None
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
    the bar. The kernel never calls back into Python, and a slot is written only by the
    thread that owns it, so the results cannot depend on the bar.

    Parameters
    ----------
    counter : ndarray of int64
        Progress slots the kernel increments.
    total : int
        Value of ``counter.sum()`` when the work is done.
    description : str
        Label shown left of the bar.
    enabled : bool
        False (or stderr not a terminal) shows nothing and starts no thread.
    period_s : float
        Polling period (s).
    """
    with progress_bar(total, description, enabled) as advance:
        if not enabled or not Console(stderr=True).is_terminal:
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

        thread = threading.Thread(target=poll, name="xbarsim-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            update()

"""Options and pre-run checks shared by every command (one validation path).

A command parses its options, validates its setup (pydantic or ``validate()``), then calls
:func:`check_run` with its outputs and its memory and time estimates: outputs are checked,
the estimates are compared with ``--max-memory`` and ``--max-time``, and only then is
``--out`` created (an estimate of more than a few seconds is printed on stderr first). Any
refusal is one :class:`~xbarsim.errors.XbarsimInputError` line, and nothing was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xbarsim.errors import XbarsimInputError
from xbarsim.validation import (
    check_memory,
    check_outputs,
    check_time,
    create_output_dir,
    format_bytes,
    format_seconds,
    parse_duration,
    parse_memory,
)

#: Below this run-time estimate (s) a run starts without printing its estimate.
QUIET_SECONDS = 5.0

MaxMemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--max-memory",
        metavar="SIZE",
        help="Refuse runs estimated to need more memory (e.g. 16G); "
        "default: 80% of the memory available now.",
    ),
]

MaxTimeOpt = Annotated[
    str | None,
    typer.Option(
        "--max-time",
        metavar="DURATION",
        help="Refuse runs estimated to take longer (e.g. 30m, 2h; order-of-magnitude "
        "estimate); default: no limit.",
    ),
]


WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        min=0,
        help="0: run in this process (serial); N >= 1: N local Dask worker processes.",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="TCP://HOST:PORT",
        help="Existing Dask scheduler (trusted: Dask moves pickles); overrides --workers.",
    ),
]
ProgressOpt = Annotated[
    bool,
    typer.Option(
        "--progress/--no-progress",
        help="Progress on stderr: a bar on a terminal, else a plain line every few seconds.",
    ),
]


def check_run(
    estimate: float,
    what: str,
    max_memory: str | None,
    out: Path | None = None,
    json_path: str | Path | None = None,
    create_out: bool = True,
    results: Path | None = None,
    inputs: dict[str, Path | str | None] | None = None,
    seconds: float = 0.0,
    max_time: str | None = None,
    workers: int = 0,
) -> None:
    """Check outputs, memory and time of a run, print its estimate, then create ``out``.

    Parameters
    ----------
    estimate : float
        Estimated peak memory of the run (bytes).
    what : str
        The request in words, for the memory message.
    max_memory : str or None
        ``--max-memory`` as given (None: the default limit).
    out : Path, optional
        ``--out`` directory: checked, then created when ``create_out``.
    json_path : str or Path, optional
        ``--json`` file (``-``: stdout).
    create_out : bool
        Create ``out`` once every check passed.
    results : Path, optional
        ``--results`` directory (a results store), checked like ``out``.
    inputs : dict, optional
        Input files by option name: no output may name one.
    seconds : float
        Estimated run time (s; order of magnitude), already divided by the workers.
    max_time : str or None
        ``--max-time`` as given (None: no limit).
    workers : int
        Worker processes the run uses (0: this process), for the estimate line.
    """
    limit = parse_memory(max_memory)
    time_limit = parse_duration(max_time)
    check_outputs({"out": out, "results": results, "json": json_path}, inputs,
                  directories=frozenset({"out", "results"}))
    check_memory(estimate, limit, what)
    check_time(seconds, time_limit, what)
    if seconds > QUIET_SECONDS:
        on = f"{workers} workers" if workers > 0 else "this process"
        typer.echo(f"estimated: {format_bytes(estimate)}, ~{format_seconds(seconds)} on {on}",
                   err=True)
    if create_out:
        create_output_dir(out, "out")


def parse_floats(name: str, text: str) -> list[float]:
    """A comma-separated list of numbers (at least one), or a one-line error naming the
    option."""
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values:
        raise XbarsimInputError(f"{name}: must be a comma-separated list of numbers, got {text!r}")
    return values

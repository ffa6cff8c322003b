"""Options and pre-run checks shared by every command (one validation path).

A command parses its options, validates its setup (pydantic or ``validate()``), then calls
:func:`check_run` with its outputs and its memory estimate: outputs are checked, the
estimate is compared with ``--max-memory``, and only then is ``--out`` created. Any
refusal is one :class:`~xbarsim.errors.XbarsimInputError` line, and nothing was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xbarsim.validation import (
    check_distinct,
    check_memory,
    check_output_dir,
    check_output_file,
    create_output_dir,
    parse_memory,
)

MaxMemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--max-memory",
        metavar="SIZE",
        help="Refuse runs estimated to need more memory (e.g. 16G); "
        "default: 80% of the memory available now.",
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
) -> None:
    """Check outputs and memory of a run, then create ``out``.

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
    """
    limit = parse_memory(max_memory)
    check_output_dir(out, "out")
    check_output_file(json_path, "json")
    check_distinct({"out": out, "json": json_path})
    check_memory(estimate, limit, what)
    if create_out:
        create_output_dir(out, "out")

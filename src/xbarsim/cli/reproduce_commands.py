"""``xbarsim reproduce`` and ``xbarsim report``: the source documents' experiments in one page.

Thin shells over :mod:`xbarsim.reproduce` (the runs into one Parquet store,
the summary and ``summary.json``), which hands the page to
:mod:`xbarsim.report.reproduce_page`.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from xbarsim.cli import app
from xbarsim.cli.options import ProgressOpt, SchedulerOpt, WorkersOpt
from xbarsim.errors import XbarsimInputError

STORE_DIR = "store"
#: A local Dask cluster by default: one worker process per core (at most 8).
_DEFAULT_WORKERS = max(1, min(os.cpu_count() or 1, 8))


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise XbarsimInputError(f"out: {out} exists and is not a directory")


def _print_summary(summary: list[dict]) -> None:
    table = Table(title="published vs xbarsim")
    for col in ("id", "quantity", "published", "ours (mean ± std, n)", "verdict"):
        table.add_column(col)
    for r in summary:
        ours = ("-" if r["ours_mean"] is None
                else f"{r['ours_mean']:.4g} ± {r['ours_std']:.2g} (n={r['n']})")
        pub = r["published"]
        table.add_row(r["id"], r["quantity"] or "-",
                      f"{pub:.4g}" if isinstance(pub, float) else str(pub or "-"), ours,
                      r["verdict"])
    Console(stderr=True, width=150).print(table)


@app.command()
def reproduce(
    out: Annotated[Path, typer.Option("--out", help="Directory: store/, report.html, "
                                      "summary.json.")],
    quick: Annotated[bool, typer.Option("--quick/--full", help="Reduced instance counts "
                                        "(< 15 min on 2 cores) or the source "
                                        "documents' counts.")] = True,
    only: Annotated[str | None, typer.Option("--only", help="Comma-separated experiment ids "
                                             "(or their first part, e.g. P2).")] = None,
    workers: WorkersOpt = _DEFAULT_WORKERS,
    scheduler: SchedulerOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue DIR/store; skip finished "
                                         "jobs.")] = False,
    settings: Annotated[Path | None, typer.Option("--settings", help="YAML {id: {name: "
                                                  "value}} overriding the mode's settings "
                                                  "(e.g. smaller sizes).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Root seed.", min=0)] = 0,
    progress: ProgressOpt = True,
) -> None:
    """Run the source documents' experiments into one store and write DIR/report.html."""
    from xbarsim.reproduce import (
        load_settings,
        run_reproduce,
        select,
        write_report,
    )

    ids = None if only is None else [x.strip() for x in only.split(",") if x.strip()]
    if ids is not None:
        if not ids:
            raise XbarsimInputError("only: give at least one experiment id")
        select(ids)
    overrides = None if settings is None else load_settings(settings)
    _check_out_dir(out)
    store = out / STORE_DIR
    if store.exists() and not resume and any(store.iterdir()):
        raise XbarsimInputError(f"out: {store} already holds results; pass --resume or "
                                "choose another directory")
    command = shlex.join(["xbarsim", "reproduce", "--quick" if quick else "--full",
                          *(["--only", only] if only is not None else []),
                          *(["--settings", str(settings)] if settings is not None else []),
                          "--out", str(out), "--no-progress" if not progress else "--progress",
                          "--seed", str(seed), *(["--resume"] if resume else []),
                          "--workers", str(workers),
                          *(["--scheduler", scheduler] if scheduler else [])])
    run_reproduce("quick" if quick else "full", store, ids, seed, workers, scheduler, resume,
                  progress, command, overrides)
    summary = write_report(store, out / "report.html", out / "summary.json")
    _print_summary(summary)
    typer.echo(str(out / "report.html"))


@app.command()
def report(
    store: Annotated[Path, typer.Argument(help="Store of `xbarsim reproduce` (DIR/store, "
                                          "or DIR).")],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path(
        "report.html"),
    compare: Annotated[Path | None, typer.Option("--compare", help="An earlier store: add a "
                                                 "'changed since' table.")] = None,
    summary_json: Annotated[Path | None, typer.Option("--summary", help="Also write the "
                                                      "summary rows (JSON).")] = None,
) -> None:
    """Rebuild the reproduce page from an existing store (runs nothing)."""
    from xbarsim.reproduce import write_report

    if out.is_dir():
        raise XbarsimInputError(f"out: {out} is a directory; give an HTML file path")
    if (store / STORE_DIR).is_dir():  # the --out directory of `reproduce`
        store = store / STORE_DIR
    write_report(store, out, summary_json, compare)
    typer.echo(str(out))

"""``xbarsim reproduce`` and ``xbarsim report``: the source documents' experiments in one page.

Thin shells over :mod:`xbarsim.reproduce` (the runs into one Parquet store,
the summary and ``summary.json``), which hands the page to
:mod:`xbarsim.report.reproduce_page`.
"""

from __future__ import annotations

import math
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
from xbarsim.validation import check_outputs, check_temperature, create_output_dir

STORE_DIR = "store"
#: A local Dask cluster by default: one worker process per core (at most 8).
_DEFAULT_WORKERS = max(1, min(os.cpu_count() or 1, 8))


#: A ``--settings`` number may be at most this many times the largest of the mode values.
SETTINGS_SCALE_MAX = 10
#: Largest count a setting without a mode value (``n_test: None``) may take.
SETTINGS_COUNT_MAX = 1_000_000


def _check_setting(where: str, value: object, defaults: list[object]) -> None:
    """Refuse a setting whose type differs from the mode values' or whose size is out of
    range (numbers: finite, > 0, at most :data:`SETTINGS_SCALE_MAX` times the mode values;
    temperatures ``*_c``: within the °C range)."""
    if value is None and None in defaults:  # e.g. n_test: null, every test image
        return
    known = [d for d in defaults if d is not None]
    if not known:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 1 <= value <= SETTINGS_COUNT_MAX):
            raise XbarsimInputError(
                f"settings: {where} must be an integer in [1, {SETTINGS_COUNT_MAX:,}] or null, "
                f"got {value!r}")
        return
    d = known[0]
    if isinstance(d, list):
        longest = max(len(x) for x in known if isinstance(x, list))
        if not isinstance(value, list) or not 1 <= len(value) <= SETTINGS_SCALE_MAX * longest:
            raise XbarsimInputError(
                f"settings: {where} must be a list of 1 to {SETTINGS_SCALE_MAX * longest} "
                f"values, got {str(value)[:40]!r}")
        items = [x for k in known if isinstance(k, list) for x in k]
        for k, item in enumerate(value):
            _check_setting(f"{where}[{k}]", item, items)
        return
    if isinstance(d, str) or isinstance(d, bool):
        if type(value) is not type(d):
            raise XbarsimInputError(
                f"settings: {where} must be a {type(d).__name__}, got {value!r}")
        return
    kind = int if all(isinstance(k, int) for k in known) else float
    if isinstance(value, bool) or not isinstance(value, int if kind is int else int | float):
        what = "an integer" if kind is int else "a number"
        raise XbarsimInputError(f"settings: {where} must be {what}, got {value!r}")
    if where.endswith("_c") or "_c[" in where:
        check_temperature(f"settings: {where}", float(value))
        return
    top = SETTINGS_SCALE_MAX * max(float(k) for k in known)
    if not (math.isfinite(value) and 0 < value <= top):
        raise XbarsimInputError(f"settings: {where} must lie in (0, {top:g}] "
                                f"({SETTINGS_SCALE_MAX}x the mode values), got {value!r}")


def check_settings(overrides: dict[str, dict], mode: str) -> None:
    """Refuse ``--settings`` values of another type or out of range, before any work."""
    from xbarsim.reproduce import EXPERIMENTS

    by_id = {e.id: e for e in EXPERIMENTS}
    for ex, values in overrides.items():
        if not isinstance(values, dict):
            raise XbarsimInputError(f"settings: {ex} must map names to values")
        e = by_id[ex]
        for key, value in values.items():
            if key in e.settings[mode]:  # unknown keys are refused with the allowed ones
                _check_setting(f"{ex}.{key}", value,
                               [e.settings[m].get(key) for m in ("quick", "full")])


def _remove_if_unused(store: Path, fresh: list[Path]) -> None:
    """Undo the directories a refused run created, if no job finished into them."""
    from xbarsim.experiments.chapter2 import META_NAME, PART_PREFIX

    if store in fresh and store.is_dir() and not any(store.glob(f"{PART_PREFIX}*")):
        for leftover in (store / META_NAME, *store.glob(".tmp-*")):
            leftover.unlink(missing_ok=True)
    for path in fresh:  # innermost first: the store, then --out
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()


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
    out_text: Annotated[str, typer.Option("--out", metavar="DIR",
                                          help="Directory: store/, report.html, "
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
                                                  "(e.g. smaller sizes; numbers at most "
                                                  f"{SETTINGS_SCALE_MAX}x the mode's)."
                                                  )] = None,
    seed: Annotated[int, typer.Option("--seed", help="Root seed.", min=0)] = 0,
    progress: ProgressOpt = True,
) -> None:
    """Run the source documents' experiments into one store and write DIR/report.html."""
    from xbarsim.reproduce.runner import (
        load_settings,
        merged_settings,
        run_reproduce,
        select,
        write_report,
    )

    if not out_text.strip():
        raise XbarsimInputError("out: must be a directory path, got ''")
    out = Path(out_text)
    mode = "quick" if quick else "full"
    ids = None if only is None else [x.strip() for x in only.split(",") if x.strip()]
    if ids is not None:
        if not ids:
            raise XbarsimInputError("only: give at least one experiment id")
        select(ids)
    overrides = None
    if settings is not None:
        overrides = load_settings(settings)  # read bounded: a regular file, text limit
        check_settings(overrides, mode)
        for e in select(list(overrides)):
            merged_settings(e, mode, overrides[e.id])
    store = out / STORE_DIR
    check_outputs({"out": out, "out's store": store, "out's report": out / "report.html",
                   "out's summary": out / "summary.json"}, inputs={"settings": settings},
                  directories=frozenset({"out", "out's store"}))
    if store.exists() and not resume and any(store.iterdir()):
        raise XbarsimInputError(f"out: {store} already holds results; pass --resume or "
                                "choose another directory")
    if resume and store.is_dir() and any(store.iterdir()):
        _check_store(store)  # a store to continue is input: checked like `report` checks it
    command = shlex.join(["xbarsim", "reproduce", "--quick" if quick else "--full",
                          *(["--only", only] if only is not None else []),
                          *(["--settings", str(settings)] if settings is not None else []),
                          "--out", str(out), "--no-progress" if not progress else "--progress",
                          "--seed", str(seed), *(["--resume"] if resume else []),
                          "--workers", str(workers),
                          *(["--scheduler", scheduler] if scheduler else [])])
    fresh = [p for p in (out, store) if not p.exists()]
    try:
        run_reproduce(mode, store, ids, seed, workers, scheduler, resume, progress, command,
                      overrides)
    except XbarsimInputError:
        _remove_if_unused(store, fresh)
        raise
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
    check_outputs({"out": out, "summary": summary_json},
                  inputs={"store": store, "compare": compare})
    for path in (store, compare):
        if path is not None:
            _check_store(path)
    for path in (out, summary_json):
        if path is not None:
            create_output_dir(Path(path).parent, "out" if path == out else "summary")
    write_report(store, out, summary_json, compare)
    typer.echo(str(out))


def _check_store(path: Path) -> None:
    """The store's metadata, parts and rows checked against its schema (bounded reads)."""
    from xbarsim.experiments.store_schema import check_store
    from xbarsim.reproduce import runner as rp

    check_store(path, rp.STORE_FORMAT, rp.STORE_VERSION, rp.PROVENANCE_NAME)

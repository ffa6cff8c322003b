"""``xbarsim sweep``, ``xbarsim vmm-study`` and ``xbarsim plot`` (thesis 3.3, Figs. 28-30)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from xbarsim.cli import app
from xbarsim.cli.options import (
    MaxMemoryOpt,
    MaxTimeOpt,
    ProgressOpt,
    SchedulerOpt,
    WorkersOpt,
    check_run,
    parse_floats,
)
from xbarsim.cli.output import with_provenance
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.vmm_study import (
    CASE_FIELDS,
    derived_comparisons,
    published_for,
    summarize,
)
from xbarsim.sweeps.config import SweepConfig, load_sweep_config, sweep_config_from_dict
from xbarsim.sweeps.runner import run_sweep
from xbarsim.sweeps.store import read_results
from xbarsim.validation import check_output_dir, write_text

_DEFAULT_WORKERS = max(1, min(os.cpu_count() or 1, 8))



def _ints(name: str, text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise XbarsimInputError(
            f"{name}: must be a comma-separated list of integers, got {text!r}"
        ) from None


@app.command()
def sweep(
    config: Annotated[Path, typer.Argument(help="Sweep config (YAML).")],
    workers: WorkersOpt = _DEFAULT_WORKERS,
    scheduler: SchedulerOpt = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a results dataset; skip finished tasks.")
    ] = False,
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
) -> None:
    """Run a VMM-study grid on dask into a Parquet results dataset."""
    cfg = load_sweep_config(config)
    _check_sweep(cfg, workers, scheduler, max_memory, max_time=max_time)
    store = run_sweep(cfg, workers=workers, scheduler=scheduler, resume=resume, progress=progress)
    print(f"{len(store.parts())} parts in {store.path}")


@app.command("vmm-study")
def vmm_study(
    sizes: Annotated[str, typer.Option(help="Comma-separated N.")] = "16,64",
    sigmas: Annotated[str, typer.Option(help="Comma-separated sigma.")] = "0.05,0.25",
    targets: Annotated[str, typer.Option(help="Comma-separated tolerances.")] = "0.01",
    algorithms: Annotated[
        str, typer.Option(help="Comma-separated: baseline, improved, no-hs.")
    ] = "baseline",
    crossbars: Annotated[int, typer.Option(help="Crossbar pairs per case.", min=1)] = 4,
    weights: Annotated[int, typer.Option(help="Weight sets per case.", min=1)] = 4,
    inputs: Annotated[int, typer.Option(help="Input vectors per instance.", min=1)] = 1000,
    seed: Annotated[int, typer.Option(help="Master seed.", min=0)] = 0,
    engine: Annotated[str, typer.Option(help="Programming engine.")] = "auto",
    max_amplitude: Annotated[
        float | None,
        typer.Option(
            "--max-amplitude",
            help="Amplitude cap in V (> 0); default: the algorithm's own (thesis 5 V, "
            "improved 2.5 V falling).",
        ),
    ] = None,
    abandon: Annotated[
        bool | None,
        typer.Option(
            "--abandon/--no-abandon",
            help="Abandon devices whose ramp reaches the cap; default: the algorithm's own.",
        ),
    ] = None,
    nonlinearity: Annotated[
        str,
        typer.Option(
            "--nonlinearity",
            help="I-V model the crossbars compute with: none, sinh, thesis-poly.",
        ),
    ] = "none",
    read_voltage: Annotated[
        float | None,
        typer.Option(
            "--read-voltage",
            help="Read voltage (V) the devices are tuned at (e.g. the paper's 0.25); "
            "default: the model's 0.06. Needs --nonlinearity.",
        ),
    ] = None,
    workers: WorkersOpt = _DEFAULT_WORKERS,
    scheduler: SchedulerOpt = None,
    results: Annotated[
        Path | None, typer.Option(help="Keep the results dataset here (default: discard).")
    ] = None,
    json_path: Annotated[
        str | None, typer.Option("--json", help="Write the summary as JSON ('-': stdout).")
    ] = None,
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
) -> None:
    """VMM precision under half-select (thesis Figs. 28-30), published values beside ours."""
    data = {
        "sizes": _ints("sizes", sizes),
        "sigmas": parse_floats("sigmas", sigmas),
        "targets": parse_floats("targets", targets),
        "algorithms": [a.strip() for a in algorithms.split(",") if a.strip()],
        "crossbars": crossbars,
        "weight_sets": weights,
        "inputs": inputs,
        "seed": seed,
        "engine": engine,
        "max_amplitude_v": max_amplitude,
        "abandon_at_cap": abandon,
        "nonlinearity": nonlinearity,
        "read_voltage_v": read_voltage,
    }
    with tempfile.TemporaryDirectory(prefix="xbarsim-vmm-") as tmp:
        data["results"] = str(results if results is not None else Path(tmp) / "results")
        cfg = sweep_config_from_dict(data)
        _check_sweep(cfg, workers, scheduler, max_memory, json_path, max_time)
        store = run_sweep(cfg, workers=workers, scheduler=scheduler, progress=progress)
        cases = summarize(read_results(store.path))
    for case in cases:
        case["published"] = published_for(case)
    comparisons = derived_comparisons(cases)
    console = Console(stderr=json_path == "-", width=170)
    console.print(_table(cases))
    if cfg.nonlinearity != "none":
        v_read = cfg.read_voltage_v
        tuned = "the model's default" if v_read is None else f"{v_read:g} V"
        console.print(f"I-V nonlinearity: {cfg.nonlinearity}, devices tuned at {tuned}")
    for c in comparisons:
        ours = "undefined" if c["xbarsim"] is None else f"{c['xbarsim']:.3g}"
        console.print(f"{c['quantity']}: published {c['published']:g}, xbarsim {ours}")
    if json_path is not None:
        study = {"nonlinearity": cfg.nonlinearity, "read_voltage_v": cfg.read_voltage_v}
        settings = {k: v for k, v in data.items() if k != "results"}
        result = {"study": study, "cases": cases, "comparisons": comparisons}
        text = json.dumps(with_provenance(result, seed, {"vmm_study": settings}), indent=1)
        if json_path == "-":
            sys.stdout.write(text + "\n")
        else:
            write_text(Path(json_path), text + "\n", "json")


def _check_sweep(
    cfg: SweepConfig,
    workers: int,
    scheduler: str | None,
    max_memory: str | None,
    json_path: str | None = None,
    max_time: str | None = None,
) -> None:
    """Check the results path, ``--json`` and the sweep's peak memory and time before it
    runs."""
    from xbarsim.experiments.resources import (
        parallel_seconds,
        sweep_bytes,
        vmm_task_bytes,
        vmm_task_seconds,
    )
    from xbarsim.sweeps.runner import plan

    check_output_dir(cfg.results, "results")
    tasks = plan(cfg)
    largest = max(vmm_task_bytes(t.case.size, t.count, cfg.weight_sets, cfg.inputs) for t in tasks)
    local_workers = 0 if scheduler is not None else workers
    total = sum(
        vmm_task_seconds(t.case.size, t.count, cfg.weight_sets, cfg.inputs, t.case.sigma,
                         cfg.engine)
        for t in tasks
    )
    check_run(
        sweep_bytes(largest, len(tasks), local_workers),
        f"a sweep of {len(tasks)} tasks on {max(1, local_workers)} process(es)",
        max_memory,
        json_path=json_path,
        seconds=parallel_seconds(total, local_workers, len(tasks)),
        max_time=max_time,
        workers=local_workers,
    )


def _table(cases: list[dict]) -> Table:
    table = Table(
        title="VMM study (published values in brackets: thesis T28, N=64; tuning error "
        "excludes the fault map only)"
    )
    headers = {
        "size": "N",
        "sigma": "σ",
        "algorithm": "algorithm",
        "instances": "inst.",
        "tuning_error_p99": "tuning p99",
        "tuning_error_mean": "tuning mean",
        "vmm_error_p99_median": "VMM p99 (median)",
        "vmm_error_p99_std": "VMM p99 std",
        "vmm_error_intrinsic": "intrinsic",
        "vmm_error_mean": "VMM mean",
        "n_hs": "n_HS (run)",
        "n_hs_final_pass": "n_HS (final pass)",
        "pulses_per_device": "pulses/device",
    }
    for field in CASE_FIELDS:
        table.add_column(headers.get(field, field), justify="right")
    for case in cases:
        cells = []
        for field in CASE_FIELDS:
            value = case[field]
            if field in ("size", "instances", "algorithm"):
                cells.append(str(value))
            elif field == "pulses_per_device":
                cells.append(f"{value:.1f}")
            elif field in ("sigma", "target"):
                cells.append(f"{value:g}")
            else:
                text = f"{value:.3g}" if field.startswith("n_hs") else f"{100 * value:.2f}%"
                pub = case["published"].get(field)
                cells.append(text if pub is None else f"{text} [{100 * pub:.1f}%]")
        table.add_row(*cells)
    return table


@app.command()
def plot(
    results: Annotated[Path, typer.Argument(help="Results dataset of a sweep.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory for PNGs.")] = Path(
        "figures"
    ),
) -> None:
    """Figs. 28-30-style PNGs (error per pass, distributions, worst case, n_HS)."""
    from xbarsim.report.study_figures import plot_results

    check_output_dir(out, "out")
    frame = read_results(results)
    check_run(frame.memory_usage(deep=True).sum() * 4.0, "plotting these results", None, out)
    paths = plot_results(frame, out)
    for path in paths:
        print(path)

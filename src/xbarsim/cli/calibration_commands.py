"""``xbarsim calibrate``: fit the device population to the source documents' published numbers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
import yaml

from xbarsim.cli import app
from xbarsim.cli.device_commands import (
    JsonOpt,
    OutOpt,
    ProgressOpt,
    _finish,
    _parse_int,
)
from xbarsim.cli.options import MaxMemoryOpt, MaxTimeOpt, SchedulerOpt, WorkersOpt, check_run
from xbarsim.errors import XbarsimInputError, format_validation_error
from xbarsim.report.tables import ComparisonRow
from xbarsim.validation import check_outputs


@app.command("calibrate")
def calibrate_command(
    budget: Annotated[
        str, typer.Option("--budget", metavar="INT", help="Search trials (the optimizer's "
                          "evaluations; replicates of the best and the default come on top).")
    ] = "40",
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Trial store (Parquet, one part per trial): a store of "
                     "the same fit is replayed without recomputing and continued."),
    ] = None,
    params: Annotated[
        str | None,
        typer.Option(
            "--params", metavar="NAME[=LOW:HIGH],...",
            help="Searched parameters: slope_below, slope_above, knee, slope_far (V), "
            "leak_dose, cycle_to_cycle, threshold_distribution, correlation, variant "
            "(thesis | capped). Default: all but correlation.",
        ),
    ] = None,
    instances: Annotated[
        str, typer.Option("--instances", metavar="INT",
                          help="Crossbar pairs per sigma for every VMM target.")
    ] = "8",
    size: Annotated[str, typer.Option("--size", metavar="INT", help="VMM crossbar size.")] = "64",
    image_seeds: Annotated[
        str, typer.Option("--image-seeds", metavar="INT", help="Crossbars for Fig. 3.")
    ] = "1",
    image_size: Annotated[
        str, typer.Option("--image-size", metavar="INT", help="Side of the Fig. 3 crossbar.")
    ] = "64",
    population: Annotated[
        str | None, typer.Option("--population", metavar="INT",
                                 help="Optimizer population (>= 5; default 3 per parameter).")
    ] = None,
    replicates: Annotated[
        str, typer.Option("--replicates", metavar="INT",
                          help="Extra seeds of the best point (the default gets one more).")
    ] = "3",
    seed: Annotated[str, typer.Option("--seed", metavar="INT", help="Random seed.")] = "0",
    engine: Annotated[str, typer.Option("--engine", help="Programming engine.")] = "auto",
    workers: WorkersOpt = 2,
    scheduler: SchedulerOpt = None,
    out: OutOpt = None,
    json_path: JsonOpt = None,
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
) -> None:
    """Fit the pulse law, the device family and the algorithm variant to every published
    target at once (differential evolution, resumable)."""
    from xbarsim.devices.config import preset
    from xbarsim.experiments.calibration import CalibrationSetup
    from xbarsim.experiments.calibration_fit import (
        default_population,
        fit,
        open_store,
        store_meta,
    )
    from xbarsim.experiments.calibration_space import DEFAULT_PARAMETERS, ParameterSpace
    from xbarsim.experiments.resources import calibration_bytes, calibration_seconds
    from xbarsim.programming import resolve_engine
    from xbarsim.programming.result import TUNING_ERROR_EXCLUSION
    from xbarsim.report.calibration_figures import calibration_figure, residual_markdown

    resolve_engine(engine)
    space = ParameterSpace.parse(",".join(DEFAULT_PARAMETERS) if params is None else params)
    n_budget = _parse_int("budget", budget, 1)
    n_replicates = _parse_int("replicates", replicates, 1)
    n_population = (default_population(len(space.parameters)) if population is None
                    else _parse_int("population", population, 5))
    pairs = _parse_int("instances", instances, 1)
    try:
        setup = CalibrationSetup(
            size=_parse_int("size", size, 2),
            pairs=pairs,
            small_pairs=pairs,
            image_seeds=_parse_int("image-seeds", image_seeds, 1),
            image_size=_parse_int("image-size", image_size, 2),
            seed=_parse_int("seed", seed, 0),
            engine=engine,
        )
    except ValueError as exc:
        raise XbarsimInputError(f"calibrate: {format_validation_error(exc)}") from None
    base = preset("thesis-uniformity")
    check_outputs({"store": store, "out": out, "json": json_path},
                  directories=frozenset({"store", "out"}))
    open_store(store, store_meta(space, setup, base, n_population, n_replicates))
    trials = n_budget + 2 * n_replicates + 1
    walked = bool({"leak_dose", "cycle_to_cycle"} & set(space.names()))
    processes = 1 if workers == 0 and scheduler is None else max(1, workers)
    check_run(
        processes * calibration_bytes(setup.size, setup.pairs, setup.image_size),
        f"calibration at {setup.size}x{setup.size} with {setup.pairs} pairs",
        max_memory,
        out,
        json_path,
        seconds=calibration_seconds(trials, setup.size, setup.pairs, setup.image_seeds,
                                    setup.image_size, engine, walked) / processes,
        max_time=max_time,
        workers=0 if scheduler is not None else workers,
    )
    start = time.perf_counter()
    result = fit(space, setup, n_budget, store, base=base, population=n_population,
                 replicates=n_replicates, workers=workers, scheduler=scheduler,
                 progress=progress)
    targets, default = result.targets, result.default_targets
    summary: dict[str, float | int | str] = {
        **{f"best_{name}": value for name, value in result.best.items()},
        **{f"uncertainty_{name}": json.dumps(u) for name, u in result.uncertainty.items()},
        "trials": len(result.trials),
        "near_best_trials": result.near,
        "loss_best": float(result.replicates.query("role != 'default'")["loss"].mean()),
        "loss_default": float(result.replicates.query("role == 'default'")["loss"].mean()),
        "loss_noise": result.loss_noise,
        "loss_noise_default": result.default_noise,
        "pareto_trials": int(result.trials["pareto"].sum()),
        **{f"{name}": float(row["ours"]) for name, row in targets.iterrows()},
        **{f"res_{name}": float(row["residual"]) for name, row in targets.iterrows()},
        **{f"tolerance_{name}": float(row["tolerance"]) for name, row in targets.iterrows()},
        "never_met": ",".join(result.never_met),
        "conflicts": ",".join(f"{a}+{b}" for a, b in result.conflicts),
        "adopted": int(result.adoption.adopted),
        "adoption_reasons": "; ".join(result.adoption.reasons),
        "tuning_error_exclusion": TUNING_ERROR_EXCLUSION,
    }
    best_text = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.best.items()
    )
    rows = [ComparisonRow("best parameters", "-", best_text)]
    rows += [
        ComparisonRow(name, f"{row['published']:.4g}",
                      f"{row['ours']:.4g} (residual {row['residual']:+.2f} ± "
                      f"{row['tolerance']:.2f}; default {default.loc[name, 'residual']:+.2f})")
        for name, row in targets.iterrows()
    ]
    rows.append(ComparisonRow("adopted as default", "-",
                              "yes" if result.adoption.adopted else "no: "
                              + "; ".join(result.adoption.reasons)))

    def write(directory: Path) -> list[Path]:
        table = directory / "trials.csv"
        extra = result.replicates[result.replicates["role"] != "search"]
        pd.concat([result.trials, extra]).to_csv(table, index=False)
        device = directory / "calibrated_device.yaml"
        device.write_text(yaml.safe_dump(json.loads(result.device.model_dump_json())))
        figure = calibration_figure(result.trials, targets, default,
                                    directory / "calibration.png")
        markdown = directory / "residuals.md"
        markdown.write_text(residual_markdown(targets, default))
        return [table, device, figure, markdown]

    _finish(
        f"Calibration fit, {len(result.trials)} trials",
        summary,
        rows,
        time.perf_counter() - start,
        out,
        json_path,
        write,
        setup.seed,
        {"setup": setup, "space": space},
    )

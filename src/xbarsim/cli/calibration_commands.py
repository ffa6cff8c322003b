"""``xbarsim calibrate``: fit the pulse law's slopes to the source documents' published numbers."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Annotated

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
from xbarsim.cli.options import MaxMemoryOpt, MaxTimeOpt, check_run, parse_floats
from xbarsim.cli.output import write_parquet
from xbarsim.errors import XbarsimInputError, format_validation_error
from xbarsim.report.tables import ComparisonRow

FloatListOpt = typer.Option(metavar="V1,V2,...")


def _floats(name: str, text: str) -> list[float]:
    values = parse_floats(name, text)
    if any(not v > 0 for v in values):
        raise XbarsimInputError(f"{name}: needs at least one value, all > 0 V, got {text!r}")
    return values


def _far_pieces(text: str) -> list[tuple[float, float]]:
    pieces = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            knee, far = (float(x) for x in part.split(":"))
        except ValueError:
            raise XbarsimInputError(
                f"far: must be comma-separated KNEE:SLOPE pairs in V, got {text!r}"
            ) from None
        if not (knee > 0 and far > 0):
            raise XbarsimInputError(f"far: knee and slope must be > 0 V, got {part!r}")
        pieces.append((knee, far))
    return pieces


def _optional(value: float) -> float | None:
    """A table value, ``None`` for NaN (a two-slope candidate's knee and far slope)."""
    return None if math.isnan(value) else float(value)


@app.command("calibrate")
def calibrate_command(
    below: Annotated[
        str, typer.Option("--below", help="Candidate slopes below threshold (V), comma-separated.")
    ] = "0.028,0.03,0.032,0.034,0.036",
    above: Annotated[
        str, typer.Option("--above", help="Candidate slopes above threshold (V), comma-separated.")
    ] = "0.1,0.15,0.2,0.3",
    far: Annotated[
        str,
        typer.Option(
            "--far",
            metavar="KNEE:SLOPE,...",
            help="Three-piece candidates: knee above threshold and far slope (V), each run "
            "with every slope pair (besides the two-slope law).",
        ),
    ] = "",
    size: Annotated[str, typer.Option("--size", metavar="INT", help="VMM crossbar size.")] = "64",
    pairs: Annotated[
        str, typer.Option("--pairs", metavar="INT", help="Crossbar pairs per sigma.")
    ] = "32",
    image_seeds: Annotated[
        str, typer.Option("--image-seeds", metavar="INT", help="Crossbars for Fig. 3.")
    ] = "3",
    image_size: Annotated[
        str, typer.Option("--image-size", metavar="INT", help="Side of the Fig. 3 crossbar.")
    ] = "64",
    variants: Annotated[
        str,
        typer.Option(
            "--variants", help="Algorithm variants, comma-separated: thesis (5 V, no abandoning), "
            "capped (2.5 V, abandon)."
        ),
    ] = "thesis,capped",
    seed: Annotated[str, typer.Option("--seed", metavar="INT", help="Random seed.")] = "0",
    engine: Annotated[str, typer.Option("--engine", help="Programming engine.")] = "auto",
    out: OutOpt = None,
    json_path: JsonOpt = None,
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
) -> None:
    """Grid-search the two- and three-piece pulse law against the paper's and the thesis's
    numbers."""
    from xbarsim.experiments.calibration import (
        TARGETS,
        CalibrationSetup,
        calibrate,
        published_target,
        residuals,
        variant_algorithm,
    )
    from xbarsim.experiments.resources import calibration_bytes, calibration_seconds
    from xbarsim.programming import resolve_engine
    from xbarsim.programming.result import TUNING_ERROR_EXCLUSION
    from xbarsim.report.calibration_figures import calibration_figure, residual_markdown

    resolve_engine(engine)
    variant_list = [v.strip() for v in variants.split(",") if v.strip()]
    if not variant_list:
        raise XbarsimInputError("variants: give at least one of thesis, capped")
    for variant in variant_list:
        variant_algorithm(variant)
    try:
        setup = CalibrationSetup(
            slopes_below_v=_floats("below", below),
            slopes_above_v=_floats("above", above),
            far_pieces_v=_far_pieces(far),
            variants=variant_list,
            size=_parse_int("size", size, 2),
            pairs=_parse_int("pairs", pairs, 1),
            image_seeds=_parse_int("image-seeds", image_seeds, 1),
            image_size=_parse_int("image-size", image_size, 2),
            seed=_parse_int("seed", seed, 0),
            engine=engine,
        )
    except ValueError as exc:
        raise XbarsimInputError(f"calibrate: {format_validation_error(exc)}") from None
    candidates = (len(setup.variants) * len(setup.slopes_below_v) * len(setup.slopes_above_v)
                  * (1 + len(setup.far_pieces_v)))
    check_run(
        calibration_bytes(setup.size, setup.pairs, setup.image_size),
        f"calibration at {setup.size}x{setup.size} with {setup.pairs} pairs",
        max_memory,
        out,
        json_path,
        seconds=calibration_seconds(candidates, setup.size, setup.pairs, setup.image_seeds,
                                    setup.image_size, engine),
        max_time=max_time,
    )
    start = time.perf_counter()
    report = calibrate(setup, progress=progress)
    best = report.table.iloc[0]
    names = [name for name, _, _, _ in TARGETS]
    values = {key: float(best[key]) for key in names}
    res = residuals(values)
    summary: dict[str, float | str] = {
        "variant": str(best["variant"]),
        "slope_below_v": float(best["slope_below_v"]),
        "slope_above_v": float(best["slope_above_v"]),
        "knee_v": _optional(best["knee_v"]),
        "slope_far_v": _optional(best["slope_far_v"]),
        **values,
        "loss": float(best["loss"]),
        "pareto_candidates": int(report.table["pareto"].sum()),
        "tuning_error_exclusion": TUNING_ERROR_EXCLUSION,
    }
    rows = [
        ComparisonRow(name, f"{pub:.4g}", f"{ours:.4g} (log ratio {res[name]:+.2f})")
        for name, pub, ours in report.comparison()
    ]
    rows.insert(
        0,
        ComparisonRow(
            "best variant, slopes below / above (V), knee : far slope (V)",
            "-",
            f"{best['variant']}, {best['slope_below_v']:.4g} / {best['slope_above_v']:.4g}, "
            + (
                "two-slope"
                if best["knee_v"] != best["knee_v"]
                else f"{best['knee_v']:.4g} : {best['slope_far_v']:.4g}"
            ),
        ),
    )

    def write(directory: Path) -> list[Path]:
        table = directory / "candidates.csv"
        report.table.to_csv(table, index=False)
        parquet = directory / "candidates.parquet"
        write_parquet(report.table, parquet, setup.seed, {"setup": setup})
        device = directory / "calibrated_device.yaml"
        device.write_text(yaml.safe_dump(json.loads(report.best.model_dump_json())))
        figure = calibration_figure(report.table, names, directory / "calibration.png")
        markdown = directory / "residuals.md"
        published = {name: published_target(name) for name in names}
        markdown.write_text(residual_markdown(report.table, names, published))
        return [table, parquet, device, figure, markdown]

    _finish(
        f"Pulse-law calibration, {len(report.table)} candidates",
        summary,
        rows,
        time.perf_counter() - start,
        out,
        json_path,
        write,
        setup.seed,
        {"setup": setup},
    )

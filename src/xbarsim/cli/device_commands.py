"""Commands for the paper's device experiments: ``thresholds`` (Fig. 2) and
``program-image`` (Fig. 3).

Each is a thin shell over :mod:`xbarsim.experiments`: build the device config from
``--preset`` / ``--config`` / ``--sigma``, run, print a "published vs xbarsim" table, and
optionally write the flat results as JSON (``--json``, ``-`` for stdout) and PNG figures
plus ``results.json`` (``--out``). With ``--json -`` stdout carries exactly one JSON object
and the table goes to stderr.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from xbarsim.cli import app
from xbarsim.cli.options import MaxMemoryOpt, MaxTimeOpt, ProgressOpt, check_run
from xbarsim.cli.output import with_provenance
from xbarsim.devices.config import DeviceConfig, load_device_config, preset
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.resources import (
    image_tuning_bytes,
    image_tuning_seconds,
    thresholds_bytes,
    thresholds_seconds,
)
from xbarsim.report.tables import ComparisonRow, comparison_table, print_table
from xbarsim.validation import create_output_dir, write_text

SizeOpt = Annotated[
    str, typer.Option("--size", metavar="INT", help="Rows and columns of the array (>= 1).")
]
SeedOpt = Annotated[str, typer.Option("--seed", metavar="INT", help="Random seed (>= 0).")]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", metavar="DIR", help="Write PNG figures and results.json here."),
]
JsonOpt = Annotated[
    str | None,
    typer.Option("--json", metavar="PATH", help="Write the flat results as JSON; '-' for stdout."),
]
PresetOpt = Annotated[str, typer.Option("--preset", help="Named device preset.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", metavar="PATH", help="Device config file (YAML/TOML); overrides --preset."
    ),
]
SigmaOpt = Annotated[
    float | None,
    typer.Option("--sigma", help="Override the normalized threshold spread std/mean (>= 0)."),
]


def _parse_int(name: str, text: str, minimum: int) -> int:
    """Parse an integer option, raising a one-line error naming it and its range."""
    try:
        value = int(text, 10)
    except ValueError:
        raise XbarsimInputError(f"{name}: must be an integer >= {minimum}, got {text!r}") from None
    if value < minimum:
        raise XbarsimInputError(f"{name}: must be an integer >= {minimum}, got {value}")
    return value


def _device(preset_name: str, config: Path | None, sigma: float | None) -> DeviceConfig:
    """Device config from a file, else a preset, with an optional sigma override."""
    device = load_device_config(config) if config is not None else preset(preset_name)
    return device if sigma is None else device.with_sigma(sigma)


def _jsonable(summary: dict[str, float | int | str]) -> dict[str, float | int | str | None]:
    """NaN and infinities become ``null`` so that the output is strict JSON."""
    return {
        key: None if isinstance(v, float) and not math.isfinite(v) else v
        for key, v in summary.items()
    }


#: The shared output helpers under the names other command modules import from here.
_prepare_out = create_output_dir
_write_text = write_text


def _finish(
    title: str,
    summary: dict[str, float | int | str],
    rows: list[ComparisonRow],
    seconds: float,
    out: Path | None,
    json_path: str | None,
    write_figures: Callable[[Path], list[Path]],
    seed: int,
    configs: dict[str, object],
) -> None:
    """Print the table and write JSON (with provenance) / figures as the options ask."""
    data = with_provenance(_jsonable(summary), seed, configs)
    text = json.dumps(data, indent=2)
    rows = [*rows, ComparisonRow("run time (s)", "-", f"{seconds:.1f}")]
    to_stdout = json_path == "-"
    print_table(comparison_table(title, rows), stderr=to_stdout)
    if out is not None:
        write_figures(out)
        write_text(out / "results.json", text + "\n", "out")
    if to_stdout:
        typer.echo(text)
    elif json_path is not None:
        write_text(Path(json_path), text + "\n", "json")


@app.command("thresholds")
def thresholds(
    size: SizeOpt = "64",
    seed: SeedOpt = "1",
    out: OutOpt = None,
    json_path: JsonOpt = None,
    preset_name: PresetOpt = "tio2-64x64-paper",
    config: ConfigOpt = None,
    sigma: SigmaOpt = None,
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
) -> None:
    """Paper Fig. 2: measure set/reset switching thresholds of a simulated array."""
    from xbarsim.experiments import thresholds as experiment

    n = _parse_int("size", size, 1)
    s = _parse_int("seed", seed, 0)
    device = _device(preset_name, config, sigma)
    check_run(thresholds_bytes(n), f"thresholds of {n}x{n}", max_memory, out, json_path,
              seconds=thresholds_seconds(n), max_time=max_time)
    start = time.perf_counter()
    run = experiment.run_thresholds(size=n, seed=s, device=device, progress=progress)
    _finish(
        f"Switching thresholds, {n}x{n}, seed {s} (paper Fig. 2)",
        run.summary,
        experiment.comparison_rows(run.summary, device),
        time.perf_counter() - start,
        out,
        json_path,
        lambda d: experiment.write_figures(run, d),
        s,
        {"device": device},
    )


@app.command("program-image")
def program_image(
    size: SizeOpt = "64",
    seed: SeedOpt = "1",
    out: OutOpt = None,
    json_path: JsonOpt = None,
    preset_name: PresetOpt = "tio2-64x64-paper",
    config: ConfigOpt = None,
    sigma: SigmaOpt = None,
    engine: Annotated[
        str, typer.Option("--engine", help="auto, reference, cpu, cpu-direct or gpu.")
    ] = "auto",
    image: Annotated[
        Path | None,
        typer.Option(
            "--image", metavar="PATH", help="Picture file (default: scikit-learn china.jpg)."
        ),
    ] = None,
    exclusion: Annotated[
        str,
        typer.Option(
            "--exclusion",
            help="Devices left out of the statistics: error-above-95pct (the paper's rule) "
            "or fault-map-and-abandoned.",
        ),
    ] = "error-above-95pct",
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
) -> None:
    """Paper Fig. 3: tune a quantized grayscale picture into a crossbar (10-100 uS)."""
    from xbarsim.experiments import image_tuning as experiment
    from xbarsim.programming import resolve_engine

    experiment.check_exclusion(exclusion)
    n = _parse_int("size", size, 1)
    s = _parse_int("seed", seed, 0)
    device = _device(preset_name, config, sigma)
    resolve_engine(engine)
    sigma_now = max(device.thresholds.set_sigma, device.thresholds.reset_sigma)
    check_run(image_tuning_bytes(n), f"program-image of {n}x{n}", max_memory, out, json_path,
              seconds=image_tuning_seconds(n, sigma_now, engine), max_time=max_time)
    start = time.perf_counter()
    run = experiment.run_image_tuning(
        size=n,
        seed=s,
        device=device,
        engine=engine,
        image=image,
        progress=progress,
        exclusion=exclusion,
    )
    _finish(
        f"Grayscale image tuning, {n}x{n}, seed {s}, engine {run.result.engine} (paper Fig. 3)",
        run.summary,
        experiment.comparison_rows(run.summary),
        time.perf_counter() - start,
        out,
        json_path,
        lambda d: experiment.write_figures(run, d),
        s,
        {"device": device, "image_tuning": {"engine": engine, "exclusion": exclusion,
                                            "image": None if image is None else str(image)}},
    )

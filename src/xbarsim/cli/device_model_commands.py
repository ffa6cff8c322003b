"""Commands for the operating-condition models: ``device-effects`` and ``fit-device``.

``device-effects`` prints the shipped (or a device file's) temperature, retention and
nonlinearity numbers beside the thesis's statements; ``fit-device`` fits a model to a
tidy CSV of measurements and writes a device file usable with ``--config``. With
``--json -`` stdout carries exactly one JSON object and the table goes to stderr.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from xbarsim.cli import app
from xbarsim.cli.device_commands import (
    ConfigOpt,
    JsonOpt,
    PresetOpt,
    SeedOpt,
    _device,
    _parse_int,
    _write_text,
)
from xbarsim.cli.output import with_provenance
from xbarsim.experiments.resources import MAX_INSTANCES
from xbarsim.report.tables import ComparisonRow, comparison_table, print_table
from xbarsim.validation import check_count, check_outputs, check_temperature


def _emit(
    title: str,
    summary: dict,
    rows: list[ComparisonRow],
    json_path: str | None,
    seeds: int | None,
    configs: dict[str, object],
) -> None:
    to_stdout = json_path == "-"
    print_table(comparison_table(title, rows), stderr=to_stdout)
    text = json.dumps(with_provenance(summary, seeds, configs), indent=2)
    if to_stdout:
        typer.echo(text)
    elif json_path is not None:
        _write_text(Path(json_path), text + "\n", "json")


@app.command("device-effects")
def device_effects(
    json_path: JsonOpt = None,
    preset_name: PresetOpt = "tio2-64x64-paper",
    config: ConfigOpt = None,
    seed: SeedOpt = "0",
    instances: Annotated[
        str, typer.Option("--instances", metavar="INT", help="Retention populations (>= 2).")
    ] = "20",
    temp_c: Annotated[
        float | None,
        typer.Option("--temp-c", help="Also report the per-state change at this temperature."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse temperatures outside the fitted range.")
    ] = False,
) -> None:
    """Thesis ch. 2: temperature, retention and nonlinearity numbers of the device models."""
    from xbarsim.experiments import device_effects as experiment

    s = _parse_int("seed", seed, 0)
    n = check_count("instances", _parse_int("instances", instances, 2), MAX_INSTANCES)
    if temp_c is not None:
        check_temperature("temp-c", temp_c)
    check_outputs({"json": json_path}, inputs={"config": config})
    device = _device(preset_name, config, None)
    start = time.perf_counter()
    import warnings

    from xbarsim.devices import ExtrapolationWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ExtrapolationWarning)
        summary = experiment.device_effects(device, s, n, temp_c=temp_c, strict=strict)
    for warning in caught:
        typer.echo(f"warning: {warning.message}", err=True)
    rows = [
        *experiment.comparison_rows(summary),
        ComparisonRow("run time (s)", "-", f"{time.perf_counter() - start:.1f}"),
    ]
    sources = summary["coefficient_sources"]
    if set(sources.values()) == {"assumed"}:
        origin = "coefficients are assumptions (shipped placeholders)"
    elif "assumed" not in sources.values():
        origin = "coefficients from the device file"
    else:
        origin = "coefficients: " + ", ".join(
            f"{name} {'assumed' if src == 'assumed' else 'from the device file'}"
            for name, src in sources.items()
        )
    title = f"Operating-condition models (thesis ch. 2); {origin}"
    _emit(title, summary, rows, json_path, s, {"device": device})


@app.command("fit-device")
def fit_device(
    data: Annotated[Path, typer.Argument(metavar="DATA.csv", help="Tidy CSV of measurements.")],
    model: Annotated[
        str,
        typer.Option(
            "--model", help="temperature, nonlinearity, retention, thresholds or pulse."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="PATH", help="Device file to write (.yaml); usable with --config."
        ),
    ],
    json_path: JsonOpt = None,
    preset_name: PresetOpt = "tio2-64x64-paper",
    config: ConfigOpt = None,
) -> None:
    """Fit a device model to measured data (trust-region least squares) and write a preset.

    CSV columns: temperature ``device_id,temp_c,g_s,g0_s``; nonlinearity
    ``device_id,v,i_a,g_tune_s``; retention ``device_id,t_s,temp_c,g_s,g0_s``; thresholds
    ``device_id,amplitude_v,g_before_s,g_after_s``; pulse (the two-slope and three-piece
    pulse law) ``device_id,amplitude_v,pulse,g_s`` (SI units). Also writes the fit against
    the data (``NAME.fit.png``) and the residuals (``NAME.residuals.png``) next to the
    device file, which records the data file's SHA-256.
    """
    import hashlib

    import numpy as np
    import yaml

    from xbarsim import __version__
    from xbarsim.devices.fitting import FITTERS
    from xbarsim.devices.fitting import fit_device as fit
    from xbarsim.devices.measurements import read_measurements
    from xbarsim.errors import XbarsimInputError
    from xbarsim.report.fit_figures import parity_plot, pulse_fit_plot, residual_plot

    if model not in FITTERS:
        raise XbarsimInputError(f"model: unknown model {model!r}; allowed: {', '.join(FITTERS)}")
    if out.suffix not in (".yaml", ".yml"):
        raise XbarsimInputError(f"out: must end in .yaml or .yml, got {out.name!r}")
    if not out.parent.is_dir():
        raise XbarsimInputError(f"out: directory {out.parent} does not exist")
    plot = out.with_suffix(".residuals.png")
    check_outputs({"out": out, "json": json_path, "out's residual plot": plot},
                  inputs={"data": data, "config": config})
    device = _device(preset_name, config, None)
    measurements = read_measurements(data, model)
    try:
        result = fit(measurements, model, device)
    except XbarsimInputError:
        raise
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        reason = " ".join(str(exc).split())[:100]
        raise XbarsimInputError(
            f"data: {data}: the {model} fit failed ({reason}); check the values' units (SI) "
            "and that they are not extreme"
        ) from None
    fitted = result.apply_to(device)  # validated before anything is written
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    fit_plot = out.with_suffix(".fit.png")
    text = yaml.safe_dump(fitted.model_dump(mode="json"), sort_keys=False)
    header = (
        f"# fitted by xbarsim {__version__}: fit-device --model {model}\n"
        f"# source: {data.name}, sha256 {digest}\n"
    )
    _write_text(out, header + text, "out")
    title = f"fit-device {model} ({data.name}): {result.n_points} points, " + (
        f"rms {result.rms_residual:.3g} {result.residual_unit}"
    )
    residual_plot(
        plot,
        result.predictor,
        result.residuals,
        result.predictor_label,
        result.residual_unit,
        title,
    )
    if result.curves:
        pulse_fit_plot(fit_plot, result.curves, result.extras["law"], title)
    else:
        parity_plot(fit_plot, result.observed, result.residuals, result.residual_unit, title)
    for name in result.unidentifiable:
        typer.echo(
            f"warning: the data cannot identify {name} (standard error infinite); "
            "add measurements that vary it",
            err=True,
        )
    summary = {
        **result.summary(),
        "source": str(data),
        "source_sha256": digest,
        "out": str(out),
        "fit_plot": str(fit_plot),
        "residual_plot": str(plot),
    }
    rows = [
        ComparisonRow(
            name,
            "-",
            f"{value:.6g} ± {result.std_errors[name]:.2g}",
        )
        for name, value in result.coefficients.items()
    ]
    for law, info in result.extras.get("laws", {}).items():
        kept = " (written)" if law == result.extras["law"] else ""
        rows.append(ComparisonRow(
            f"{law} law{kept}", "-",
            f"BIC {info['bic']:.1f}, rms {info['rms_residual']:.3g}",
        ))
    rows += [
        ComparisonRow("rms residual", "-", f"{result.rms_residual:.3g} {result.residual_unit}"),
        ComparisonRow("points", "-", str(result.n_points)),
    ]
    _emit(
        f"fit-device --model {model} ({data.name})",
        summary,
        rows,
        json_path,
        None,
        {"device": device, "fitted_device": fitted},
    )

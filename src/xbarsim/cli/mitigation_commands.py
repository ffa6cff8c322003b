"""Chapter-2 commands: ``temperature-study``, ``defect-study`` and ``nonlinearity-study``.

Thin shells over :mod:`xbarsim.experiments.temperature_study`,
:mod:`xbarsim.experiments.defect_study` and :mod:`xbarsim.experiments.nonlinearity_study`.
Each prints published vs ours (drops only: the thesis's datasets and baselines differ, so
absolute accuracies are never compared; our software baseline is printed beside every
drop). With ``--json -`` stdout carries exactly one JSON object and the tables go to stderr.
Every input and output path is checked before any work; a refused run writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from xbarsim.cli import app
from xbarsim.cli.network_commands import (
    JsonOpt,
    OutOpt,
    ProgressOpt,
    SeedOpt,
    _emit,
    _ints,
)
from xbarsim.cli.options import (
    MaxMemoryOpt,
    MaxTimeOpt,
    SchedulerOpt,
    WorkersOpt,
    check_run,
    parse_floats,
)
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.resources import (
    MAX_EPOCHS,
    MAX_INSTANCES,
    chapter2_study_bytes,
    chapter2_study_seconds,
)
from xbarsim.report.tables import ComparisonRow, comparison_table
from xbarsim.validation import check_count, expand_range

ResultsOpt = Annotated[
    Path | None,
    typer.Option("--results", metavar="DIR", help="Parquet parts, one per finished point."),
]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue --results, skip done points.")]
Cifar10Opt = Annotated[
    Path | None,
    typer.Option("--cifar10-dir", metavar="DIR", help="CIFAR-10 python pickles; default: digits."),
]
FolderOpt = Annotated[
    Path | None,
    typer.Option(
        "--imagenet-dir", metavar="DIR", help="ImageNet-style folder: train/<class>, val/<class>."
    ),
]
EpochsOpt = Annotated[int, typer.Option(help="Baseline training epochs.")]
NTestOpt = Annotated[int | None, typer.Option("--n-test", help="Use only the first N test images.")]


def _names(text: str) -> tuple[str, ...]:
    return tuple(t.strip().lower() for t in text.split(",") if t.strip())


def temperature_grid(text: str) -> list[float]:
    """``"25:100:5"`` (inclusive start:stop:step, degrees C) or a comma-separated list."""
    if ":" not in text:
        return parse_floats("temps", text)
    return expand_range(text, "temps")


def _data(cifar10_dir: Path | None, n_test: int | None, folder: Path | None = None):
    from xbarsim.experiments.chapter2 import DataSpec

    if cifar10_dir is not None and folder is not None:
        raise XbarsimInputError("imagenet_dir: give either --cifar10-dir or --imagenet-dir")
    dataset = "cifar10" if cifar10_dir is not None else "folder" if folder else "digits"
    return DataSpec(
        dataset=dataset,
        cifar10_dir=None if cifar10_dir is None else str(cifar10_dir),
        folder_dir=None if folder is None else str(folder),
        n_test=n_test,
    )


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _checked_run(
    run: Callable[..., Any],
    setup: Any,
    what: str,
    workers: int,
    scheduler: str | None,
    results: Path | None,
    resume: bool,
    progress: bool,
    max_memory: str | None,
    out: Path | None,
    json_path: str | None,
    max_time: str | None = None,
) -> Any:
    """Check a validated chapter-2 setup's counts, outputs, memory and time, then run it.

    The time estimate counts per model a training for the baseline and one per retraining
    approach (temperature study), and a test pass per point: the product of the setup's
    other list fields and its instances.
    """
    check_count("epochs", setup.epochs, MAX_EPOCHS)
    if hasattr(setup, "instances"):
        check_count("instances", setup.instances, MAX_INSTANCES)
    points = getattr(setup, "instances", 1)
    for name, value in vars(setup).items():
        if isinstance(value, tuple) and name != "models":
            points *= len(value)
    trainings = 1 + sum(1 for a in getattr(setup, "approaches", ()) if a != 0)
    data = setup.data
    local_workers = 0 if scheduler is not None else workers
    seconds = chapter2_study_seconds(
        data.dataset, setup.models, setup.epochs, trainings, points, data.n_train, data.n_test,
        data.image_size, getattr(setup, "width", None), local_workers,
    )
    check_run(
        chapter2_study_bytes(setup.data.dataset, setup.models, workers),
        f"{what} on {setup.data.dataset}",
        max_memory,
        out,
        json_path,
        results=results,
        seconds=seconds,
        max_time=max_time,
        workers=local_workers,
    )
    return run(
        setup, progress, workers, scheduler, None if results is None else str(results), resume
    )


@app.command("temperature-study")
def temperature_study(
    models: Annotated[str, typer.Option(help="Comma-separated: convnet, resnet18.")] = (
        "convnet,resnet18"
    ),
    mappings: Annotated[str, typer.Option(help="Comma-separated: rm1, rm2, fm1, fm2.")] = (
        "rm1,rm2,fm1,fm2"
    ),
    approaches: Annotated[str, typer.Option(help="Comma-separated: 0, 1, 2, 3.")] = "0,1,2,3",
    k: Annotated[str, typer.Option("--k", help="Comma-separated reference counts.")] = "1,2,3,4",
    temps: Annotated[str, typer.Option(help="START:STOP:STEP or list (degrees C).")] = ("25:100:5"),
    temp_scale: Annotated[
        str, typer.Option(help="Memristor temperature scale: auto (calibrate RM1) or number.")
    ] = "auto",
    state_design: Annotated[
        str, typer.Option(help="Approach 3 rules: search (ours) or thesis (published).")
    ] = "search",
    epochs: EpochsOpt = 20,
    n_test: NTestOpt = None,
    cifar10_dir: Cifar10Opt = None,
    imagenet_dir: FolderOpt = None,
    workers: WorkersOpt = 0,
    scheduler: SchedulerOpt = None,
    results: ResultsOpt = None,
    resume: ResumeOpt = False,
    seed: SeedOpt = 0,
    json_path: JsonOpt = None,
    out: OutOpt = None,
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
) -> None:
    """Thesis Figs. 21-22: accuracy drop over 25-100 degC and approaches 1, 1+2, 1+2+3."""
    from xbarsim.experiments.temperature_study import (
        TemperatureStudySetup,
        plot_temperature_study,
        published_rows,
        run_temperature_study,
    )

    try:
        scale: str | float = "auto" if temp_scale == "auto" else float(temp_scale)
    except ValueError:
        raise XbarsimInputError(f"temp_scale: 'auto' or a number, got {temp_scale!r}") from None
    try:
        approach_list = tuple(int(a) for a in _names(approaches))
    except ValueError:
        raise XbarsimInputError(
            f"approaches: each must be one of 0, 1, 2, 3, got {approaches!r}"
        ) from None
    setup = TemperatureStudySetup(
        models=_names(models),
        mappings=_names(mappings),
        approaches=approach_list,
        ks=tuple(_ints("k", k)),
        temps_c=tuple(temperature_grid(temps)),
        data=_data(cifar10_dir, n_test, imagenet_dir),
        epochs=epochs,
        temp_scale=scale,
        state_design=state_design,
        seed=seed,
    ).validate()
    result = _checked_run(
        run_temperature_study, setup, "temperature-study", workers, scheduler, results, resume,
        progress, max_memory, out, json_path, max_time,
    )
    rows = [
        ComparisonRow(
            f"{label} (worst drop)",
            f"~{_pct(pub)}",
            f"{_pct(ours)} (software {_pct(sw)})",
        )
        for label, pub, ours, sw in published_rows(result)
    ]
    for name, info in result.models.items():
        rows.append(
            ComparisonRow(
                f"{name}: memristor temp_scale (ours, calibrated)",
                "-",
                f"{info['memristor_temp_scale']:.3g}",
            )
        )
    for c in result.cases:
        label = f"{c['model']} {c['mapping'].upper()} approach {c['approach']}"
        if c["k"] is not None:
            label += f" k={c['k']}"
        rows.append(
            ComparisonRow(
                label,
                "-",
                f"{_pct(c['worst_drop'])} at {c['worst_temp_c']:g} °C",
            )
        )
    title = (
        f"Worst-case accuracy drop, {setup.temps_c[0]:g}-{setup.temps_c[-1]:g} °C, on "
        f"{setup.data.dataset} (published: CIFAR-10 ConvNet / ImageNet ResNet-18; drops only)"
    )
    Console(stderr=json_path == "-", width=140).print(comparison_table(title, rows))
    if out is not None:
        for path in plot_temperature_study(result, out):
            typer.echo(str(path), err=True)
    _emit(result.to_json(), json_path, out, setup.seed, setup)


@app.command("defect-study")
def defect_study(
    models: Annotated[str, typer.Option(help="Comma-separated: convnet, resnet18.")] = (
        "convnet,resnet18"
    ),
    mappings: Annotated[str, typer.Option(help="Comma-separated: rm1, rm2.")] = "rm1",
    kinds: Annotated[str, typer.Option(help="Comma-separated: high, low, random, mixed.")] = (
        "high,low,random,mixed"
    ),
    ppm: Annotated[str, typer.Option(help="Comma-separated defect densities (ppm).")] = (
        "100,1000,10000,20000,30000"
    ),
    mitigations: Annotated[
        str, typer.Option(help="Comma-separated: none, pair, pair+column.")
    ] = "none,pair,pair+column",
    instances: Annotated[int, typer.Option(help="Instances per point (thesis: 20).")] = 20,
    epochs: EpochsOpt = 20,
    n_test: NTestOpt = None,
    cifar10_dir: Cifar10Opt = None,
    imagenet_dir: FolderOpt = None,
    workers: WorkersOpt = 0,
    scheduler: SchedulerOpt = None,
    results: ResultsOpt = None,
    resume: ResumeOpt = False,
    seed: SeedOpt = 0,
    json_path: JsonOpt = None,
    out: OutOpt = None,
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
) -> None:
    """Thesis Figs. 24-25: drop vs stuck-device density, pair retuning, extra column."""
    from xbarsim.experiments.defect_study import (
        DefectStudySetup,
        plot_defect_study,
        published_rows,
        run_defect_study,
    )
    from xbarsim.experiments.published import published

    setup = DefectStudySetup(
        models=_names(models),
        mappings=_names(mappings),
        kinds=_names(kinds),
        ppm=tuple(parse_floats("ppm", ppm)),
        mitigations=_names(mitigations),
        instances=instances,
        data=_data(cifar10_dir, n_test, imagenet_dir),
        epochs=epochs,
        seed=seed,
    ).validate()
    result = _checked_run(
        run_defect_study, setup, "defect-study", workers, scheduler, results, resume,
        progress, max_memory, out, json_path, max_time,
    )
    rows = [
        ComparisonRow(label, _pct(pub), f"{_pct(mean)} ± {_pct(std)} (software {_pct(sw)})")
        for label, pub, mean, std, sw in published_rows(result)
    ]
    tol = published()["T24_25_defects"]["tolerance_for_subpercent_drop_ppm"]
    for name, info in result.models.items():
        for mapping, by_mit in info["tolerated_ppm_subpercent"].items():
            for mit, value in by_mit.items():
                pub = f"≈{tol[name]:g}" if mit == "pair+column" and name in tol else "-"
                rows.append(
                    ComparisonRow(
                        f"{name} {mapping.upper()} sub-1% tolerance, {mit} (ppm, grid)",
                        pub,
                        f"{value:g}",
                    )
                )
    for c in result.cases:
        rows.append(
            ComparisonRow(
                f"{c['model']} {c['mapping'].upper()} {c['kind']} {c['ppm']:g} ppm "
                f"{c['mitigation']}",
                "-",
                f"{_pct(c['drop_mean'])} ± {_pct(c['drop_std'])} (n={c['instances']})",
            )
        )
    title = (
        f"Accuracy drop with stuck devices on {setup.data.dataset} "
        "(published: CIFAR-10 ConvNet / ImageNet ResNet-18, Fig. 25 mixed faults; drops only)"
    )
    Console(stderr=json_path == "-", width=140).print(comparison_table(title, rows))
    if out is not None:
        for path in plot_defect_study(result, out):
            typer.echo(str(path), err=True)
    _emit(result.to_json(), json_path, out, setup.seed, setup)


@app.command("nonlinearity-study")
def nonlinearity_study(
    models: Annotated[str, typer.Option(help="Comma-separated: convnet, resnet18.")] = (
        "convnet,resnet18"
    ),
    mappings: Annotated[str, typer.Option(help="Comma-separated: rm1, rm2.")] = "rm1,rm2",
    balancing: Annotated[str, typer.Option(help="Comma-separated: on, off.")] = "on,off",
    nonlinearity: Annotated[
        str, typer.Option(help="Device model: thesis-poly or sinh (placeholder coefficients).")
    ] = "thesis-poly",
    epochs: EpochsOpt = 20,
    n_test: NTestOpt = None,
    cifar10_dir: Cifar10Opt = None,
    imagenet_dir: FolderOpt = None,
    workers: WorkersOpt = 0,
    scheduler: SchedulerOpt = None,
    results: ResultsOpt = None,
    resume: ResumeOpt = False,
    seed: SeedOpt = 0,
    json_path: JsonOpt = None,
    out: OutOpt = None,
    progress: ProgressOpt = True,
    max_memory: MaxMemoryOpt = None,
    max_time: MaxTimeOpt = None,
) -> None:
    """Thesis 2.5: accuracy drop with I-V nonlinearity, V_tune 60 mV vs balanced."""
    from xbarsim.experiments.nonlinearity_study import (
        NonlinearityStudySetup,
        published_drop,
        run_nonlinearity_study,
    )

    setup = NonlinearityStudySetup(
        models=_names(models),
        mappings=_names(mappings),
        balancing=_names(balancing),
        nonlinearity=nonlinearity,
        data=_data(cifar10_dir, n_test, imagenet_dir),
        epochs=epochs,
        seed=seed,
    ).validate()
    result = _checked_run(
        run_nonlinearity_study, setup, "nonlinearity-study", workers, scheduler, results, resume,
        progress, max_memory, out, json_path, max_time,
    )
    rows = []
    for c in result.cases:
        pub = published_drop(c)
        rows.append(
            ComparisonRow(
                f"{c['model']} {c['mapping'].upper()} balancing {c['balancing']} "
                f"(V_tune {1e3 * c['v_tune_v']:.0f} mV)",
                "-" if pub is None else f"< {_pct(pub)}",
                f"{_pct(c['drop'])} (software {_pct(c['baseline_software_accuracy'])})",
            )
        )
    title = (
        f"Accuracy drop with I-V nonlinearity on {setup.data.dataset} "
        "(published: ImageNet ResNet-18; drops only)"
    )
    Console(stderr=json_path == "-", width=140).print(comparison_table(title, rows))
    _emit(result.to_json(), json_path, out, setup.seed, setup)

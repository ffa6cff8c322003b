"""Thesis Figs. 24-25: accuracy drop vs stuck-device density, with the mitigations.

For every (model, mapping, fault kind, density) point and hardware instance, the trained
model's weight pairs get stuck devices (:func:`xbarsim.nn.defects.defective_copy`, the
chapter-2 untiled procedure) and every mitigation (none, pair retuning, pair retuning +
compensation column + BN recalibration) is applied to the same faults (paired). Instance
``i`` of a point is seeded from (root seed, model, dataset, mapping, kind, ppm, i), so a
point's result does not depend on the grid around it or on the workers.

``tolerated_ppm_subpercent``: per model, mapping and mitigation, the largest density of the
grid (mixed faults) whose mean drop stays below 1 % with every smaller density also below.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.chapter2 import (
    MODELS,
    DataSpec,
    Job,
    StudyResult,
    check_names,
    data_fields,
    drop_stats,
    open_study,
    point_seed,
    run_jobs,
    train_baselines,
)
from xbarsim.validation import check_positive_int, check_seed

if TYPE_CHECKING:
    from torch import nn

    from xbarsim.nn.data import Dataset

KINDS = ("high", "low", "random", "mixed")
MITIGATIONS = ("none", "pair", "pair+column")
DEFECT_MAPPINGS = {"rm1": "mapping1", "rm2": "mapping2"}
#: Calibration images per model (thesis: 1.5k ConvNet, 7k ResNet-18).
CALIBRATION = {"convnet": 1500, "resnet18": 7000}


@dataclass(frozen=True)
class DefectStudySetup:
    """Grid and training parameters (module docstring).

    Attributes
    ----------
    models : tuple of {"convnet", "resnet18"}
    mappings : tuple of {"rm1", "rm2"}
        Memristor mapping 1 / 2 of the conductance pairs (10-100 uS).
    kinds : tuple of {"high", "low", "random", "mixed"}
    ppm : tuple of float
        Defect densities (ppm of devices, each in [0, 1e6]).
    mitigations : tuple of {"none", "pair", "pair+column"}
    instances : int
        Hardware instances per point (thesis: 20).
    data : DataSpec
    epochs, lr, batch_size : baseline training
    kernel : int
        Input rows per compensation pair (one pair per output per kernel).
    width : int or None
        ResNet-18 stage width.
    seed : int
    """

    models: tuple[str, ...] = MODELS
    mappings: tuple[str, ...] = ("rm1",)
    kinds: tuple[str, ...] = KINDS
    ppm: tuple[float, ...] = (100.0, 1000.0, 10000.0, 20000.0, 30000.0)
    mitigations: tuple[str, ...] = MITIGATIONS
    instances: int = 20
    data: DataSpec = field(default_factory=DataSpec)
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 64
    kernel: int = 64
    width: int | None = None
    seed: int = 0

    def validate(self) -> DefectStudySetup:
        """Check every field; raise :class:`XbarsimInputError` naming the first bad one."""
        check_names("models", self.models, MODELS)
        check_names("mappings", self.mappings, tuple(DEFECT_MAPPINGS))
        check_names("kinds", self.kinds, KINDS)
        check_names("mitigations", self.mitigations, MITIGATIONS)
        if not self.ppm or any(not (0.0 <= float(p) <= 1e6) for p in self.ppm):
            raise XbarsimInputError(f"ppm: each must lie in [0, 1e6], got {list(self.ppm)}")
        self.data.validate()
        for name in ("instances", "epochs", "batch_size", "kernel"):
            check_positive_int(name, getattr(self, name))
        if not self.lr > 0:
            raise XbarsimInputError(f"lr: must be > 0, got {self.lr:g}")
        if self.width is not None:
            check_positive_int("width", self.width)
        check_seed(self.seed)
        return self


@dataclass
class DefectStudyResult(StudyResult):
    """Cases (drops as fractions), per-model tolerances and baselines."""

    setup: DefectStudySetup


def faults_of(kind: str, ppm: float):
    """Stuck-device rates of a fault kind at ``ppm`` (mixed: a third each)."""
    from xbarsim.devices.stuck import StuckFaults

    if kind == "mixed":
        return StuckFaults.mixed(ppm)
    return StuckFaults(**{f"{kind}_ppm": ppm})


def run_point(
    model: nn.Module,
    software: float,
    data: Dataset,
    model_name: str,
    mapping: str,
    kind: str,
    ppm: float,
    setup: DefectStudySetup,
) -> list[dict[str, Any]]:
    """Rows (one per mitigation) of one point over its instances (worker entry point): the
    drop statistics and ``drops``, the drop (fraction) of every instance in order."""
    from xbarsim.nn.defects import DefectMitigation, defective_copy
    from xbarsim.nn.training import accuracy, torch_threads

    faults = faults_of(kind, ppm)
    n_cal = min(CALIBRATION[model_name], len(data.x_train))
    accs: dict[str, list[float]] = {m: [] for m in setup.mitigations}
    found: list[int] = []
    with torch_threads(1):
        for i in range(setup.instances):
            seed = point_seed(
                setup.seed,
                model=model_name,
                dataset=data.name,
                mapping=mapping,
                kind=kind,
                ppm=float(ppm),
                instance=i,
            )
            for mit in setup.mitigations:
                work, records = defective_copy(
                    model,
                    faults,
                    seed,
                    DefectMitigation(kind=mit, calibration_images=n_cal),
                    data.x_train,
                    DEFECT_MAPPINGS[mapping],
                    kernel=setup.kernel,
                )
                accs[mit].append(accuracy(work, data.x_test, data.y_test))
            found.append(sum(r.stuck_found for r in records))
    return [
        {
            "mapping": mapping,
            "kind": kind,
            "ppm": float(ppm),
            "mitigation": mit,
            **drop_stats(software - np.asarray(accs[mit])),
            "drops": [float(software - a) for a in accs[mit]],
            "instances": setup.instances,
            "stuck_found_mean": float(np.mean(found)),
        }
        for mit in setup.mitigations
    ]


def tolerated_ppm(cases: list[dict[str, Any]], limit: float = 0.01) -> float:
    """Largest density whose mean drop (and every smaller one's) stays below ``limit``."""
    best = 0.0
    for c in sorted(cases, key=lambda c: c["ppm"]):
        if c["drop_mean"] >= limit:
            break
        best = c["ppm"]
    return best


def run_defect_study(
    setup: DefectStudySetup | None = None,
    progress: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    results: str | None = None,
    resume: bool = False,
) -> DefectStudyResult:
    """Run the study (module docstring); every input is checked before any work."""
    setup = (DefectStudySetup() if setup is None else setup).validate()
    store, data = open_study(setup, "defects", workers, results, resume)
    t0 = time.perf_counter()
    trained = train_baselines(setup, data)
    seconds = {"training": time.perf_counter() - t0}
    grid = [
        (name, mapping, kind, float(ppm))
        for name in setup.models
        for mapping in setup.mappings
        for kind in setup.kinds
        for ppm in setup.ppm
    ]
    jobs = [
        Job(
            f"{name}-{mapping}-{kind}-{ppm:g}",
            run_point,
            (*trained[name], data, name, mapping, kind, ppm, setup),
        )
        for name, mapping, kind, ppm in grid
    ]
    t1 = time.perf_counter()
    rows = run_jobs(jobs, workers, scheduler, store, resume, progress, "defect points")
    seconds["points"] = time.perf_counter() - t1
    cases = [
        {"model": name, "dataset": data.name, **row, "baseline_software_accuracy": trained[name][1]}
        for (name, mapping, kind, ppm), job in zip(grid, jobs, strict=True)
        for row in rows[job.key]
    ]
    models: dict[str, dict[str, Any]] = {}
    for name in setup.models:
        tolerated: dict[str, dict[str, float]] = {}
        for mapping in setup.mappings:
            for mit in setup.mitigations:
                mixed = [
                    c
                    for c in cases
                    if c["model"] == name
                    and c["mapping"] == mapping
                    and c["kind"] == "mixed"
                    and c["mitigation"] == mit
                ]
                if mixed:
                    tolerated.setdefault(mapping, {})[mit] = tolerated_ppm(mixed)
        models[name] = {
            "baseline_software_accuracy": trained[name][1],
            "tolerated_ppm_subpercent": tolerated,
            "test_images": len(data.y_test),
        }
    seconds["total"] = time.perf_counter() - t0
    return DefectStudyResult(setup, cases, models, seconds, data_fields(data))


def published_rows(result: DefectStudyResult) -> list[tuple[str, float, float, float, float]]:
    """(label, published drop, our mean drop, our std, software accuracy) at 2e4 ppm, mixed."""
    from xbarsim.experiments.published import published

    table = published()["T24_25_defects"]
    out = []
    for mit, key in (
        ("pair", "at_20000_ppm_after_pair_retune"),
        ("pair+column", "at_20000_ppm_with_extra_column"),
    ):
        for c in result.cases:
            if c["kind"] == "mixed" and c["ppm"] == 20000.0 and c["mitigation"] == mit:
                out.append(
                    (
                        f"{c['model']} {c['mapping'].upper()} {mit} @ 2e4 ppm",
                        table[key][c["model"]],
                        c["drop_mean"],
                        c["drop_std"],
                        c["baseline_software_accuracy"],
                    )
                )
    return out


def plot_defect_study(result: DefectStudyResult, out: str | Path) -> list[Path]:
    """Fig. 24-style (drop vs ppm per kind, no mitigation) and Fig. 25-style (mixed faults,
    per mitigation, instance spread as error bars) PNGs; returns the paths."""
    from matplotlib.figure import Figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in dict.fromkeys(c["model"] for c in result.cases):
        for fig_name, group_key, fixed in (
            ("fig24_drop_vs_ppm_by_kind", "kind", ("mitigation", "none")),
            ("fig25_drop_vs_ppm_mixed", "mitigation", ("kind", "mixed")),
        ):
            mine = [c for c in result.cases if c["model"] == name and c[fixed[0]] == fixed[1]]
            if not mine:
                continue
            fig = Figure(figsize=(5.5, 3.8))
            ax = fig.subplots()
            groups: dict[tuple, list[dict]] = {}
            for c in mine:
                groups.setdefault((c["mapping"], c[group_key]), []).append(c)
            for (mapping, label), cs in groups.items():
                cs = sorted(cs, key=lambda c: c["ppm"])
                ax.errorbar(
                    [c["ppm"] for c in cs],
                    [100 * c["drop_mean"] for c in cs],
                    yerr=[100 * c["drop_std"] for c in cs],
                    marker="o",
                    capsize=3,
                    label=f"{mapping.upper()}, {label}",
                )
            ax.set_xscale("log")
            ax.set_xlabel("defective devices (ppm)")
            ax.set_ylabel("accuracy drop (%)")
            ax.set_title(f"{name}: {fixed[0]} = {fixed[1]}")
            ax.legend(fontsize=7)
            fig.tight_layout()
            path = out / f"{fig_name}_{name}.png"
            fig.savefig(path, dpi=110)
            paths.append(path)
    return paths

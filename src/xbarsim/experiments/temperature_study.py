"""Thesis Figs. 21-22: accuracy drop vs die temperature and the three mitigations.

For every model a software baseline is trained once. For every (model, mapping) point:

* approach 0: the baseline deployed through the mapping's conventional design
  (:meth:`~xbarsim.mapping.state_optimization.StateOptimization.baseline`) at every
  temperature of the grid (all temperatures in one batched pass);
* approach 1: the baseline fine-tuned with the temperature sweep
  (:func:`xbarsim.nn.temperature_training.train_temperature_sweep`);
* approach 2 (approach 1 + k-reference BN) for every k;
* approach 3 (1 + 2 + state optimization): the BN references retrained and the model
  evaluated with the weight-dependent design (``state_design``: ``"search"`` = our search
  at the thesis's dI_max with our temperature coefficients, default; ``"thesis"`` = the
  published rules).

``worst_drop`` is the maximum over the grid of (software accuracy - accuracy).
``temp_scale="auto"`` calibrates the memristor temperature model's scale per model so
that the RM1 baseline worst drop matches the thesis's (ConvNet 25 %, ResNet-18 66 %;
our reading); the eFlash scale stays 1. The temperature coefficients are placeholders, so
the calibrated scale and every approach's drop are reported as ours, not the thesis's.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
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
    open_study,
    point_seed,
    run_jobs,
    train_baseline,
)
from xbarsim.mapping.currents import CASES
from xbarsim.validation import check_positive_int, check_seed

if TYPE_CHECKING:
    from torch import nn

    from xbarsim.mapping.state_optimization import StateOptimization
    from xbarsim.nn.data import Dataset

APPROACHES = (0, 1, 2, 3)
STATE_DESIGNS = ("search", "thesis")
#: Published RM1 worst drops (fractions) the auto scale is calibrated to.
CALIBRATION_TARGET = {"convnet": 0.25, "resnet18": 0.66}


@dataclass(frozen=True)
class TemperatureStudySetup:
    """Grid and training parameters (see the module docstring).

    Attributes
    ----------
    models : tuple of {"convnet", "resnet18"}
    mappings : tuple of {"rm1", "rm2", "fm1", "fm2"}
    approaches : tuple of {0, 1, 2, 3}
    ks : tuple of int
        Reference temperatures of approaches 2 and 3 (each >= 1).
    temps_c : tuple of float
        Evaluation grid (degrees C, within [0, 150]).
    data : DataSpec
    epochs, lr, batch_size : baseline training (Adam)
    finetune_epochs : int or None
        Approach-1 fine-tuning length (default: 10 % of ``epochs``, at least 1;
        an **assumption**, our reading of the thesis).
    temp_scale : "auto" or float
        Memristor temperature scale (see the module docstring).
    state_design : {"search", "thesis"}
    width : int or None
        ResNet-18 stage width (default 16 on digits).
    seed : int
    """

    models: tuple[str, ...] = MODELS
    mappings: tuple[str, ...] = ("rm1", "rm2", "fm1", "fm2")
    approaches: tuple[int, ...] = APPROACHES
    ks: tuple[int, ...] = (1, 2, 3, 4)
    temps_c: tuple[float, ...] = tuple(float(t) for t in range(25, 101, 5))
    data: DataSpec = field(default_factory=DataSpec)
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 64
    finetune_epochs: int | None = None
    temp_scale: str | float = "auto"
    state_design: str = "search"
    width: int | None = None
    seed: int = 0

    def validate(self) -> TemperatureStudySetup:
        """Check every field; raise :class:`XbarsimInputError` naming the first bad one."""
        from xbarsim.nn.reference_bn import check_k
        from xbarsim.nn.thermal import check_temps

        check_names("models", self.models, MODELS)
        check_names("mappings", self.mappings, tuple(CASES))
        if not self.approaches or any(a not in APPROACHES for a in self.approaches):
            raise XbarsimInputError(
                f"approaches: each must be one of 0, 1, 2, 3, got {list(self.approaches)}"
            )
        if not self.ks:
            raise XbarsimInputError("k: give at least one value >= 1")
        for k in self.ks:
            check_k(k)
        check_temps(self.temps_c)
        self.data.validate()
        for name in ("epochs", "batch_size"):
            check_positive_int(name, getattr(self, name))
        if self.finetune_epochs is not None:
            check_positive_int("finetune_epochs", self.finetune_epochs)
        if not self.lr > 0:
            raise XbarsimInputError(f"lr: must be > 0, got {self.lr:g}")
        if self.temp_scale != "auto" and not (
            isinstance(self.temp_scale, int | float) and 0 < float(self.temp_scale) <= 1e3
        ):
            raise XbarsimInputError(
                f"temp_scale: must be 'auto' or a number in (0, 1000], got {self.temp_scale!r}"
            )
        if self.state_design not in STATE_DESIGNS:
            raise XbarsimInputError(
                f"state_design: must be one of {', '.join(STATE_DESIGNS)}, "
                f"got {self.state_design!r}"
            )
        if self.width is not None:
            check_positive_int("width", self.width)
        check_seed(self.seed)
        return self

    @property
    def n_finetune(self) -> int:
        """Approach-1 epochs."""
        return self.finetune_epochs or max(1, round(0.1 * self.epochs))


@dataclass
class TemperatureStudyResult(StudyResult):
    """Cases (drops as fractions) and per-model baselines."""

    setup: TemperatureStudySetup


def design(case: str, which: str, memristor_scale: float, eflash_scale: float = 1.0):
    """The mapping design of ``case`` with scaled temperature models.

    ``which``: ``"baseline"``, ``"thesis"`` or ``"search"`` (our search at the thesis's
    dI_max: 6.5 uA memristor, 30 nA eFlash).
    """
    from xbarsim.mapping.currents import CurrentStack, check_case
    from xbarsim.mapping.state_optimization import StateOptimization, search

    stack_name, mapping = check_case(case)
    if stack_name == "memristor":
        base = CurrentStack.memristor()
        temp = base.memristor_temperature.model_copy(update={"temp_scale": memristor_scale})
        stack = base.model_copy(update={"memristor_temperature": temp})
    else:
        base = CurrentStack.eflash()
        temp_e = base.eflash_temperature.model_copy(update={"temp_scale": eflash_scale})
        stack = base.model_copy(update={"eflash_temperature": temp_e})
    if which == "baseline":
        return StateOptimization.baseline(stack, mapping)
    if which == "thesis":
        return StateOptimization.thesis(stack, mapping)
    delta = StateOptimization.thesis(stack, mapping).delta_i_max_a
    cap = stack.i_cap_a
    grid = np.linspace(0.0, cap, 61)[:-1]
    return search(stack, mapping, [delta], grid, delta_i_max_a=delta, energy_weights=1000).design


def worst_drops(
    model: nn.Module,
    design_: StateOptimization,
    temps: np.ndarray,
    data: Dataset,
    software: float,
    reference: Any = None,
) -> np.ndarray:
    """Drop (fraction) at every temperature, one batched pass."""
    from xbarsim.nn.thermal import ThermalWeights, accuracy_by_temperature

    thermal = ThermalWeights(model, design_, temps)
    bn = None if reference is None else reference.stacked(temps)
    return software - accuracy_by_temperature(model, thermal, data.x_test, data.y_test, bn)


def calibrate_scale(
    model: nn.Module, data: Dataset, software: float, temps: np.ndarray, target: float
) -> float:
    """Memristor ``temp_scale`` giving an RM1 baseline worst drop of ``target`` (bisection)."""
    lo, hi = 0.0, 1.0
    while worst_drops(model, design("rm1", "baseline", hi), temps, data, software).max() < target:
        lo, hi = hi, hi * 2.0
        if hi > 256:
            return hi
    for _ in range(8):
        mid = (lo + hi) / 2.0
        d = worst_drops(model, design("rm1", "baseline", mid), temps, data, software).max()
        lo, hi = (mid, hi) if d < target else (lo, mid)
    return (lo + hi) / 2.0


def run_point(
    model: nn.Module,
    software: float,
    data: Dataset,
    case: str,
    scale: float,
    setup: TemperatureStudySetup,
    seed: int,
) -> list[dict[str, Any]]:
    """Every (approach, k) row of one (model, mapping) point (worker entry point)."""
    from xbarsim.nn.reference_bn import ReferenceBatchNorm
    from xbarsim.nn.temperature_training import train_temperature_sweep
    from xbarsim.nn.training import torch_threads

    temps = np.asarray(setup.temps_c, dtype=np.float64)
    base = design(case, "baseline", scale)
    rows: list[tuple[int, int | None, np.ndarray]] = []
    with torch_threads(1):
        if 0 in setup.approaches:
            rows.append((0, None, worst_drops(model, base, temps, data, software)))
        if any(a > 0 for a in setup.approaches):
            tuned = copy.deepcopy(model)
            train_temperature_sweep(
                tuned,
                data,
                base,
                epochs=setup.n_finetune,
                lr=setup.lr,
                batch_size=setup.batch_size,
                seed=seed,
            )
            if 1 in setup.approaches:
                rows.append((1, None, worst_drops(tuned, base, temps, data, software)))
            optimized = design(case, setup.state_design, scale) if 3 in setup.approaches else None
            for k in setup.ks:
                for approach, d in ((2, base), (3, optimized)):
                    if approach not in setup.approaches:
                        continue
                    ref = ReferenceBatchNorm.fit(
                        tuned, data, d, k, batch_size=setup.batch_size, seed=seed
                    )
                    rows.append((approach, k, worst_drops(tuned, d, temps, data, software, ref)))
    out = []
    for approach, k, drops in rows:
        worst = int(np.argmax(drops))
        out.append(
            {
                "mapping": case,
                "approach": approach,
                "k": k,
                "worst_drop": float(drops[worst]),
                "worst_temp_c": float(temps[worst]),
                "drop_by_temp": {f"{t:g}": float(d) for t, d in zip(temps, drops, strict=True)},
            }
        )
    return out


def run_temperature_study(
    setup: TemperatureStudySetup | None = None,
    progress: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    results: str | None = None,
    resume: bool = False,
) -> TemperatureStudyResult:
    """Run the study (module docstring); every input is checked before any work."""
    setup = (TemperatureStudySetup() if setup is None else setup).validate()
    store, data = open_study(setup, "temperature", workers, results, resume)
    t0 = time.perf_counter()
    temps = np.asarray(setup.temps_c, dtype=np.float64)
    trained: dict[str, tuple[Any, float, float]] = {}
    for name in setup.models:
        model, software = train_baseline(
            name, data, setup.seed, setup.epochs, setup.lr, setup.batch_size, setup.width
        )
        if setup.temp_scale == "auto":
            scale = calibrate_scale(model, data, software, temps, CALIBRATION_TARGET[name])
        else:
            scale = float(setup.temp_scale)
        trained[name] = (model, software, scale)
    seconds = {"training": time.perf_counter() - t0}
    jobs = [
        Job(
            f"{name}-{case}",
            run_point,
            (
                trained[name][0],
                trained[name][1],
                data,
                case,
                trained[name][2],
                setup,
                point_seed(setup.seed, model=name, dataset=data.name, mapping=case),
            ),
        )
        for name in setup.models
        for case in setup.mappings
    ]
    t1 = time.perf_counter()
    rows = run_jobs(jobs, workers, scheduler, store, resume, progress, "temperature points")
    seconds["points"] = time.perf_counter() - t1
    cases = []
    for name in setup.models:
        for case in setup.mappings:
            for row in rows[f"{name}-{case}"]:
                cases.append(
                    {
                        "model": name,
                        "dataset": data.name,
                        **row,
                        "baseline_software_accuracy": trained[name][1],
                    }
                )
    models = {
        name: {
            "baseline_software_accuracy": software,
            "memristor_temp_scale": scale,
            "eflash_temp_scale": 1.0,
            "test_images": len(data.y_test),
        }
        for name, (_, software, scale) in trained.items()
    }
    seconds["total"] = time.perf_counter() - t0
    return TemperatureStudyResult(setup, cases, models, seconds, data_fields(data))


def published_rows(result: TemperatureStudyResult) -> list[tuple[str, float, float, float]]:
    """(label, published drop, our drop, our software accuracy) for the RM1 headline numbers."""
    from xbarsim.experiments.published import published

    table = published()["T21_23_temperature"]
    keys = {"convnet": ("convnet_rm1_worst_drop", 3), "resnet18": ("resnet18_rm1_worst_drop", 4)}
    out = []
    for name, (key, k_pub) in keys.items():
        pub = table[key]
        for approach, label, value in (
            (0, "baseline", pub["baseline"]),
            (1, "approach 1", pub["approach1"]),
            (2, f"approach 1+2 (k {k_pub})", pub[f"approach2_k{k_pub}"]),
            (3, f"approach 1+2+3 (k {k_pub})", pub["approach3"]),
        ):
            mine = [
                c
                for c in result.cases
                if c["model"] == name
                and c["mapping"] == "rm1"
                and c["approach"] == approach
                and (c["k"] is None or c["k"] == k_pub)
            ]
            if mine:
                c = mine[0]
                out.append(
                    (f"{name} RM1 {label}", value, c["worst_drop"], c["baseline_software_accuracy"])
                )
    return out


def plot_temperature_study(result: TemperatureStudyResult, out: Any) -> list[Any]:
    """Fig. 21-style drop vs temperature (per model and mapping), Fig. 22-style worst drop
    vs k, and Fig. 23-style state-optimization maps of every mapping (temperature scale of
    the first model); returns the PNG paths."""
    from pathlib import Path

    from matplotlib.figure import Figure

    from xbarsim.mapping.state_optimization import StateOptimization, search
    from xbarsim.report.state_optimization_figures import plot_state_search

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in dict.fromkeys(c["model"] for c in result.cases):
        mine = [c for c in result.cases if c["model"] == name]
        mappings = list(dict.fromkeys(c["mapping"] for c in mine))
        fig = Figure(figsize=(4 * len(mappings), 3.6))
        axes = fig.subplots(1, len(mappings), squeeze=False)[0]
        for ax, case in zip(axes, mappings, strict=True):
            for c in (c for c in mine if c["mapping"] == case):
                if c["approach"] in (2, 3) and c["k"] != max(result.setup.ks):
                    continue
                temps = [float(t) for t in c["drop_by_temp"]]
                label = f"approach {c['approach']}" + (f" (k {c['k']})" if c["k"] else "")
                ax.plot(
                    temps, [100 * v for v in c["drop_by_temp"].values()], marker=".", label=label
                )
            ax.set_title(f"{name}, {case.upper()}")
            ax.set_xlabel("temperature (°C)")
            ax.set_ylabel("accuracy drop (%)")
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"fig21_drop_vs_temperature_{name}.png"
        fig.savefig(path, dpi=110)
        paths.append(path)
        fig = Figure(figsize=(5, 3.6))
        ax = fig.subplots()
        for case in mappings:
            for approach in (2, 3):
                pts = sorted(
                    (c["k"], c["worst_drop"])
                    for c in mine
                    if c["mapping"] == case and c["approach"] == approach
                )
                if pts:
                    ax.plot(
                        [k for k, _ in pts],
                        [100 * d for _, d in pts],
                        marker="o",
                        label=f"{case.upper()}, approach 1+2" + ("+3" if approach == 3 else ""),
                    )
        ax.set_xlabel("reference temperatures k")
        ax.set_ylabel("worst-case drop (%)")
        ax.set_title(f"{name}")
        if ax.lines:
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"fig22_worst_drop_vs_k_{name}.png"
        fig.savefig(path, dpi=110)
        paths.append(path)
    scale = next(iter(result.models.values()))["memristor_temp_scale"]
    for case in result.setup.mappings:
        base = design(case, "baseline", scale)
        delta = StateOptimization.thesis(base.stack, base.mapping).delta_i_max_a
        cap = base.stack.i_cap_a
        found = search(
            base.stack,
            base.mapping,
            np.linspace(cap / 20, cap, 20),
            np.linspace(0, cap, 31)[:-1],
            delta_i_max_a=delta,
            energy_weights=10_000,
        )
        paths.append(plot_state_search(found, out))
    return paths

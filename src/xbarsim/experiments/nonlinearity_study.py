"""Thesis section 2.5: accuracy drop with static I-V nonlinearity, with "balancing".

For every (model, mapping) point the trained model computes with the memristor
nonlinearity model (:func:`xbarsim.nn.nonlinear.nonlinear_copy`) at the thesis's
V_tune = 60 mV (balancing off) and at the V_tune chosen by balancing on the calibration
images (:func:`xbarsim.nn.nonlinear.balance_v_tune`, balancing on). The nonlinearity is
deterministic, so one evaluation per setting suffices. Published: ResNet-18 with balancing
drops < 0.4 % (RM1) and < 0.1 % (RM2); no ConvNet numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.chapter2 import (
    MODELS,
    DataSpec,
    Job,
    StudyResult,
    check_names,
    data_fields,
    open_study,
    run_jobs,
    train_baselines,
)
from xbarsim.validation import check_positive_int, check_seed

if TYPE_CHECKING:
    from torch import nn

    from xbarsim.nn.data import Dataset

NL_MAPPINGS = {"rm1": "mapping1", "rm2": "mapping2"}
BALANCING = ("on", "off")
NL_MODELS = ("thesis-poly", "sinh")


@dataclass(frozen=True)
class NonlinearityStudySetup:
    """Grid and training parameters (module docstring).

    Attributes
    ----------
    models : tuple of {"convnet", "resnet18"}
    mappings : tuple of {"rm1", "rm2"}
    balancing : tuple of {"on", "off"}
    nonlinearity : {"thesis-poly", "sinh"}
        Device model (placeholder coefficients, see :mod:`xbarsim.devices.nonlinearity`).
    calibration_images : int
        Images whose layer inputs fix the input scale and the balancing objective.
    data, epochs, lr, batch_size, width, seed : as the other chapter-2 studies
    """

    models: tuple[str, ...] = MODELS
    mappings: tuple[str, ...] = ("rm1", "rm2")
    balancing: tuple[str, ...] = BALANCING
    nonlinearity: str = "thesis-poly"
    calibration_images: int = 500
    data: DataSpec = field(default_factory=DataSpec)
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 64
    width: int | None = None
    seed: int = 0

    def validate(self) -> NonlinearityStudySetup:
        """Check every field; raise :class:`XbarsimInputError` naming the first bad one."""
        check_names("models", self.models, MODELS)
        check_names("mappings", self.mappings, tuple(NL_MAPPINGS))
        check_names("balancing", self.balancing, BALANCING)
        if self.nonlinearity not in NL_MODELS:
            raise XbarsimInputError(
                f"nonlinearity: must be one of {', '.join(NL_MODELS)}, got {self.nonlinearity!r}"
            )
        self.data.validate()
        for name in ("calibration_images", "epochs", "batch_size"):
            check_positive_int(name, getattr(self, name))
        if not self.lr > 0:
            raise XbarsimInputError(f"lr: must be > 0, got {self.lr:g}")
        if self.width is not None:
            check_positive_int("width", self.width)
        check_seed(self.seed)
        return self

    def device_model(self):
        """The nonlinearity model at the thesis's V_tune = 60 mV, V_max = 0.1 V."""
        from xbarsim.devices.nonlinearity import PolynomialNonlinearity, SinhNonlinearity

        return SinhNonlinearity() if self.nonlinearity == "sinh" else PolynomialNonlinearity()


@dataclass
class NonlinearityStudyResult(StudyResult):
    """Cases (drops as fractions) and per-model baselines."""

    setup: NonlinearityStudySetup


def run_point(
    model: nn.Module,
    software: float,
    data: Dataset,
    mapping: str,
    setup: NonlinearityStudySetup,
) -> list[dict[str, Any]]:
    """Rows (one per balancing setting) of one (model, mapping) point."""
    import warnings

    from xbarsim.devices.validity import ExtrapolationWarning
    from xbarsim.nn.nonlinear import balance_v_tune, nonlinear_copy
    from xbarsim.nn.training import accuracy, torch_threads

    nl = setup.device_model()
    x_cal = data.x_train[: setup.calibration_images]
    pair = NL_MAPPINGS[mapping]
    rows = []
    with torch_threads(1), warnings.catch_warnings():
        # inputs are scaled into the fitted range; clamped outliers only
        warnings.simplefilter("ignore", ExtrapolationWarning)
        for setting in setup.balancing:
            v_tune = nl.v_tune_v
            if setting == "on":
                v_tune, _ = balance_v_tune(model, nl, x_cal, pair)
            tuned = nl.model_copy(update={"v_tune_v": v_tune})
            acc = accuracy(nonlinear_copy(model, tuned, x_cal, pair), data.x_test, data.y_test)
            rows.append(
                {
                    "mapping": mapping,
                    "balancing": setting,
                    "v_tune_v": v_tune,
                    "drop": software - acc,
                }
            )
    return rows


def run_nonlinearity_study(
    setup: NonlinearityStudySetup | None = None,
    progress: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    results: str | None = None,
    resume: bool = False,
) -> NonlinearityStudyResult:
    """Run the study (module docstring); every input is checked before any work."""
    setup = (NonlinearityStudySetup() if setup is None else setup).validate()
    store, data = open_study(setup, "nonlinearity", workers, results, resume)
    t0 = time.perf_counter()
    trained = train_baselines(setup, data)
    seconds = {"training": time.perf_counter() - t0}
    grid = [(name, mapping) for name in setup.models for mapping in setup.mappings]
    jobs = [
        Job(f"{name}-{mapping}", run_point, (*trained[name], data, mapping, setup))
        for name, mapping in grid
    ]
    rows = run_jobs(jobs, workers, scheduler, store, resume, progress, "nonlinearity points")
    cases = [
        {"model": name, "dataset": data.name, **row, "baseline_software_accuracy": trained[name][1]}
        for (name, _), job in zip(grid, jobs, strict=True)
        for row in rows[job.key]
    ]
    models = {
        name: {"baseline_software_accuracy": acc, "test_images": len(data.y_test)}
        for name, (_, acc) in trained.items()
    }
    seconds["total"] = time.perf_counter() - t0
    return NonlinearityStudyResult(setup, cases, models, seconds, data_fields(data))


def published_drop(case: dict[str, Any]) -> float | None:
    """The thesis's bound (fraction) for ResNet-18 with balancing, where one is printed."""
    from xbarsim.experiments.published import published_value

    if case["model"] != "resnet18" or case["balancing"] != "on":
        return None
    key = f"resnet18_drop_with_nl_and_balancing_{case['mapping']}"
    return float(published_value("E7_18_nonlinearity", key))

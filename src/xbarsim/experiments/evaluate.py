"""What accuracy and energy a network gets on a chip, over conditions and chip instances
(layer 7; the ``xbarsim evaluate`` command).

One job per chip instance: the instance is programmed once from its seed
(:func:`instance_seed`: the root seed, the chip's identity, i.e. the spec without its
default conditions, and the instance index, never a grid position), then evaluated at
every (temperature, age) of the grid through :meth:`xbarsim.nn.Deployment.at`, so the same
chip is followed across conditions. Jobs run in process or on Dask
(:func:`xbarsim.experiments.chapter2.run_jobs`), with a resumable Parquet store; results
are identical either way. The result holds one case per condition and instance, the
accuracy-drop statistics per condition, the software accuracy, the cost of the deployed
chip, the spec's hash and the provenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from xbarsim.chip.spec import ChipSpec
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.chapter2 import Job, PartStore, run_jobs
from xbarsim.nn.data import Dataset
from xbarsim.provenance import provenance
from xbarsim.seeding import point_seed
from xbarsim.validation import check_count

#: Quantiles reported per condition.
QUANTILES = (0.05, 0.5, 0.95)
#: Cost entries of the result (from :meth:`xbarsim.nn.Deployment.cost`).
COST_KEYS = ("ops_per_inference", "energy_per_inference_j", "latency_s", "area_mm2",
             "programming_energy_j", "programming_time_s")


@dataclass
class EvaluateSetup:
    """A validated evaluation.

    Attributes
    ----------
    model : torch.nn.Module
        The float (software) model, trained.
    model_name : str
        How the model was given (for the record).
    data : Dataset
    spec : ChipSpec
    temps_c, ages_h : list of float
        The grid of conditions (degrees C, hours at the spec's ``bake_c``).
    instances : int
        Chip instances per condition.
    seed : int
        Root seed.
    calibration_images : int
        Training images the read path and the mitigations are calibrated on.
    """

    model: nn.Module
    model_name: str
    data: Dataset
    spec: ChipSpec
    temps_c: list[float]
    ages_h: list[float]
    instances: int
    seed: int
    calibration_images: int = 512
    conditions: list[tuple[float, float]] = field(init=False)

    def __post_init__(self) -> None:
        check_count("instances", self.instances, 100_000)
        if not self.temps_c or not self.ages_h:
            raise XbarsimInputError("temps, ages-h: need at least one value each")
        if min(self.ages_h) < 0.0:
            raise XbarsimInputError(f"ages-h: must be >= 0 hours, got {min(self.ages_h):g}")
        if self.spec.eflash and max(self.ages_h) > 0.0:
            raise XbarsimInputError(
                "ages-h: the chip's eFlash synapses have no retention model; use 0"
            )
        self.conditions = [(float(t), float(a)) for t in self.temps_c for a in self.ages_h]

    def chip_identity(self) -> str:
        """Hash of the chip without its default conditions (what an instance is)."""
        return self.spec.content_hash(exclude={"conditions", "name"})


def instance_seed(root: int, chip: str, instance: int) -> int:
    """Seed of chip instance ``instance`` (from the root seed and the chip's identity)."""
    return point_seed(root, {"chip": chip}, instance)


def evaluate_instance(
    model: nn.Module,
    spec_json: str,
    data: Dataset,
    conditions: list[tuple[float, float]],
    root: int,
    chip: str,
    instance: int,
    calibration_images: int,
) -> list[dict[str, Any]]:
    """Program one chip instance and read its accuracy at every condition (one job)."""
    from xbarsim.nn.deploy import deploy_spec
    from xbarsim.nn.training import accuracy, torch_threads

    spec = ChipSpec.model_validate_json(spec_json)
    seed = instance_seed(root, chip, instance)
    rows = []
    with torch_threads(1):
        dep = deploy_spec(model, spec, seed=seed,
                          calibration_x=data.x_train[:calibration_images])
        for temp_c, age_h in conditions:
            noise_seed = point_seed(root, {"chip": chip, "temp_c": temp_c, "age_h": age_h},
                                    instance)
            with dep.at(temp_c=temp_c, age_h=age_h, seed=noise_seed) as chip_model:
                acc = accuracy(chip_model, data.x_test, data.y_test)
            rows.append({"temp_c": temp_c, "age_h": age_h, "instance": instance,
                         "accuracy": acc})
    return rows


def summarize(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean, std and quantiles of accuracy and drop per condition, in grid order."""
    out = []
    keys = list(dict.fromkeys((c["temp_c"], c["age_h"]) for c in cases))
    for temp_c, age_h in keys:
        acc = np.array([c["accuracy"] for c in cases
                        if (c["temp_c"], c["age_h"]) == (temp_c, age_h)])
        drop = np.array([c["drop"] for c in cases
                         if (c["temp_c"], c["age_h"]) == (temp_c, age_h)])
        row: dict[str, Any] = {"temp_c": temp_c, "age_h": age_h, "instances": int(acc.size)}
        for name, values in (("accuracy", acc), ("drop", drop)):
            row[f"{name}_mean"] = float(values.mean())
            row[f"{name}_std"] = float(values.std())
            quantiles = np.quantile(values, QUANTILES)
            row[f"{name}_quantiles"] = {
                f"{int(q * 100)}": float(v) for q, v in zip(QUANTILES, quantiles, strict=True)
            }
        out.append(row)
    return out


#: Test images whose forward passes the activity cost is taken from.
COST_IMAGES = 256


def chip_cost(setup: EvaluateSetup) -> dict[str, Any]:
    """Cost of the deployed chip (instance 0) from the activity of the forward passes on
    the first :data:`COST_IMAGES` test images (:meth:`xbarsim.nn.Deployment.cost`)."""
    from xbarsim.nn.deploy import deploy_spec

    seed = instance_seed(setup.seed, setup.chip_identity(), 0)
    dep = deploy_spec(setup.model, setup.spec, seed=seed,
                      calibration_x=setup.data.x_train[: setup.calibration_images])
    full = dep.cost(setup.spec.chip_config(), activity=setup.data.x_test[:COST_IMAGES])
    out: dict[str, Any] = {key: float(full.get(key, 0.0)) for key in COST_KEYS}
    out["energy_breakdown_j"] = dict(full.get("energy_breakdown_j", {}))
    out["area_breakdown_mm2"] = dict(full.get("area_breakdown_mm2", {}))
    out["programming_method"] = str(full.get("programming_method", "none"))
    out["programming_energy_breakdown_j"] = dict(full.get("programming_energy_breakdown_j", {}))
    out["programming_layers"] = {
        name: {key: float(layer[key]) for key in ("programming_energy_j", "programming_time_s")}
        for name, layer in dict(full.get("programming_layers", {})).items()
    }
    return out


def run_evaluate(
    setup: EvaluateSetup,
    workers: int = 0,
    scheduler: str | None = None,
    store_path: str | None = None,
    resume: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate ``setup`` (module docstring); returns the JSON-ready result."""
    from xbarsim.nn.training import accuracy

    chip = setup.chip_identity()
    spec_json = setup.spec.model_dump_json()
    software = accuracy(setup.model, setup.data.x_test, setup.data.y_test)
    jobs = [
        Job(f"instance-{i}", evaluate_instance,
            (setup.model, spec_json, setup.data, setup.conditions, setup.seed, chip, i,
             setup.calibration_images))
        for i in range(setup.instances)
    ]
    store = None
    if store_path is not None:
        meta = {"study": "evaluate", "spec_hash": setup.spec.content_hash(),
                "model": setup.model_name, "data": setup.data.name, "seed": setup.seed,
                "conditions": setup.conditions, "instances": setup.instances,
                "calibration_images": setup.calibration_images}
        store = PartStore(store_path, meta)
    rows = run_jobs(jobs, workers, scheduler, store, resume, progress, label="chip instances")
    cases = []
    for job in jobs:
        for row in rows[job.key]:
            cases.append({**row, "drop": software - row["accuracy"]})
    cases.sort(key=lambda c: (setup.conditions.index((c["temp_c"], c["age_h"])), c["instance"]))
    return {
        "model": setup.model_name,
        "data": setup.data.name,
        "dataset": setup.data.name,
        "test_images": setup.data.test_images,
        "image_accuracy": setup.data.image_accuracy,
        "spec": setup.spec.model_dump(mode="json"),
        "spec_hash": setup.spec.content_hash(),
        "effects": setup.spec.effects(),
        "software_accuracy": software,
        "cases": cases,
        "conditions": summarize(cases),
        "cost": chip_cost(setup),
        "provenance": provenance(seeds=setup.seed, configs={"spec": setup.spec}),
    }

"""The jobs of ``xbarsim reproduce``: each calls one experiment's library entry point (layer 7).

A job returns rows (see :mod:`xbarsim.reproduce`): per-instance values, or
statistics where a study keeps only those, the figures matching the source document's
figure (base64 PNG) and one provenance row (wall time in s, configuration hash, engine).
Instance seeds derive from the root seed and the instance's identity, never its position in
the job list.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xbarsim import seeding
from xbarsim.experiments.chapter2 import Job

if TYPE_CHECKING:
    from xbarsim.experiments.chapter2 import DataSpec

Rows = list[dict[str, Any]]


def config_hash(settings: dict[str, Any]) -> str:
    """Short SHA-256 of canonical JSON settings (identifies a configuration)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def instance_seed(root: int, experiment: str, instance: int) -> int:
    """Seed of one instance from the root seed and its identity (never a grid position);
    32 bits, as every experiment entry point (and scikit-learn) accepts."""
    return seeding.point_seed(root, {"experiment": experiment, "instance": instance}) % 2**32


def figure_rows(experiment: str, write: Callable[[Path], list[Path]]) -> Rows:
    """Rows holding the PNG figures that ``write(directory)`` produces."""
    with tempfile.TemporaryDirectory(prefix="xbarsim-fig-") as tmp:
        paths = [Path(p) for p in write(Path(tmp))]
        return [
            {
                "id": experiment,
                "figure": p.stem,
                "png": base64.b64encode(p.read_bytes()).decode("ascii"),
            }
            for p in sorted(paths)
            if p.suffix == ".png"
        ]


def value_rows(experiment: str, instance: int, values: dict[str, float]) -> Rows:
    """One ``{"id", "quantity", "instance", "value"}`` row per quantity of one instance."""
    return [
        {"id": experiment, "quantity": q, "instance": instance, "value": float(v)}
        for q, v in values.items()
    ]


def timed_rows(experiment: str, key: str, settings: dict[str, Any], start: float, rows: Rows,
               engine: str = "-") -> Rows:
    """Append the job's provenance row (wall time in s; ``engine`` as resolved here)."""
    from xbarsim.programming.engine import resolve_engine

    rows.append({"id": experiment, "job": key, "wall_s": time.perf_counter() - start,
                 "config_hash": config_hash(settings),
                 "engine": engine if engine == "-" else resolve_engine(engine)})
    return rows


# -- P2: threshold extraction (paper Fig. 2) ---------------------------------------------------

def p2_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """One 64 x 64 (or smaller) threshold extraction; the paper's Fig. 2 quantities."""
    from xbarsim.experiments.thresholds import run_thresholds, write_figures

    start = time.perf_counter()
    ex = "P2_thresholds"
    run = run_thresholds(size=settings["size"], seed=instance_seed(seed, ex, instance))
    keys = ("set_mean_v", "set_std_v", "reset_mean_v", "reset_std_v", "unswitchable_fraction")
    rows = value_rows(ex, instance, {k: run.summary[k] for k in keys})
    if instance == 0:
        rows += figure_rows(ex, lambda d: write_figures(run, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows)


# -- P3: image programming (paper Fig. 3) ------------------------------------------------------

def p3_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """Program the paper's picture into one crossbar; Fig. 3 error statistics."""
    from xbarsim.experiments.image_tuning import run_image_tuning, write_figures

    start = time.perf_counter()
    ex = "P3_image_tuning"
    run = run_image_tuning(size=settings["size"], seed=instance_seed(seed, ex, instance),
                           engine=settings["engine"])
    rows = value_rows(ex, instance, {"within_5pct_fraction": run.summary["within_5pct_fraction"],
                                     "mean_error": run.summary["mean_error"]})
    if instance == 0:
        rows += figure_rows(ex, lambda d: write_figures(run, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows, settings["engine"])


# -- P4: single-layer perceptron on MNIST (paper Fig. 4) --------------------------------------

def p4_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """Train the 64 x 10 perceptron on one fold of the bundled MNIST subset (instance ``k``
    holds out fold ``k mod 5``, seeded from its identity), program ``hardware`` crossbars:
    the mean programmed gap, the import-error gap at 1 % beside it, one image's accuracy."""
    from xbarsim.experiments.digits_perceptron import (
        PerceptronSetup,
        plot_digits_perceptron,
        run_digits_perceptron,
    )
    from xbarsim.nn.data import SUBSET_FOLDS

    start = time.perf_counter()
    ex = "P4_digits_perceptron"
    setup = PerceptronSetup(seed=instance_seed(seed, ex, instance), epochs=settings["epochs"],
                            trials=settings["trials"], instances=settings["hardware"],
                            fold=instance % SUBSET_FOLDS, import_errors=(0.01, 0.1, 0.5))
    result = run_digits_perceptron(setup)
    rows = value_rows(ex, instance, {"programmed_gap": result.programmed_gap["mean"],
                                     "import_gap_at_1pct": result.gap_at_1pct,
                                     "image_accuracy": result.image_accuracy})
    if instance == 0:
        rows += figure_rows(ex, lambda d: plot_digits_perceptron(result, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows)


# -- T28: half-select on a 64 x 64 crossbar (thesis Figs. 28-29) -------------------------------

def t28_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """One crossbar pair per sigma at N = 64, target 1 %; tuning and VMM p99 errors; from
    instance 0 the figures of thesis Figs. 28-29 (tuning error per pass, final tuning-error
    and VMM-error distributions at sigma 0.05 and 0.25)."""
    import pandas as pd

    from xbarsim.experiments.vmm_study import VmmCase, run_instances
    from xbarsim.report.study_figures import error_distributions, error_per_pass

    start = time.perf_counter()
    ex = "T28_half_select_64"
    values: dict[str, float] = {}
    cases: list[dict[str, Any]] = []
    for sigma, tag in ((0.05, "0p05"), (0.25, "0p25")):
        case = VmmCase(size=settings["size"], sigma=sigma, target=0.01,
                       crossbars=settings["instances"], weight_sets=1,
                       inputs=settings["inputs"])
        (row,) = run_instances(case, seed, instance, 1, engine=settings["engine"])
        values[f"tuning_error_p99_sigma_{tag}"] = row["tuning_error_p99"]
        values[f"vmm_error_p99_sigma_{tag}"] = row["vmm_error_p99"]
        cases.append(row)
    rows = value_rows(ex, instance, values)
    if instance == 0:
        frame = pd.DataFrame(cases)
        rows += figure_rows(ex, lambda d: error_per_pass(frame, d) + error_distributions(frame, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows, settings["engine"])


# -- T30: the VMM grid's derived ratios (thesis Fig. 30) --------------------------------------

def t30_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """One crossbar pair at N = 64, 1 %: the n_HS ratio sigma 0.30 / 0.25 and the sigma = 0
    half-select penalty (baseline against no half-select), paired on the same hardware; from
    instance 0 the final error distributions at N = 64 (a slice of thesis Fig. 30)."""
    import pandas as pd

    from xbarsim.experiments.vmm_study import VmmCase, run_instances
    from xbarsim.report.study_figures import error_distributions

    start = time.perf_counter()
    ex = "T30_vmm_grid"

    def one(sigma: float, algorithm: str) -> dict[str, Any]:
        case = VmmCase(size=settings["size"], sigma=sigma, target=0.01, algorithm=algorithm,
                       crossbars=settings["instances"], weight_sets=1,
                       inputs=settings["inputs"])
        return run_instances(case, seed, instance, 1, engine=settings["engine"])[0]

    low, high = one(0.25, "baseline"), one(0.30, "baseline")
    with_hs, without = one(0.0, "baseline"), one(0.0, "no-hs")
    values = {
        "n_hs_ratio_sigma_0p30_over_0p25_at_64": high["n_hs"] / max(low["n_hs"], 1e-12),
        "sigma0_penalty_mean_error_at_64_target_1pct":
            with_hs["vmm_error_mean"] / without["vmm_error_mean"] - 1.0,
    }
    rows = value_rows(ex, instance, values)
    if instance == 0:  # the N = 64 slice of Fig. 30: error distributions per sigma
        frame = pd.DataFrame([with_hs, low, high, without])
        rows += figure_rows(ex, lambda d: error_distributions(frame, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows, settings["engine"])


# -- IR drop (no published line resistance; thesis 1.2.2, 2.5, 4.1.2) --------------------------

def irdrop_job(settings: dict[str, Any], seed: int) -> Rows:
    """VMM p99 error of 64 x 64 arrays at the derived 1.2 Ohm per segment (ideal devices)."""
    from xbarsim.experiments.irdrop_study import vmm_point

    start = time.perf_counter()
    ex = "F_ir_drop_statements"
    record = vmm_point(settings["size"], settings["r_wire_ohm"], settings["instances"],
                       settings["inputs"], seed)
    rows: Rows = [{"id": ex, "quantity": "numeric_line_resistance",
                   "mean": record["error_p99_mean"], "std": record["error_p99_std"],
                   "n": settings["instances"]}]
    return timed_rows(ex, ex, settings, start, rows)


# -- T31-33: networks on crossbars with HAT (thesis Figs. 31-33) -------------------------------

def t31_job(settings: dict[str, Any], seed: int) -> Rows:
    """ConvNet on the digits at N = 64, sigma 0.25, without and with HAT (zeta 0.20)."""
    from xbarsim.experiments.network_study import (
        NetworkStudySetup,
        plot_network_study,
        run_network_study,
    )

    start = time.perf_counter()
    ex = "T31_33_networks"
    setup = NetworkStudySetup(models=("convnet",), sizes=(64,), sigmas=(0.25,),
                              zetas=(0.0, 0.20), instances=settings["instances"],
                              epochs=settings["epochs"], n_test=settings["n_test"], seed=seed,
                              engine=settings["engine"])
    result = run_network_study(setup)
    rows: Rows = []
    for case in result.cases:
        key = ("convnet_drop_sigma_0p25_n64" if case["zeta"] == 0.0
               else "convnet_drop_with_hat_zeta_0p20")
        for k, acc in enumerate(case["accuracies"]):
            rows += value_rows(ex, k, {key: case["software_accuracy"] - acc})
    rows += image_rows(ex, settings)
    rows += figure_rows(ex, lambda d: plot_network_study(result, d))
    return timed_rows(ex, ex, settings, start, rows, settings["engine"])


# -- chapter-2 studies on the digits (thesis Figs. 21-25, 2.5) ---------------------------------

def data_spec(settings: dict[str, Any]) -> DataSpec:
    from xbarsim.experiments.chapter2 import DataSpec

    return DataSpec(n_test=settings["n_test"]).validate()


def image_rows(experiment: str, settings: dict[str, Any], instance: int = 0) -> Rows:
    """The ``image_accuracy`` row: the accuracy one test image of the settings' digits test
    set is worth (fraction)."""
    n = len(data_spec(settings).load().y_test)
    return value_rows(experiment, instance, {"image_accuracy": 1.0 / n})


def t21_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """Worst-case ConvNet RM1 drop over 25-100 degC for baseline and approaches 1-3: one
    instance is the whole study (training included) from the instance's own seed."""
    from xbarsim.experiments.temperature_study import (
        TemperatureStudySetup,
        plot_temperature_study,
        run_temperature_study,
    )

    start = time.perf_counter()
    ex = "T21_23_temperature"
    setup = TemperatureStudySetup(models=("convnet",), mappings=("rm1",), approaches=(0, 1, 2, 3),
                                  ks=(3,), temps_c=tuple(settings["temps_c"]),
                                  data=data_spec(settings), epochs=settings["epochs"],
                                  seed=instance_seed(seed, ex, instance)).validate()
    result = run_temperature_study(setup)
    names = {0: "baseline", 1: "approach1", 2: "approach2_k3", 3: "approach3"}
    values = {f"convnet_rm1_worst_drop.{names[c['approach']]}": c["worst_drop"]
              for c in result.cases if c["k"] in (None, 3)}
    rows = value_rows(ex, instance, values) + image_rows(ex, settings, instance)
    if instance == 0:
        rows += figure_rows(ex, lambda d: plot_temperature_study(result, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows)


def t24_job(settings: dict[str, Any], seed: int) -> Rows:
    """ConvNet RM1 with 2e4 ppm mixed stuck devices: pair retuning and the extra column; one
    value row per hardware instance (the study seeds instance ``i`` from its identity)."""
    from xbarsim.experiments.defect_study import (
        DefectStudySetup,
        plot_defect_study,
        run_defect_study,
    )

    start = time.perf_counter()
    ex = "T24_25_defects"
    setup = DefectStudySetup(models=("convnet",), mappings=("rm1",), kinds=("mixed",),
                             ppm=(20000.0,), mitigations=("pair", "pair+column"),
                             instances=settings["instances"], data=data_spec(settings),
                             epochs=settings["epochs"], seed=seed).validate()
    result = run_defect_study(setup)
    keys = {"pair": "at_20000_ppm_after_pair_retune.convnet",
            "pair+column": "at_20000_ppm_with_extra_column.convnet"}
    rows: Rows = [
        row
        for c in result.cases
        for i, drop in enumerate(c["drops"])
        for row in value_rows(ex, i, {keys[c["mitigation"]]: drop})
    ]
    rows += image_rows(ex, settings)
    rows += figure_rows(ex, lambda d: plot_defect_study(result, d))
    return timed_rows(ex, ex, settings, start, rows)


def e7_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """ResNet-18 (digits width) with the thesis's I-V nonlinearity and V_tune balancing: one
    instance is the whole study (training included) from the instance's own seed, so the
    drops have a standard error over instances."""
    from xbarsim.experiments.nonlinearity_study import (
        NonlinearityStudySetup,
        run_nonlinearity_study,
    )

    start = time.perf_counter()
    ex = "E7_18_nonlinearity"
    setup = NonlinearityStudySetup(models=("resnet18",), mappings=("rm1", "rm2"),
                                   balancing=("on",), data=data_spec(settings),
                                   epochs=settings["epochs"],
                                   seed=instance_seed(seed, ex, instance)).validate()
    result = run_nonlinearity_study(setup)
    values = {f"resnet18_drop_with_nl_and_balancing_{c['mapping']}": c["drop"]
              for c in result.cases}
    return timed_rows(ex, f"{ex}-{instance}", settings, start,
                      value_rows(ex, instance, values) + image_rows(ex, settings, instance))


# -- T51-56: VMM cost trends and the MLP chip (thesis 4.1.2) -----------------------------------

def t51_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """The 784-64-10 MLP chip (energy, latency) and the VMM-cost trends in N."""
    from xbarsim.experiments.mlp_chip import run_mlp_chip, write_figures
    from xbarsim.experiments.vmm_cost import run_vmm_cost
    from xbarsim.reproduce.printed_budget import component_sum_gop_per_j

    start = time.perf_counter()
    ex = "T51_56_energy"
    run = run_mlp_chip(seed=instance_seed(seed, ex, instance), epochs=settings["epochs"],
                       engine=settings["engine"])
    s = run.summary
    cost = run_vmm_cost([16, 32, 64, 128], ["analog"])
    slopes = cost["slopes"]["analog"]
    bands = cost["slope_bands"]
    metrics = {"energy_efficiency": "energy_eff_op_per_j", "throughput": "ops_per_s",
               "area_efficiency": "ops_per_s_per_mm2"}
    trend = {k: float(slopes[m] is not None and bands[m][0] <= slopes[m] <= bands[m][1])
             for k, m in metrics.items()}
    values = {
        "mlp_chip.energy_efficiency_gop_per_j": s["ops_per_j"] / 1e9,
        "mlp_chip.component_sum_gop_per_j": component_sum_gop_per_j(),
        "mlp_chip.latency_s": s["latency_s"],
        "mlp_chip.devices": s["devices"],
        "mlp_chip.synapses": s["synapses"],
        **{f"trends.{m}": v for m, v in trend.items()},
    }
    rows = value_rows(ex, instance, values)
    if instance == 0:
        rows += figure_rows(ex, lambda d: write_figures(run, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows, settings["engine"])


# -- T60: TIA offset compensation (thesis Figs. 59-61) -----------------------------------------

def t60_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """Compensate 40 TIA offsets with memristor pairs; the largest offset left (V)."""
    from xbarsim.experiments.offset_compensation import run_offset_compensation, write_figures

    start = time.perf_counter()
    ex = "T60_offset_compensation"
    run = run_offset_compensation(tias=40, seed=instance_seed(seed, ex, instance))
    s = run.summary
    rows = value_rows(ex, instance,
                      {"after_compensation_max_offset_v": s["max_abs_after_switchable_v"],
                       "tias_with_unswitchable_device": s["tias_with_unswitchable_device"]})
    if instance == 0:
        rows += figure_rows(ex, lambda d: write_figures(run, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows)


def per_instance(ex: str, fn: Callable[..., Rows]) -> Callable[[dict[str, Any], int], list[Job]]:
    """A plan of one job per instance: ``fn(settings, seed, k)``, key ``<ex>-<k>``."""
    def plan(settings: dict[str, Any], seed: int) -> list[Job]:
        return [Job(f"{ex}-{k}", fn, (settings, seed, k)) for k in range(settings["instances"])]

    return plan


def single(ex: str, fn: Callable[..., Rows]) -> Callable[[dict[str, Any], int], list[Job]]:
    """A plan of one job for a study that draws its instances itself: ``fn(settings, seed)``."""
    def plan(settings: dict[str, Any], seed: int) -> list[Job]:
        return [Job(ex, fn, (settings, seed))]

    return plan

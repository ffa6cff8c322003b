"""The chapter-2 device and mitigation jobs of ``xbarsim reproduce`` (layer 7).

Jobs for the ``E*`` ids of ``published.yaml`` whose machinery lives in the device,
programming and mapping layers and the chapter-2 studies: the temperature model (Fig. 8),
single-device tuning (Fig. 9a), retention details (Figs. 10-11), the temperature
mitigation details (Figs. 21-23), the defect details (Fig. 24) and the threshold refresh
(Fig. 34). Same contract as :mod:`xbarsim.reproduce.jobs`: a job returns
per-instance value rows, the figure matching the source document's figure (base64 PNG)
and one provenance row; instance seeds come from
:func:`~xbarsim.reproduce.jobs.instance_seed`.

Several quantities only read back what a preset or closed-form formula was set from; their
entries in :data:`xbarsim.reproduce.EXPERIMENTS` carry the ``readback`` rules,
so the page labels them *by construction*.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xbarsim.experiments.published import published
from xbarsim.report.figures import save_figure
from xbarsim.reproduce.jobs import (
    Rows,
    data_spec,
    figure_rows,
    image_rows,
    instance_seed,
    timed_rows,
    value_rows,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: The device population of the chapter-2 device experiments (the paper's TiO2 crossbar).
DEVICE = "tio2-64x64-paper"
#: Devices whose pulse-by-pulse traces the Fig. 9a-style figure shows.
TRACE_DEVICES = 5
#: Normalized-state bands of the drift-direction check (w0 = G / 100 uS).
LOW_STATES_W0 = 0.15
MID_STATES_W0 = (0.3, 0.7)
HIGH_STATES_W0 = 0.9
#: Mid-range states drift "both ways, roughly symmetric": the fraction drifting up lies in
#: this band.
MID_UP_FRACTION = (0.35, 0.65)
#: A histogram counts as symmetric when its sample skewness lies within this many standard
#: errors (sqrt(6 / n)) of zero.
SKEW_SIGMAS = 3.0
#: Classes of the digits; "almost entirely random" is a drop towards 1 - 1 / CLASSES.
CLASSES = 10


def target_tag(target_s: float) -> str:
    """Row-key suffix of a conductance target (S): ``1.7e-6`` -> ``1p7us``."""
    return f"{target_s * 1e6:g}".replace(".", "p") + "us"


def rule_tag(r: float) -> str:
    """Row-key suffix of a weight ratio ``r = |w| / w_max``: ``0.25`` -> ``r0p25``."""
    return "r" + f"{r:g}".replace(".", "p")


# -- E8-17: the memristor temperature model (thesis Fig. 8) ------------------------------------

def e8_job(settings: dict[str, Any], seed: int) -> Rows:
    """The PTAT/CTAT crossover (S) of the shipped memristor temperature model and the
    Fig. 8-style relative change vs conductance (deterministic: one instance)."""
    from xbarsim.devices.config import preset

    start = time.perf_counter()
    ex = "E8_17_temperature_model"
    temp = preset(settings["device"]).conditions.temperature
    crossover = temp.crossover_s()
    rows = value_rows(ex, 0, {"memristor_crossover_s": crossover})

    def write(d: Path) -> list[Path]:
        from matplotlib.figure import Figure

        g = np.linspace(10e-6, 100e-6, 181)
        fig = Figure(figsize=(5.2, 3.6))
        ax = fig.subplots()
        for t in (50.0, 75.0, 100.0):
            ax.plot(g * 1e6, 100 * temp.relative_change(temp.w0_of(g), t), label=f"{t:g} °C")
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.axvline(crossover * 1e6, color="k", ls=":", label=f"ours {crossover * 1e6:.1f} uS")
        pub = published()[ex]["memristor_crossover_s"]["value"]
        ax.axvline(pub * 1e6, color="red", ls="--", label=f"published ~{pub * 1e6:g} uS")
        ax.set_xlabel("conductance at 25 °C (uS)")
        ax.set_ylabel("relative change (%)")
        ax.set_title("memristor temperature model (placeholder coefficients)", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        return [save_figure(fig, d / "fig8_relative_change_vs_conductance.png")]

    rows += figure_rows(ex, write)
    return timed_rows(ex, ex, settings, start, rows)


# -- E9-16: single-device tuning (thesis Fig. 9a) ----------------------------------------------

def e9_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """Tune ``devices`` single devices (no half-select) consecutively to the published
    targets with the thesis's write-verify at the published target error; per target the
    fraction reaching it within the published pulse count, and the median pulse count."""
    from xbarsim.crossbar.array import Crossbar
    from xbarsim.crossbar.bias import BiasScheme
    from xbarsim.devices.config import preset
    from xbarsim.programming import WriteVerify, program

    start = time.perf_counter()
    ex = "E9_16_single_device_tuning"
    spec = published()[ex]["memristor"]["value"]
    xbars = Crossbar.sample(preset(settings["device"]), (1, 1), batch=settings["devices"],
                            seed=instance_seed(seed, ex, instance))
    algorithm = WriteVerify.thesis(tolerance=spec["target_error"], scheme=BiasScheme.NONE)
    initial = xbars.subset(range(min(TRACE_DEVICES, xbars.batch)))
    values: dict[str, float] = {}
    for target in spec["targets_s"]:
        result = program(xbars, np.full((1, 1), target), algorithm, engine=settings["engine"])
        error = np.abs(result.conductance / target - 1.0).ravel()
        pulses = result.pulses.ravel()
        ok = (error <= spec["target_error"] * (1 + 1e-9)) & (pulses <= spec["pulses_below"])
        tag = target_tag(target)
        values[f"fraction_within_target_in_pulses.{tag}"] = float(ok.mean())
        values[f"pulses_median.{tag}"] = float(np.median(pulses))
    rows = value_rows(ex, instance, values)
    if instance == 0:
        traces = tuning_traces(initial, spec["targets_s"], algorithm)
        rows += figure_rows(ex, lambda d: _plot_traces(traces, spec, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows, settings["engine"])


def tuning_traces(xbars: Any, targets_s: list[float], algorithm: Any) -> list[list[float]]:
    """Conductance (S) after every pulse of each single-device crossbar of ``xbars``, tuned
    consecutively to ``targets_s`` with the reference engine's per-device write-verify
    (``xbars`` is changed in place)."""
    from xbarsim.programming.reference import tune_device

    traces = []
    for b in range(xbars.batch):
        trace = [float(xbars.conductance[b, 0, 0])]
        for target in targets_s:
            hit = np.zeros((1, 1), dtype=bool)
            for p in range(algorithm.passes):
                if abs(xbars.conductance[b, 0, 0] / target - 1.0) <= algorithm.tolerance:
                    break
                tune_device(xbars, b, 0, 0, target, algorithm, hit, p, trace=trace)
        traces.append(trace)
    return traces


def _plot_traces(traces: list[list[float]], spec: dict[str, Any], d: Path) -> list[Path]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 3.6))
    ax = fig.subplots()
    for trace in traces:
        ax.plot(np.arange(len(trace)), np.asarray(trace) * 1e6, lw=0.9)
    for target in spec["targets_s"]:
        ax.axhline(target * 1e6, color="red", ls="--", lw=0.7)
    ax.set_yscale("log")
    ax.set_xlabel("pulse number")
    ax.set_ylabel("conductance (uS)")
    ax.set_title(f"{len(traces)} devices tuned to "
                 + ", ".join(f"{t * 1e6:g}" for t in spec["targets_s"])
                 + f" uS ({spec['target_error']:.0%})", fontsize=9)
    fig.tight_layout()
    return [save_figure(fig, d / "fig9a_single_device_traces.png")]


# -- E10-15: retention details (thesis Figs. 10-11) --------------------------------------------

def drift_directions_hold(w0: NDArray[np.float64], shift: NDArray[np.float64]) -> bool:
    """Whether a population's drift has the published directions: mid-range states both
    ways (roughly symmetric), very high states down, very low states up.

    Parameters
    ----------
    w0 : ndarray
        Programmed states normalized to 100 uS.
    shift : ndarray
        Relative shifts (fraction), same shape.
    """
    mid = (w0 >= MID_STATES_W0[0]) & (w0 <= MID_STATES_W0[1])
    up = float(np.mean(shift[mid] > 0.0))
    return bool(MID_UP_FRACTION[0] <= up <= MID_UP_FRACTION[1]
                and shift[w0 >= HIGH_STATES_W0].mean() < 0.0
                and shift[w0 <= LOW_STATES_W0].mean() > 0.0)


def t10_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """Whether most devices (more than half, our reading of "most") of one Fig. 10b
    population (400 x 7 devices, 10-100 uS) shift less than 2 % after the published 14
    years at 25 degC (1.0 yes, 0.0 no); from instance 0 the Fig. 11 figure."""
    from xbarsim.devices.config import preset
    from xbarsim.experiments.device_effects import retention_population

    start = time.perf_counter()
    ex = "T10_11_retention"
    entry = published()[ex]
    device = preset(DEVICE)
    years = float(entry["bake"]["equivalent_room_temperature_years"])
    limit = float(entry["most_devices_shift_below"]["value"])
    g0, shift = retention_population(device, instance_seed(seed, ex, instance), 1, years)
    g0, shift = g0[0].ravel(), shift[0].ravel()
    rows = value_rows(ex, instance,
                      {"most_devices_shift_below": float(np.mean(np.abs(shift) < limit) > 0.5)})
    if instance == 0:
        ret = device.conditions.retention
        rows += figure_rows(ex, lambda d: _plot_retention(g0, shift, ret, years, limit, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows)


def e10_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """One Fig. 10b population (400 x 7 devices, 10-100 uS) aged 14 years at 25 degC:
    whether most devices shift below 2 % and whether the drift directions hold; the
    Arrhenius factor and projected years of the published bake (instance 0)."""
    from xbarsim.devices.config import preset
    from xbarsim.experiments.device_effects import retention_population

    start = time.perf_counter()
    ex = "E10_15_retention_details"
    entry = published()[ex]
    device = preset(settings["device"])
    ret = device.conditions.retention
    years = float(entry["projected_years_min"]["value"])
    g0, shift = retention_population(device, instance_seed(seed, ex, instance), 1, years)
    g0, shift = g0[0].ravel(), shift[0].ravel()
    limit = entry["most_devices_shift_below"]["value"]
    values = {
        "most_devices_shift_below": float(np.mean(np.abs(shift) < limit) > 0.5),
        "drift_direction": float(drift_directions_hold(g0 / ret.g_ref_s, shift)),
    }
    rows: Rows = []
    if instance == 0:
        bake_c, bake_h = entry["setup"]["bake_c"], entry["setup"]["bake_h_min"]
        values["arrhenius_acceleration_25c"] = ret.acceleration(bake_c, 25.0)
        values["projected_years_min"] = ret.equivalent_years(bake_h, bake_c)
        rows += figure_rows(ex, lambda d: _plot_retention(g0, shift, ret, years, limit, d))
    rows = value_rows(ex, instance, values) + rows
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows)


def _plot_retention(g0: NDArray, shift: NDArray, ret: Any, years: float, limit: float,
                    d: Path) -> list[Path]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.5, 3.4))
    ax, bx = fig.subplots(1, 2)
    ax.scatter(g0 * 1e6, 100 * shift, s=2, alpha=0.4)
    g = np.linspace(10e-6, 100e-6, 91)
    ax.plot(g * 1e6, 100 * ret.mean_drift(g / ret.g_ref_s), color="k", label="model mean")
    for y in (-100 * limit, 100 * limit):
        ax.axhline(y, color="red", ls="--", lw=0.7)
    ax.set_xlabel("programmed conductance (uS)")
    ax.set_ylabel(f"relative shift after {years:g} y (%)")
    ax.legend(fontsize=7)
    bx.hist(100 * shift, bins=60)
    bx.set_xlabel("relative shift (%)")
    bx.set_ylabel("devices")
    bx.set_title(f"{np.mean(np.abs(shift) < limit):.1%} within {limit:.0%}", fontsize=9)
    fig.tight_layout()
    return [save_figure(fig, d / "fig11_retention_shift_vs_state.png")]


# -- E19-23: temperature mitigation details (thesis Figs. 21-23) -------------------------------

#: Fig. 23 cases: published key -> temperature-study case.
FIG23_CASES = {"memristor_m1": "rm1", "memristor_m2": "rm2", "eflash_m1": "fm1",
               "eflash_m2": "fm2"}
#: Weight ratios ``r = |w| / w_max`` the optimum rules are compared at.
FIG23_RATIOS = (0.25, 0.75)


def e19_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """One ConvNet RM1 temperature study (baseline, approaches 1, 1+2, 1+2+3 at the
    published ConvNet reference count): the drop approach 2 starts from, the baseline's
    worst-case temperature, approach 3's worst drop (published: < 1 %); and (instance 0) our
    Fig. 23 search's I_min / I_b at the published dI_max."""
    from xbarsim.experiments.temperature_study import (
        TemperatureStudySetup,
        design,
        run_temperature_study,
    )

    start = time.perf_counter()
    ex = "E19_23_temperature_mitigation_details"
    k = int(published()[ex]["references_used"]["value"]["convnet"])
    setup = TemperatureStudySetup(models=("convnet",), mappings=("rm1",),
                                  approaches=(0, 1, 2, 3), ks=(k,),
                                  temps_c=tuple(settings["temps_c"]), data=data_spec(settings),
                                  epochs=settings["epochs"],
                                  seed=instance_seed(seed, ex, instance)).validate()
    result = run_temperature_study(setup)
    by = {(c["approach"], c["k"]): c for c in result.cases}
    values = {
        "convnet_rm1_approach2_from": by[1, None]["worst_drop"],
        "rm1_baseline_worst_case_temperature_c": by[0, None]["worst_temp_c"],
        "sub_percent_with_few_references": by[3, k]["worst_drop"],
    }
    rows: Rows = []
    if instance == 0:
        rules = {key: design(case, "search", 1.0) for key, case in FIG23_CASES.items()}
        for key, d in rules.items():
            for r in FIG23_RATIOS:
                values[f"{key}.{rule_tag(r)}"] = float(d.rule(r))
        rows += figure_rows(ex, lambda out: _plot_rules(rules, out))
    rows = value_rows(ex, instance, values) + image_rows(ex, settings, instance) + rows
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows)


def _plot_rules(rules: dict[str, Any], d: Path) -> list[Path]:
    from matplotlib.figure import Figure

    from xbarsim.mapping.state_optimization import StateOptimization

    r = np.linspace(0.0, 1.0, 101)
    fig = Figure(figsize=(8.5, 5.6))
    axes = fig.subplots(2, 2).ravel()
    for ax, (key, ours) in zip(axes, rules.items(), strict=True):
        stack, mapping = ("memristor" if key.startswith("memristor") else "eflash",
                          "mapping1" if key.endswith("m1") else "mapping2")
        thesis = StateOptimization.thesis(stack, mapping)
        unit, name = (1e-6, "uA") if stack == "memristor" else (1e-9, "nA")
        ax.plot(r, thesis.rule(r) / unit, "r--", label="published rule")
        ax.plot(r, ours.rule(r) / unit, "k-", label="our search")
        ax.set_title(f"{key}: dI_max {ours.delta_i_max_a / unit:g} {name}", fontsize=9)
        ax.set_xlabel("r = |w| / w_max")
        ax.set_ylabel(("I_min" if mapping == "mapping1" else "I_b") + f" ({name})")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return [save_figure(fig, d / "fig23_optimum_rules.png")]


# -- E24-25: defect details (thesis Fig. 24) ---------------------------------------------------

def e24_job(settings: dict[str, Any], seed: int) -> Rows:
    """ConvNet with 2e4 ppm stuck devices, unmitigated: stuck at G_max against G_min (RM1),
    RM2 against RM1 (mixed faults), and the RM1 drop against a random classifier's."""
    from xbarsim.experiments.defect_study import DefectStudySetup, run_defect_study

    start = time.perf_counter()
    ex = "E24_25_defect_details"
    setup = DefectStudySetup(models=("convnet",), mappings=("rm1", "rm2"),
                             kinds=("high", "low", "mixed"), ppm=(20000.0,),
                             mitigations=("none",), instances=settings["instances"],
                             data=data_spec(settings), epochs=settings["epochs"],
                             seed=seed).validate()
    result = run_defect_study(setup)
    drops = {(c["mapping"], c["kind"]): np.asarray(c["drops"]) for c in result.cases}
    software = result.models["convnet"]["baseline_software_accuracy"]
    rows: Rows = []
    for i in range(settings["instances"]):
        rows += value_rows(ex, i, {
            "mapping1_more_sensitive_to": float(drops["rm1", "high"][i] > drops["rm1", "low"][i]),
            "mapping2_better_unmitigated":
                float(drops["rm2", "mixed"][i] < drops["rm1", "mixed"][i]),
            "unmitigated_at_20000_ppm": float(drops["rm1", "mixed"][i]),
        })
    rows += image_rows(ex, settings)
    rows += figure_rows(ex, lambda d: _plot_defects(drops, software, d))
    return timed_rows(ex, ex, settings, start, rows)


def _plot_defects(drops: dict[tuple[str, str], NDArray], software: float, d: Path
                  ) -> list[Path]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 3.6))
    ax = fig.subplots()
    labels = {"high": "stuck G_max", "low": "stuck G_min", "mixed": "mixed"}
    cases = sorted(drops.items())
    for x, ((mapping, _), v) in enumerate(cases):
        ax.bar(x, 100 * v.mean(), color="C0" if mapping == "rm1" else "C1", alpha=0.6)
        ax.plot(np.full(v.size, x), 100 * v, "k.", ms=3)
    ax.axhline(100 * (software - 1.0 / CLASSES), color="red", ls="--",
               label="random classifier")
    ax.set_xticks(range(len(cases)),
                  [f"{m.upper()}\n{labels[k]}" for (m, k), _ in cases], fontsize=7)
    ax.set_ylabel("accuracy drop (%), 2e4 ppm, unmitigated")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return [save_figure(fig, d / "fig24_drop_by_kind_and_mapping.png")]


# -- E34: threshold refresh (thesis Fig. 34) ---------------------------------------------------

def symmetric(x: NDArray[np.float64]) -> bool:
    """Whether a sample's skewness lies within :data:`SKEW_SIGMAS` standard errors of 0."""
    from scipy.stats import skew

    x = np.asarray(x, dtype=np.float64)
    return bool(abs(skew(x)) <= SKEW_SIGMAS * np.sqrt(6.0 / x.size))


def e34_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """One refresh of ``devices`` devices (the default relative policy): whether the
    relative threshold changes are symmetric (Fig. 34b), and the thresholds after refresh
    of the same devices started from the published example's (one value per device)."""
    from xbarsim.crossbar.array import Crossbar
    from xbarsim.devices.config import preset
    from xbarsim.programming.refresh import ThresholdRefresh, refresh_devices

    start = time.perf_counter()
    ex = "E34_threshold_refresh"
    before_v = published()[ex]["example_before_v"]["value"]
    policy = ThresholdRefresh()
    xbars = Crossbar.sample(preset(settings["device"]), (1, settings["devices"]),
                            seed=instance_seed(seed, ex, instance))
    ok = ~xbars.unswitchable
    example = xbars.subset()
    v_set, v_reset = xbars.v_set.copy(), xbars.v_reset.copy()
    refresh_devices(xbars, policy, ok)
    change_set = xbars.v_set[ok] / v_set[ok] - 1.0  # unswitchable: infinite thresholds
    change_reset = xbars.v_reset[ok] / v_reset[ok] - 1.0
    example.v_set[ok] = before_v["set"]
    example.v_reset[ok] = abs(before_v["reset"])
    refresh_devices(example, policy, ok)
    rows = value_rows(ex, instance, {
        "relative_change_histogram": float(symmetric(change_set) and symmetric(change_reset)),
    })
    n = settings["devices"]
    after_set, after_reset = example.v_set[ok], -example.v_reset[ok]
    for d, (s, r) in enumerate(zip(after_set, after_reset, strict=True)):
        rows += value_rows(ex, instance * n + d,
                        {"example_after_v.set": float(s), "example_after_v.reset": float(r)})
    if instance == 0:
        rows += figure_rows(ex, lambda out: _plot_refresh(change_set, change_reset, after_set,
                                                       after_reset, ex, out))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows)


def _plot_refresh(change_set: NDArray, change_reset: NDArray, after_set: NDArray,
                  after_reset: NDArray, ex: str, d: Path) -> list[Path]:
    from matplotlib.figure import Figure

    entry = published()[ex]
    fig = Figure(figsize=(8.5, 3.4))
    ax, bx = fig.subplots(1, 2)
    bins = np.linspace(-100, 100, 31)
    ax.hist(100 * change_set, bins=bins, alpha=0.6, label="set")
    ax.hist(100 * change_reset, bins=bins, alpha=0.6, label="reset")
    ax.set_xlabel("100 dV / V after one refresh (%)")
    ax.set_ylabel("devices")
    ax.set_title(f"{change_set.size} devices", fontsize=9)
    ax.legend(fontsize=7)
    bx.hist(after_set, bins=20, alpha=0.6, label="set after")
    bx.hist(after_reset, bins=20, alpha=0.6, label="reset after")
    for kind, v in entry["example_before_v"]["value"].items():
        bx.axvline(v, color="k", ls=":", lw=0.8, label="before" if kind == "set" else None)
    for kind, v in entry["example_after_v"]["value"].items():
        bx.axvline(v, color="red", ls="--", lw=0.8,
                   label="published after" if kind == "set" else None)
    bx.set_xlabel("threshold (V), devices started at the example's")
    bx.legend(fontsize=7)
    fig.tight_layout()
    return [save_figure(fig, d / "fig34_refresh.png")]

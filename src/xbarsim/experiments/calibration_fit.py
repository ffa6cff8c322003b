"""Fit a device population's free parameters to every published target at once.

:func:`fit` searches a :class:`~xbarsim.experiments.calibration_space.ParameterSpace` with
SciPy's differential evolution (seeded, Latin-hypercube initial population, deferred
updating, no polishing). Each *trial* measures one parameter point with
:func:`~xbarsim.experiments.calibration.evaluate` and scores it by the aggregate loss
:func:`~xbarsim.experiments.calibration.loss`. A generation's trials run as one batch,
in this process or on Dask (:func:`~xbarsim.experiments.chapter2.run_jobs`), and every
finished trial is written to a Parquet store keyed by a hash of its parameters: rerunning
with the same store replays the stored trials (the optimizer is deterministic) and goes
on where the budget stopped. A trial's seed derives from its parameters and replicate
index (:func:`xbarsim.seeding.point_seed`), never from its position, so serial and Dask
runs give the same trials.

After the search the best trial is re-measured at ``replicates`` further seeds, and the
current default population (``base``, thesis variant) at ``replicates + 1`` seeds:

* best parameters with uncertainties: the spread (std, min and max) of each parameter
  among the trials whose loss lies within :data:`COVERAGE` standard deviations of the loss
  noise (the std of the best point's loss over its replicates) above the best loss;
* residual per target: the replicates' mean value against the published value, with the
  target's tolerance :func:`tolerance` (published spread plus :data:`COVERAGE` standard
  errors of the replicates' mean);
* the Pareto front of the group losses over the trials;
* the targets no trial meets, and the pairs of targets that some trials meet but none meets
  together (a trial meets a target within its published spread plus :data:`COVERAGE`
  single-trial standard deviations);
* :func:`adopt`: the verdict on replacing the default by the best point (both as means
  over their replicates; a target's spread is its published spread, not widened by the
  replicates' noise: a noisier candidate must not be allowed to get worse by more).

Residuals are those of :func:`~xbarsim.experiments.calibration.residual` (log ratios, or
relative differences for targets that can be <= 0). The optimizer sees each trial's loss
as stored when the trial was measured, so a rerun on a store replays the same path even
after the loss has changed; the summary (best point, uncertainties, front, adoption)
rescores every trial from its stored values with the current loss (:func:`rescore`), and
only the replicates of a best point that has none in the store are measured.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import differential_evolution
from scipy.stats import qmc

from xbarsim.devices.config import DeviceConfig, preset
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.calibration import (
    GROUPS,
    TARGETS,
    CalibrationSetup,
    aggregate,
    evaluate,
    group_losses,
    loss,
    pareto_front,
    published_spread,
    published_target,
    residual,
    residuals,
)
from xbarsim.experiments.calibration_space import ParameterSpace
from xbarsim.experiments.chapter2 import Job, PartStore, run_jobs
from xbarsim.report.verdicts import COVERAGE
from xbarsim.seeding import point_key, point_seed

#: Objective of a trial: (population, setup with the trial's seed, variant) -> value of
#: every target in :data:`~xbarsim.experiments.calibration.TARGETS`.
Objective = Callable[[DeviceConfig, CalibrationSetup, str], dict[str, float]]
#: Target names in table order.
NAMES = [name for name, _, _, _ in TARGETS]
#: Study name written into a store's metadata.
STUDY = "calibration-fit"


def default_population(dimensions: int) -> int:
    """Differential-evolution population for ``dimensions`` parameters (at least 5)."""
    return max(5, 3 * dimensions)


def trial_key(values: dict[str, Any], replicate: int) -> str:
    """Store key of a trial: a hash of its parameter values and replicate index."""
    text = point_key({**values, "replicate": replicate})
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run_trial(
    objective: Objective,
    space: ParameterSpace,
    base: DeviceConfig,
    setup: CalibrationSetup,
    values: dict[str, Any],
    role: str,
    replicate: int,
) -> list[dict[str, Any]]:
    """Measure one trial and return its store row (values, residuals, losses, seed).

    ``role`` ``"default"`` measures ``base`` itself (thesis variant); otherwise ``base``
    with ``values`` set. The seed is :func:`~xbarsim.seeding.point_seed` of ``setup.seed``,
    the values and the replicate index.
    """
    seed = point_seed(setup.seed, values, replicate)
    device = base if role == "default" else space.device(values, base)
    variant = "thesis" if role == "default" else space.variant(values)
    start = time.perf_counter()
    measured = objective(device, setup.model_copy(update={"seed": seed}), variant)
    return [rescore({
        "key": trial_key(values, replicate),
        "role": role,
        "replicate": replicate,
        "seed": seed,
        **{f"p_{name}": value for name, value in values.items() if name != "point"},
        **{name: float(measured[name]) for name in NAMES},
        "seconds": time.perf_counter() - start,
    })]


def rescore(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with ``res_<target>``, ``loss_<group>`` and ``loss`` computed by the current
    loss from its target values (a stored trial needs no re-measuring)."""
    measured = {name: float(row[name]) for name in NAMES}
    res = residuals(measured)
    return {**row, **{f"res_{name}": res[name] for name in NAMES}, **group_losses(measured),
            "loss": loss(measured)}


class _BudgetSpent(Exception):
    """The search asked for more trials than the budget allows."""


@dataclass
class _Trials:
    """Runs batches of trials through the store; the optimizer's map (``workers``)."""

    objective: Objective
    space: ParameterSpace
    base: DeviceConfig
    setup: CalibrationSetup
    budget: int
    store: PartStore | None
    workers: int
    scheduler: str | None
    progress: bool
    search: list[dict[str, Any]] = field(default_factory=list)
    cache: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run(self, points: list[tuple[dict[str, Any], str, int]]) -> list[dict[str, Any]]:
        """Rows of ``(values, role, replicate)`` points, measured or read from the store."""
        jobs = {}
        for values, role, replicate in points:
            key = trial_key(values, replicate)
            if key not in self.cache:
                args = (self.objective, self.space, self.base, self.setup, values, role,
                        replicate)
                jobs[key] = Job(key, run_trial, args)
        if jobs:
            done = run_jobs(list(jobs.values()), self.workers, self.scheduler, self.store,
                            resume=True, progress=self.progress, label="trials")
            self.cache.update({key: rows[0] for key, rows in done.items()})
        return [dict(self.cache[trial_key(v, r)]) for v, _, r in points]

    def __call__(self, func: object, xs: object) -> list[float]:
        """SciPy's ``workers`` protocol: the losses of a generation's points ``xs``.

        ``func`` (SciPy's wrapper of :meth:`cached_loss`) is not called: the batch runs as
        one set of jobs. Raises :class:`_BudgetSpent` once the budget is used up.
        """
        points = [self.space.values(np.asarray(x)) for x in xs]
        take = points[: max(0, self.budget - len(self.search))]
        rows = self.run([(values, "search", 0) for values in take])
        for row in rows:
            row["trial"] = len(self.search)
            self.search.append(row)
        if len(take) < len(points):
            raise _BudgetSpent
        return [row["loss"] for row in rows]

    def cached_loss(self, x: np.ndarray) -> float:
        """Loss of a point already measured (the objective SciPy is handed)."""
        return self.cache[trial_key(self.space.values(x), 0)]["loss"]


def initial_population(space: ParameterSpace, population: int, seed: int) -> np.ndarray:
    """Seeded Latin-hypercube points in optimizer coordinates (categorical: indices)."""
    unit = qmc.LatinHypercube(d=len(space.parameters), seed=np.random.default_rng(seed)).random(
        population
    )
    out = np.empty_like(unit)
    for j, (lo, hi) in enumerate(space.bounds()):
        if space.integrality()[j]:
            out[:, j] = np.minimum(np.floor(unit[:, j] * (hi - lo + 1)), hi - lo) + lo
        else:
            out[:, j] = lo + unit[:, j] * (hi - lo)
    return out


@dataclass(frozen=True)
class Adoption:
    """Verdict of :func:`adopt`: ``adopted`` and, when refused, the reasons."""

    adopted: bool
    reasons: tuple[str, ...]


def adopt(
    candidate: dict[str, float], default: dict[str, float], spreads: dict[str, float]
) -> Adoption:
    """Whether a candidate's residuals justify replacing the default's.

    A candidate is adopted only if its aggregate (:func:`~xbarsim.experiments.calibration.
    aggregate`) is lower than the default's AND no target gets worse by more than its
    spread: a target whose |residual| exceeds the default's by more than ``spreads``
    (or is undefined where the default's is defined) refuses.

    Parameters
    ----------
    candidate, default : dict
        Residual per target name (:func:`~xbarsim.experiments.calibration.residual`).
    spreads : dict
        Tolerated change of |residual| per target name.
    """
    reasons = []
    new, old = aggregate(candidate), aggregate(default)
    if not new < old:
        reasons.append(f"aggregate loss {new:.3g} does not improve on the default's {old:.3g}")
    for name, tol in spreads.items():
        ours, theirs = abs(candidate[name]), abs(default[name])
        if not math.isfinite(ours) and not math.isfinite(theirs):
            continue  # undefined for both (e.g. a penalty <= 0): not worse
        if not math.isfinite(ours) or ours - theirs > tol:
            reasons.append(
                f"{name} gets worse: |residual| {ours:.3g} against the default's "
                f"{theirs:.3g}, more than its spread {tol:.3g}"
            )
    return Adoption(adopted=not reasons, reasons=tuple(reasons))


def target_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Per target over replicate ``rows``: published value, our mean, the single-trial std
    ``res_std`` of the residual, its standard error ``u``, the residual of the mean and the
    tolerance (residuals on each target's scale, :func:`~xbarsim.experiments.calibration.
    residual`)."""
    out = []
    for name in NAMES:
        values = np.array([row[name] for row in rows], dtype=float)
        res = np.array([residual(name, v) for v in values])
        res = res[np.isfinite(res)]
        std = float(np.std(res, ddof=1)) if len(res) > 1 else 0.0
        mean = float(np.mean(values))
        u = std / math.sqrt(len(res)) if len(res) else 0.0
        out.append({
            "target": name,
            "published": published_target(name),
            "ours": mean,
            "res_std": std,
            "u": u,
            "residual": residual(name, mean),
            "spread": published_spread(name),
            "tolerance": tolerance(name, u),
        })
    table = pd.DataFrame(out).set_index("target")
    table["within"] = table["residual"].abs() <= table["tolerance"]
    return table


def tolerance(name: str, u: float) -> float:
    """Tolerated |residual| of ``name``: published spread plus :data:`COVERAGE` ``u``."""
    return published_spread(name) + COVERAGE * u


@dataclass
class CalibrationFit:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    trials : DataFrame
        Search trials in order (``trial``), with ``p_<parameter>``, every target's value,
        ``res_<target>``, ``loss_<group>``, ``loss``, ``seed``, ``key`` and ``pareto``.
    replicates : DataFrame
        The best point's and the default's replicate trials (``role`` ``replicate`` or
        ``default``; the best's own search trial is its replicate 0).
    best : dict
        Best parameter values.
    device : DeviceConfig
        Population of the best values; ``variant`` its algorithm variant.
    variant : str
    uncertainty : dict
        Per numeric parameter ``std``, ``min``, ``max`` over the near-best trials; per
        categorical one the share of each choice among them.
    near : int
        Trials within the loss noise of the best.
    loss_noise : float
        Std of the best point's loss over its replicates.
    default_noise : float
        Std of the default's loss over its seeds.
    targets, default_targets : DataFrame
        :func:`target_table` of the best point and of the default.
    never_met : list of str
        Targets no trial meets.
    conflicts : list of (str, str)
        Pairs of targets each met by some trial but never by the same one.
    adoption : Adoption
    """

    trials: pd.DataFrame
    replicates: pd.DataFrame
    best: dict[str, Any]
    device: DeviceConfig
    variant: str
    uncertainty: dict[str, dict[str, float]]
    near: int
    loss_noise: float
    default_noise: float
    targets: pd.DataFrame
    default_targets: pd.DataFrame
    never_met: list[str]
    conflicts: list[tuple[str, str]]
    adoption: Adoption


def store_meta(
    space: ParameterSpace, setup: CalibrationSetup, base: DeviceConfig, population: int,
    replicates: int,
) -> dict[str, Any]:
    """What a store belongs to: the space, the setup (with the root seed), the base
    population, the optimizer population and the replicates (not the budget)."""
    return {
        "study": STUDY,
        "space": space.model_dump(mode="json"),
        "setup": setup.model_dump(mode="json"),
        "base": base.model_dump(mode="json"),
        "population": population,
        "replicates": replicates,
        "seed": setup.seed,
    }


def open_store(path: str | Path | None, meta: dict[str, Any]) -> PartStore | None:
    """The store at ``path`` for ``meta`` (None: no store), checked and created.

    Raises
    ------
    XbarsimInputError
        ``store: ...`` when ``path`` is not a directory or belongs to another fit.
    """
    if path is None:
        return None
    store = PartStore(path, meta)
    try:
        store.check(resume=True)
    except XbarsimInputError as exc:
        raise XbarsimInputError("store" + str(exc).removeprefix("results")) from None
    return store


def fit(
    space: ParameterSpace,
    setup: CalibrationSetup,
    budget: int,
    store: str | Path | None = None,
    base: DeviceConfig | None = None,
    population: int | None = None,
    replicates: int = 3,
    workers: int = 0,
    scheduler: str | None = None,
    objective: Objective = evaluate,
    progress: bool = False,
) -> CalibrationFit:
    """Search ``space`` for the population that best meets every published target.

    Parameters
    ----------
    space : ParameterSpace
    setup : CalibrationSetup
        Instances per target; ``setup.seed`` is the root seed (optimizer and trials).
    budget : int
        Search trials (>= 1); the replicates come on top.
    store : path, optional
        Trial store (created; a store of the same fit is replayed and continued).
    base : DeviceConfig, optional
        Population whose parameters are varied and the current default (default
        ``thesis-uniformity``).
    population : int, optional
        Differential-evolution population (>= 5; default :func:`default_population`).
    replicates : int
        Extra seeds of the best point (and ``replicates + 1`` of the default), >= 1.
    workers, scheduler
        Dask: 0 and None run in this process; see :func:`~xbarsim.experiments.chapter2.
        run_jobs`.
    objective : callable
        Trial measurement (default :func:`~xbarsim.experiments.calibration.evaluate`).
    progress : bool

    Returns
    -------
    CalibrationFit
    """
    base = preset("thesis-uniformity") if base is None else base
    population = default_population(len(space.parameters)) if population is None else population
    if budget < 1 or population < 5 or replicates < 1:
        raise XbarsimInputError(
            f"fit: needs budget >= 1, population >= 5 and replicates >= 1, got {budget}, "
            f"{population}, {replicates}"
        )
    centre = np.array([(lo + hi) / 2 for lo, hi in space.bounds()])
    space.device(space.values(centre), base)  # every parameter maps onto the population
    part_store = open_store(store, store_meta(space, setup, base, population, replicates))
    if part_store is not None:
        part_store.init()
    own_cluster = None
    client = None
    if workers > 0 and scheduler is None:
        from xbarsim.experiments.cluster import connect

        client, own_cluster = connect(None, workers)
        scheduler = own_cluster.scheduler_address
    try:
        trials = _Trials(objective, space, base, setup, budget, part_store, workers, scheduler,
                         progress)
        init = initial_population(space, population, setup.seed)
        try:
            differential_evolution(
                trials.cached_loss, space.bounds(), init=init, seed=setup.seed,
                maxiter=budget, tol=0.0, atol=0.0, polish=False, updating="deferred",
                workers=trials, integrality=space.integrality(),
            )
        except _BudgetSpent:
            pass
        table = pd.DataFrame([rescore(row) for row in trials.search])
        best_row = table.loc[table["loss"].idxmin()]
        best = {name: _plain(best_row[f"p_{name}"]) for name in space.names()}
        default_values = {**space.base_values(base), "point": "default"}
        extra = trials.run(
            [(best, "replicate", r) for r in range(1, replicates + 1)]
            + [(default_values, "default", r) for r in range(replicates + 1)]
        )
        extra = [rescore(row) for row in extra]
    finally:
        if client is not None:
            client.close()
            own_cluster.close()
    return _summarize(table, best, extra, dict(best_row), space, base)


def _plain(value: Any) -> Any:
    """A table cell as a Python float or str."""
    return value if isinstance(value, str) else float(value)


def _summarize(
    table: pd.DataFrame,
    best: dict[str, Any],
    extra: list[dict[str, Any]],
    best_row: dict[str, Any],
    space: ParameterSpace,
    base: DeviceConfig,
) -> CalibrationFit:
    """Uncertainties, residuals, front, unmet targets and adoption (module docstring)."""
    table = table.copy()
    table["pareto"] = pareto_front(table, [f"loss_{g}" for g in GROUPS])
    best_reps = [best_row] + [row for row in extra if row["role"] == "replicate"]
    default_reps = [row for row in extra if row["role"] == "default"]
    losses = np.array([row["loss"] for row in best_reps])
    noise = float(np.std(losses, ddof=1))
    default_noise = float(np.std([row["loss"] for row in default_reps], ddof=1))
    near = table[table["loss"] <= table["loss"].min() + COVERAGE * noise]
    uncertainty: dict[str, dict[str, float]] = {}
    for p in space.parameters:
        column = near[f"p_{p.name}"]
        if p.scale == "categorical":
            uncertainty[p.name] = {c: float((column == c).mean()) for c in p.choices}
        else:
            uncertainty[p.name] = {"std": float(column.std(ddof=1)) if len(near) > 1 else 0.0,
                                   "min": float(column.min()), "max": float(column.max())}
    targets = target_table(best_reps)
    default_targets = target_table(default_reps)
    single = {name: published_spread(name) + COVERAGE * targets.loc[name, "res_std"]
              for name in NAMES}
    met = pd.DataFrame({name: table[f"res_{name}"].abs() <= single[name] for name in NAMES})
    never = [name for name in NAMES if not met[name].any()]
    conflicts = [
        (a, b) for a, b in itertools.combinations(NAMES, 2)
        if met[a].any() and met[b].any() and not (met[a] & met[b]).any()
    ]
    spreads = {name: published_spread(name) for name in NAMES}
    adoption = adopt(targets["residual"].to_dict(), default_targets["residual"].to_dict(),
                     spreads)
    return CalibrationFit(
        trials=table,
        replicates=pd.DataFrame(best_reps + default_reps),
        best=best,
        device=space.device(best, base),
        variant=space.variant(best),
        uncertainty=uncertainty,
        near=len(near),
        loss_noise=noise,
        default_noise=default_noise,
        targets=targets,
        default_targets=default_targets,
        never_met=never,
        conflicts=conflicts,
        adoption=adoption,
    )

"""Calibration of the pulse law against the seeds' published numbers (DESIGN section 2).

The soft-bounded two-slope law has two free parameters that the seeds do not print: the
dose slope below threshold (how much half-selected devices drift) and above threshold (how
fast a selected device moves). :func:`calibrate` evaluates a grid of slope pairs on the
experiments that constrain them and ranks the candidates by a weighted sum of squared log
residuals ``log(ours / published)``:

=========================  ====================================================  =========
quantity                   setup                                                 published
=========================  ====================================================  =========
tuning_p99_sigma_0p05      N=64, 1 % target, 10 passes, sigma 5 %                1.0 %
tuning_p99_sigma_0p25      same, sigma 25 %                                      14.4 %
vmm_p99_sigma_0p05         worst-case VMM error of the same pairs                3.7 %
vmm_p99_sigma_0p25                                                               7.0 %
sigma0_hs_penalty          mean VMM error with V/2 over without, sigma 0, - 1     4.3 %
image_outside_5pct         paper Fig. 3: 64x64 picture, paper variant            2 %
image_mean_error                                                                 3.76 %
=========================  ====================================================  =========

``image_outside_5pct`` is one minus the published 98 % within 5 %: on a log scale the
fraction of devices *outside* tolerance is the sensitive quantity. ``sigma0_hs_penalty``
is reported but has weight 0: no per-pulse law that rises with voltage reproduces it
together with the sigma = 25 % numbers (a sub-threshold leak large enough makes retuning
run away, DESIGN section 2).

Tuning and VMM errors are per-instance statistics over instances, as in ``vmm-study``
(mean over pairs of the per-pair 99th-percentile tuning error with the one exclusion rule
:data:`~xbarsim.programming.result.TUNING_ERROR_EXCLUSION`; median over pairs of the
per-pair 99th-percentile VMM error), since at sigma = 25 % tuning is all-or-nothing per
instance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.devices.config import DeviceConfig, TwoSlopeDynamics, preset
from xbarsim.experiments.image_tuning import run_image_tuning
from xbarsim.experiments.published import published_value
from xbarsim.experiments.vmm_study import vmm_errors, weights_to_targets
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import program
from xbarsim.programming.result import tuning_error_p99
from xbarsim.progress import progress_bar

#: (quantity, published experiment key, published quantity key, weight)
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("tuning_p99_sigma_0p05", "T28_half_select_64", "tuning_error_p99_sigma_0p05", 1.0),
    ("tuning_p99_sigma_0p25", "T28_half_select_64", "tuning_error_p99_sigma_0p25", 1.0),
    ("vmm_p99_sigma_0p05", "T28_half_select_64", "vmm_error_p99_sigma_0p05", 1.0),
    ("vmm_p99_sigma_0p25", "T28_half_select_64", "vmm_error_p99_sigma_0p25", 1.0),
    ("sigma0_hs_penalty", "T30_vmm_grid", "sigma0_penalty_mean_error_at_64_target_1pct", 0.0),
    ("image_outside_5pct", "P3_image_tuning", "within_5pct_fraction", 1.0),
    ("image_mean_error", "P3_image_tuning", "mean_error", 1.0),
)


class CalibrationSetup(BaseModel):
    """Grid and sample sizes of a calibration run.

    Attributes
    ----------
    slopes_below_v, slopes_above_v : list of float
        Candidate dose slopes below / above threshold (V).
    size : int
        Crossbar size N of the VMM experiments.
    pairs : int
        Crossbar pairs per sigma (each pair = G+ and G- crossbars, one weight set each).
    inputs : int
        Input vectors per pair, uniform in [0, 0.1] V.
    image_seeds : int
        Sampled crossbars for the image experiment.
    image_size : int
        Side of the image experiment's crossbar (paper: 64).
    seed : int
    engine : str
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    slopes_below_v: list[float] = Field(
        default_factory=lambda: [0.02, 0.025, 0.03, 0.035], min_length=1
    )
    slopes_above_v: list[float] = Field(default_factory=lambda: [0.15, 0.3, 0.5], min_length=1)
    size: int = Field(64, ge=2, le=512)
    pairs: int = Field(16, ge=1, le=10_000)
    inputs: int = Field(1000, ge=1, le=100_000)
    image_seeds: int = Field(2, ge=1, le=100)
    image_size: int = Field(64, ge=2, le=512)
    seed: int = Field(0, ge=0)
    engine: str = "auto"


def with_slopes(device: DeviceConfig, below: float, above: float) -> DeviceConfig:
    """Copy of ``device`` with a two-slope law of the given slopes (V)."""
    dynamics = TwoSlopeDynamics(slope_below_v=below, slope_above_v=above)
    return device.model_copy(update={"dynamics": dynamics})


def _vmm_pairs(device: DeviceConfig, sigma: float, scheme: BiasScheme, setup: CalibrationSetup):
    """Program ``pairs`` crossbar pairs (thesis write-verify, 1 %) and measure them."""
    n, k = setup.size, setup.pairs
    rng = np.random.default_rng(np.random.SeedSequence([setup.seed, n, 7]))
    weights = np.clip(rng.normal(0.0, 0.5, (k, n, n)), -1.0, 1.0)
    inputs = rng.uniform(0.0, 0.1, (setup.inputs, n))
    t_plus, t_minus = weights_to_targets(weights, 10e-6, 100e-6)
    xbars = Crossbar.sample(device.with_sigma(sigma), (n, n), batch=2 * k, seed=setup.seed)
    result = program(
        xbars,
        np.concatenate([t_plus, t_minus]),
        WriteVerify.thesis(scheme=scheme),
        engine=setup.engine,
    )
    g = result.conductance
    errors = vmm_errors(g[:k] - g[k:], t_plus - t_minus, inputs)
    err, unsw = result.error, result.unswitchable
    pair_p99 = [tuning_error_p99(err[[i, i + k]], unsw[[i, i + k]]) for i in range(k)]
    return {
        "tuning_p99": float(np.mean(pair_p99)),
        "vmm_p99": float(np.median(np.percentile(errors.reshape(k, -1), 99, axis=1))),
        "vmm_mean": float(errors.mean()),
    }


def evaluate(device: DeviceConfig, setup: CalibrationSetup) -> dict[str, float]:
    """Our value of every quantity in :data:`TARGETS` for one device population."""
    low = _vmm_pairs(device, 0.05, BiasScheme.V2, setup)
    high = _vmm_pairs(device, 0.25, BiasScheme.V2, setup)
    zero_hs = _vmm_pairs(device, 0.0, BiasScheme.V2, setup)
    zero_ideal = _vmm_pairs(device, 0.0, BiasScheme.NONE, setup)
    paper = device.model_copy(update={"faults": preset("tio2-64x64-paper").faults})
    paper = paper.model_copy(update={"thresholds": preset("tio2-64x64-paper").thresholds})
    images = [
        run_image_tuning(
            size=setup.image_size, seed=setup.seed + i, device=paper, engine=setup.engine
        ).summary
        for i in range(setup.image_seeds)
    ]
    return {
        "tuning_p99_sigma_0p05": low["tuning_p99"],
        "tuning_p99_sigma_0p25": high["tuning_p99"],
        "vmm_p99_sigma_0p05": low["vmm_p99"],
        "vmm_p99_sigma_0p25": high["vmm_p99"],
        "sigma0_hs_penalty": zero_hs["vmm_mean"] / zero_ideal["vmm_mean"] - 1.0,
        "image_outside_5pct": 1.0 - float(np.mean([s["within_5pct_fraction"] for s in images])),
        "image_mean_error": float(np.mean([s["mean_error"] for s in images])),
    }


def residuals(values: dict[str, float]) -> dict[str, float]:
    """``log(ours / published)`` per quantity (NaN where ours is not positive)."""
    return {
        name: math.log(values[name] / published_target(name)) if values[name] > 0 else math.nan
        for name, _, _, _ in TARGETS
    }


def published_target(name: str) -> float:
    """Published value of a calibration quantity (fraction)."""
    for quantity, experiment, key, _ in TARGETS:
        if quantity == name:
            value = float(published_value(experiment, key))
            return 1.0 - value if name == "image_outside_5pct" else value
    raise KeyError(name)


def loss(values: dict[str, float]) -> float:
    """Weighted sum of squared log residuals (non-positive values count as log 1e-3)."""
    res = residuals(values)
    total = 0.0
    for name, _, _, weight in TARGETS:
        r = res[name] if math.isfinite(res[name]) else math.log(1e-3)
        total += weight * r * r
    return total


@dataclass
class CalibrationReport:
    """Every candidate's values and loss, best first, and the best device population."""

    table: pd.DataFrame
    best: DeviceConfig

    def comparison(self) -> list[tuple[str, float, float]]:
        """(quantity, published, ours) for the best candidate."""
        row = self.table.iloc[0]
        return [(name, published_target(name), float(row[name])) for name, _, _, _ in TARGETS]


def calibrate(
    setup: CalibrationSetup | None = None,
    base: DeviceConfig | None = None,
    progress: bool = False,
) -> CalibrationReport:
    """Grid-search the two slopes of the pulse law against :data:`TARGETS`.

    Parameters
    ----------
    setup : CalibrationSetup, optional
    base : DeviceConfig, optional
        Population whose law is varied (default ``thesis-uniformity``).
    progress : bool

    Returns
    -------
    CalibrationReport
    """
    setup = CalibrationSetup() if setup is None else setup
    base = preset("thesis-uniformity") if base is None else base
    grid = [(b, a) for b in setup.slopes_below_v for a in setup.slopes_above_v]
    rows = []
    with progress_bar(len(grid), "calibrating", progress) as advance:
        for below, above in grid:
            values = evaluate(with_slopes(base, below, above), setup)
            rows.append(
                {"slope_below_v": below, "slope_above_v": above, **values, "loss": loss(values)}
            )
            advance(1)
    table = pd.DataFrame(rows).sort_values("loss", kind="stable").reset_index(drop=True)
    best = with_slopes(
        base, float(table.loc[0, "slope_below_v"]), float(table.loc[0, "slope_above_v"])
    )
    return CalibrationReport(table=table, best=best)

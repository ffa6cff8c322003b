"""VMM precision under half-select disturbance (thesis 3.3, Figs. 28-30).

An ``N x N`` two-quadrant VMM is a pair of crossbars holding
``G± = Gmin + (1 ± W)(Gmax - Gmin)/2`` with ``W`` zero-mean normal (clipped to [-1, 1]).
An *instance* is one sampled crossbar pair programmed with one weight set; a grid point
(size, sigma, target, algorithm) has ``crossbars x weight_sets`` instances (thesis: 20 x 20).

Per instance, over ``inputs`` random input vectors uniform in ``[0, input_max_v]``:

* VMM error ``|I - I_ideal| / I_max`` for every input and output, ``I_ideal`` from the
  target conductances, ``I_max`` the largest ideal ``|I|`` over the instance's inputs and
  outputs; the instance's worst case is the 99th percentile of these errors.
* the *intrinsic bound*: the same statistic when every device is independently off its
  target by a uniform relative error in ``[-tolerance, +tolerance]`` and nothing else
  happens (no half-select). It is drawn, not simulated; the ``no-hs`` algorithm (write-
  verify with an ideal selector, scheme ``none``) is the simulated no-half-select baseline.
* ``n_hs`` (default, the thesis's "during write operation"): :attr:`ProgramResult.n_hs`,
  the fraction of devices that received, at any time during the run, a disturbing pulse at
  or above their threshold (mean over the pair); ``n_hs_final_pass`` the same restricted
  to the final pass. The calibration found only the final-pass count near the thesis's
  ~x10 from sigma 0.25 to 0.30; both are reported.
* nonlinearity (optional, ``nonlinearity`` / ``read_voltage_v``): the programmed
  conductances are read-out conductances ``I(V_read) / V_read`` at the read voltage the
  devices were tuned at; the crossbars then compute with the study's inputs through an I-V
  model of :mod:`xbarsim.devices.nonlinearity`, exact at ``V_read``, so the VMM error
  includes the nonlinearity (the ideal currents stay linear in the targets). The intrinsic
  bound stays the linear one (tolerance only). Deterministic: it does not enter the seeds.
* tuning error: per instance, the 99th percentile / mean of ``|G - T| / T`` over both
  crossbars of the pair with the one rule
  :data:`~xbarsim.programming.result.TUNING_ERROR_EXCLUSION` (fault map out).

Seeding by point identity (:mod:`xbarsim.seeding`): the *hardware identity* of a point is
``{device, size, weight_std, g_low_s, g_high_s, input_max_v, inputs}``; crossbar pair ``i``
comes from the stream ``point_seed(seed, identity, 0)`` (children ``2i`` and ``2i+1``),
weight set ``j`` and its inputs from ``point_seed_sequence(seed, identity, 1, j)``, the
intrinsic draw of instance ``(i, j)`` from ``point_seed_sequence(seed, identity, 2, i, j)``.
Sigma scales the same threshold draws; sigma, target and algorithm do not enter the hash, so
every algorithm and target sees the same crossbars, weights and inputs (paired, common
random numbers). No grid position or neighbouring point enters, so a point run alone equals
the same point inside any grid, whatever the grouping into tasks or workers.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.devices.config import DeviceConfig, preset
from xbarsim.devices.nonlinearity import Nonlinearity, PolynomialNonlinearity, SinhNonlinearity
from xbarsim.distribution import HIST_EDGES, describe
from xbarsim.experiments.published import published_value
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import program
from xbarsim.programming.improved import ImprovedTuning, program_improved
from xbarsim.programming.result import TUNING_ERROR_EXCLUSION, ProgramResult, tuning_error_p99
from xbarsim.seeding import point_seed, point_seed_sequence

Algorithm = Literal["baseline", "improved", "no-hs"]
ALGORITHMS: tuple[str, ...] = ("baseline", "improved", "no-hs")
NonlinearityName = Literal["none", "sinh", "thesis-poly"]
NONLINEARITIES: tuple[str, ...] = ("none", "sinh", "thesis-poly")

#: Percentile that defines an instance's worst-case VMM error.
WORST_CASE_PERCENTILE = 99.0


def nonlinearity_model(
    name: str,
    read_voltage_v: float | None,
    input_max_v: float,
    g_low_s: float,
    g_high_s: float,
) -> Nonlinearity | None:
    """The I-V model of a VMM study, tuned at ``read_voltage_v`` (V); ``None`` for ``"none"``.

    Parameters
    ----------
    name : {"none", "sinh", "thesis-poly"}
        Model of :mod:`xbarsim.devices.nonlinearity`.
    read_voltage_v : float or None
        Read voltage the devices were tuned at (V); ``None``: the model's default
        (the thesis's V_tune, 60 mV).
    input_max_v : float
        Largest inference input (V).
    g_low_s, g_high_s : float
        Mapping range (S).

    Raises
    ------
    ValueError
        Unknown model, a read voltage without a model, or a read voltage, input range or
        mapping range outside the model's fitted ranges (message names the field).
    """
    if name not in NONLINEARITIES:
        raise ValueError(f"nonlinearity: must be one of {', '.join(NONLINEARITIES)}, got {name!r}")
    if name == "none":
        if read_voltage_v is not None:
            raise ValueError("read_voltage_v: needs a nonlinearity model (sinh or thesis-poly)")
        return None
    kind = SinhNonlinearity if name == "sinh" else PolynomialNonlinearity
    fit_v = kind.model_fields["fit_v"].default
    fit_g = kind.model_fields["fit_g_s"].default
    v_read = kind.model_fields["v_tune_v"].default if read_voltage_v is None else read_voltage_v
    if not fit_v[0] < v_read <= fit_v[1]:
        raise ValueError(
            f"read_voltage_v: must be in ({fit_v[0]:g}, {fit_v[1]:g}] V, the fitted range of "
            f"the {name} model, got {v_read:g}"
        )
    if input_max_v > fit_v[1]:
        raise ValueError(
            f"input_max_v: the {name} model is fitted up to {fit_v[1]:g} V, got {input_max_v:g}"
        )
    if g_low_s < fit_g[0] or g_high_s > fit_g[1]:
        raise ValueError(
            f"g_low_s/g_high_s: the {name} model is fitted on [{fit_g[0]:g}, {fit_g[1]:g}] S"
        )
    return kind(v_tune_v=v_read)


class VmmCase(BaseModel):
    """One grid point of the VMM study and the instances to run of it.

    Attributes
    ----------
    size : int
        N of the N x N crossbars.
    sigma : float
        Normalized threshold variation std/mean (set and reset).
    target : float
        Tuning tolerance (fraction).
    algorithm : {"baseline", "improved", "no-hs"}
        Thesis write-verify with V/2, the improved tuning of 3.5.2, or write-verify with an
        ideal selector (no half-select).
    crossbars, weight_sets : int
        Crossbar pairs and weight sets of the grid point.
    inputs : int
        Input vectors per instance.
    weight_std : float
        Std of the normal weights before clipping to [-1, 1].
    g_low_s, g_high_s : float
        Mapping range Gmin, Gmax (S).
    input_max_v : float
        Inputs are uniform in [0, input_max_v] (V).
    device : str
        Device preset name.
    max_amplitude_v : float or None
        Override of the algorithm's amplitude cap (V, > 0); ``None`` keeps the variant's own
        (thesis write-verify: 5 V; improved tuning: 2.5 V falling 0.1 V per pass).
    abandon_at_cap : bool or None
        Override of the abandon-at-cap rule; ``None`` keeps the variant's own.
    nonlinearity : {"none", "sinh", "thesis-poly"}
        I-V model the crossbars compute with (module docstring); ``"none"``: linear.
    read_voltage_v : float or None
        Read voltage the devices were tuned at (V, > 0, within the model's fitted range);
        ``None``: the model's default (60 mV). Only with a nonlinearity model.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    size: int = Field(64, ge=2, le=1024)
    sigma: float = Field(0.25, ge=0.0, le=2.0)
    target: float = Field(0.01, gt=0.0, lt=1.0)
    algorithm: Algorithm = "baseline"
    crossbars: int = Field(20, ge=1, le=100_000)
    weight_sets: int = Field(20, ge=1, le=100_000)
    inputs: int = Field(1000, ge=1, le=1_000_000)
    weight_std: float = Field(0.5, gt=0.0, le=10.0)
    g_low_s: float = Field(10e-6, gt=0.0, lt=1.0)
    g_high_s: float = Field(100e-6, gt=0.0, lt=1.0)
    input_max_v: float = Field(0.1, gt=0.0, le=10.0)
    device: str = "thesis-uniformity"
    max_amplitude_v: float | None = Field(None, gt=0.0, le=20.0)
    abandon_at_cap: bool | None = None
    nonlinearity: NonlinearityName = "none"
    read_voltage_v: float | None = Field(None, gt=0.0, le=10.0)

    @model_validator(mode="after")
    def _check_range(self) -> VmmCase:
        if self.g_high_s <= self.g_low_s:
            raise ValueError(
                f"g_high_s ({self.g_high_s:g} S) must exceed g_low_s ({self.g_low_s:g} S)"
            )
        self.nonlinearity_config()
        self.algorithm_config()  # e.g. a cap below the ramp start fails here, before any work
        return self

    def hardware_identity(self) -> dict[str, object]:
        """The parameters that identify the point's random hardware, weights and inputs
        (hashed into its seeds; sigma, target and algorithm deliberately left out, see the
        module docstring)."""
        return {
            "study": "vmm",
            "device": self.device,
            "size": self.size,
            "weight_std": self.weight_std,
            "g_low_s": self.g_low_s,
            "g_high_s": self.g_high_s,
            "input_max_v": self.input_max_v,
            "inputs": self.inputs,
        }

    def device_config(self) -> DeviceConfig:
        """The device population of this case (preset with ``sigma``)."""
        return preset(self.device).with_sigma(self.sigma)

    def nonlinearity_config(self) -> Nonlinearity | None:
        """The I-V model the crossbars compute with (``None``: linear)."""
        return nonlinearity_model(
            self.nonlinearity, self.read_voltage_v, self.input_max_v, self.g_low_s, self.g_high_s
        )

    def algorithm_config(self) -> WriteVerify | ImprovedTuning:
        """The tuning algorithm of this case (with the cap / abandon overrides)."""
        overrides: dict[str, object] = {}
        if self.max_amplitude_v is not None:
            overrides["max_amplitude_v"] = self.max_amplitude_v
        if self.abandon_at_cap is not None:
            overrides["abandon_at_cap"] = self.abandon_at_cap
        if self.algorithm == "improved":
            improved = ImprovedTuning.thesis(tolerance=self.target)
            base = WriteVerify(**{**improved.base.model_dump(), **overrides})
            return improved.model_copy(update={"base": base})
        scheme = BiasScheme.NONE if self.algorithm == "no-hs" else BiasScheme.V2
        return WriteVerify.thesis(tolerance=self.target, scheme=scheme, **overrides)


def weights_to_targets(
    weights: NDArray, g_low_s: float, g_high_s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Differential mapping ``G± = Gmin + (1 ± W)(Gmax - Gmin)/2`` (S)."""
    half = 0.5 * (g_high_s - g_low_s)
    return g_low_s + (1 + weights) * half, g_low_s + (1 - weights) * half


def _rng(case: VmmCase, seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(point_seed_sequence(seed, case.hardware_identity(), *key))


def weight_set(case: VmmCase, seed: int, j: int) -> tuple[NDArray, NDArray]:
    """Weights ``[N, N]`` (clipped normal) and inputs ``[inputs, N]`` (V) of weight set ``j``."""
    rng = _rng(case, seed, 1, j)
    w = np.clip(rng.normal(0.0, case.weight_std, (case.size, case.size)), -1.0, 1.0)
    v = rng.uniform(0.0, case.input_max_v, (case.inputs, case.size))
    return w, v


def sample_pairs(case: VmmCase, seed: int, first: int, count: int) -> Crossbar:
    """Crossbar pairs ``first .. first+count-1``: G+ halves first, then G- halves."""
    xb = Crossbar.sample(
        case.device_config(),
        (case.size, case.size),
        batch=2 * count,
        seed=point_seed(seed, case.hardware_identity(), 0),
        first_index=2 * first,
    )
    order = np.concatenate([np.arange(0, 2 * count, 2), np.arange(1, 2 * count, 2)])
    return Crossbar(
        device=xb.device,
        conductance=xb.conductance[order],
        v_set=xb.v_set[order],
        v_reset=xb.v_reset[order],
        unswitchable=xb.unswitchable[order],
    )


def vmm_errors(delta_g: NDArray, delta_t: NDArray, inputs: NDArray) -> NDArray[np.float64]:
    """``|I - I_ideal| / I_max`` for every input and output (fraction).

    Parameters
    ----------
    delta_g : ndarray, shape (..., N, N)
        Programmed ``G+ - G-`` (S).
    delta_t : ndarray, shape (..., N, N)
        Target ``T+ - T-`` (S).
    inputs : ndarray, shape (n, N)
        Row voltages (V).

    Returns
    -------
    ndarray, shape (..., n, N)
    """
    return current_errors(inputs @ delta_g, inputs @ delta_t)


def current_errors(actual: NDArray, ideal: NDArray) -> NDArray[np.float64]:
    """``|I - I_ideal| / I_max`` (fraction), ``I_max`` the largest ``|I_ideal|`` over the
    last two axes (inputs, outputs); currents in A."""
    i_max = np.abs(ideal).max(axis=(-2, -1), keepdims=True)
    return np.abs(actual - ideal) / i_max


def nonlinear_vmm_errors(
    nl: Nonlinearity, g_plus: NDArray, g_minus: NDArray, delta_t: NDArray, inputs: NDArray
) -> NDArray[np.float64]:
    """:func:`vmm_errors` for a pair computing through the I-V model ``nl``.

    Parameters
    ----------
    nl : Nonlinearity
        I-V model, exact at its ``v_tune_v``.
    g_plus, g_minus : ndarray, shape (N, N)
        Programmed conductances at the read voltage (S).
    delta_t : ndarray, shape (N, N)
        Target ``T+ - T-`` (S).
    inputs : ndarray, shape (n, N)
        Row voltages (V).

    Returns
    -------
    ndarray, shape (n, N)
    """
    pair = np.stack([g_plus, g_minus])
    currents = nl.column_currents(inputs, pair)
    return current_errors(currents[0] - currents[1], inputs @ delta_t)


def run_instances(
    case: VmmCase, seed: int, first: int, count: int, engine: str = "auto"
) -> list[dict]:
    """Run crossbar pairs ``first .. first+count-1`` against every weight set of ``case``.

    All ``count x weight_sets`` pairs go through one programming call.

    Returns
    -------
    list of dict
        One row per instance (columns as in :data:`xbarsim.sweeps.store.SCHEMA`, less ``task``).
    """
    n_w = case.weight_sets
    pairs = sample_pairs(case, seed, first, count)
    sets = [weight_set(case, seed, j) for j in range(n_w)]
    t_plus, t_minus = weights_to_targets(
        np.stack([w for w, _ in sets]), case.g_low_s, case.g_high_s
    )
    # instance (i, j) -> batch index i * n_w + j in each half
    half = count * n_w

    def expand(a: NDArray) -> NDArray:
        return np.concatenate(
            [np.repeat(a[:count], n_w, axis=0), np.repeat(a[count:], n_w, axis=0)]
        )

    fields = ("conductance", "v_set", "v_reset", "unswitchable")
    xbars = Crossbar(device=pairs.device, **{f: expand(getattr(pairs, f)) for f in fields})
    targets = np.concatenate([np.tile(t_plus, (count, 1, 1)), np.tile(t_minus, (count, 1, 1))])
    algorithm = case.algorithm_config()
    if isinstance(algorithm, ImprovedTuning):
        result = program_improved(xbars, targets, algorithm, engine=engine)
    else:
        result = program(xbars, targets, algorithm, engine=engine)
    return _rows(case, seed, first, result, targets, sets, half)


def _histogram(values: NDArray) -> list[int]:
    """Counts over :data:`HIST_EDGES`, values clipped into the binned range."""
    clipped = np.clip(values, HIST_EDGES[0], np.nextafter(HIST_EDGES[-1], 0))
    return np.histogram(clipped, HIST_EDGES)[0].tolist()


def _rows(
    case: VmmCase,
    seed: int,
    first: int,
    result: ProgramResult,
    targets: NDArray,
    sets: list[tuple[NDArray, NDArray]],
    half: int,
) -> list[dict]:
    n_w = case.weight_sets
    g = result.conductance
    dev_err = result.error
    nl = case.nonlinearity_config()
    rows = []
    for k in range(half):
        i, j = first + k // n_w, k % n_w
        idx = [k, k + half]
        inputs = sets[j][1]
        t_plus, t_minus = targets[k], targets[k + half]
        if nl is None:
            err = vmm_errors(g[k] - g[k + half], t_plus - t_minus, inputs)
        else:
            err = nonlinear_vmm_errors(nl, g[k], g[k + half], t_plus - t_minus, inputs)
        rng = _rng(case, seed, 2, i, j)
        tol = case.target
        g_intr = np.stack([t_plus, t_minus]) * (1 + rng.uniform(-tol, tol, (2, *t_plus.shape)))
        intrinsic = vmm_errors(g_intr[0] - g_intr[1], t_plus - t_minus, inputs)
        e = dev_err[idx]
        kept = e[~result.unswitchable[idx]]
        rows.append(
            {
                "size": case.size,
                "sigma": case.sigma,
                "target": case.target,
                "algorithm": case.algorithm,
                "crossbar": i,
                "weight_set": j,
                "tuning_error_p99": tuning_error_p99(e, result.unswitchable[idx]),
                "tuning_error_mean": float(kept.mean()) if kept.size else float("nan"),
                "within_tolerance": float(np.mean(kept <= tol)) if kept.size else float("nan"),
                "vmm_error_p99": float(np.percentile(err, WORST_CASE_PERCENTILE)),
                "vmm_error_mean": float(err.mean()),
                "vmm_error_intrinsic_p99": float(np.percentile(intrinsic, WORST_CASE_PERCENTILE)),
                "n_hs": float(result.n_hs[idx].mean()),
                "n_hs_final_pass": float(result.n_hs_final_pass[idx].mean()),
                "pulses_per_device": float(result.pulses[idx].mean()),
                "history_p99": result.history["p99"][idx].mean(axis=0).tolist(),
                "history_mean": result.history["mean"][idx].mean(axis=0).tolist(),
                "tuning_error_hist": _histogram(kept),
                "vmm_error_hist": _histogram(err),
            }
        )
    return rows


#: Summary fields of a case shown in the table, in output order.
CASE_FIELDS = (
    "size",
    "sigma",
    "target",
    "algorithm",
    "instances",
    "tuning_error_p99",
    "tuning_error_mean",
    "vmm_error_p99_median",
    "vmm_error_p99_std",
    "vmm_error_intrinsic",
    "vmm_error_mean",
    "n_hs",
    "n_hs_final_pass",
    "pulses_per_device",
)


def summarize(frame: pd.DataFrame) -> list[dict]:
    """One summary per grid point of a results frame (fractions).

    Per point, over its instances (crossbar pair x weight set):

    * ``tuning_error_p99`` / ``tuning_error_mean``: means of each instance's 99th
      percentile / mean device error (rule ``tuning_error_exclusion``), with
      ``tuning_error_p99_std`` and ``tuning_error_p99_quantiles`` (5/50/95 %);
    * ``vmm_error_p99_median``: the median of the instances' worst-case VMM errors
      (Fig. 30), with ``vmm_error_p99_mean``, ``vmm_error_p99_std`` and
      ``vmm_error_p99_quantiles``; ``vmm_error_intrinsic``: the same median for the drawn
      intrinsic bound; ``vmm_error_mean``: the mean VMM error over instances, inputs and
      outputs;
    * ``n_hs`` (whole run) and ``n_hs_final_pass``: mean half-select fractions, with
      ``n_hs_std``;
    * ``pulses_per_device``: mean write pulses per device; ``instances``: their number.

    For the improved algorithm the device errors are taken against its effective
    (partner-compensated) targets, the VMM errors against the original ones.
    """
    keys = ["size", "sigma", "target", "algorithm"]
    cases = []
    for (size, sigma, target, algorithm), g in frame.groupby(keys, sort=True):
        tuning = describe(g["tuning_error_p99"])
        vmm = describe(g["vmm_error_p99"])
        cases.append(
            {
                "size": int(size),
                "sigma": float(sigma),
                "target": float(target),
                "algorithm": str(algorithm),
                "instances": len(g),
                "tuning_error_exclusion": TUNING_ERROR_EXCLUSION,
                "tuning_error_p99": tuning["mean"],
                "tuning_error_p99_std": tuning["std"],
                "tuning_error_p99_quantiles": tuning["quantiles"],
                "tuning_error_mean": float(g["tuning_error_mean"].mean()),
                "vmm_error_p99_median": float(g["vmm_error_p99"].median()),
                "vmm_error_p99_mean": vmm["mean"],
                "vmm_error_p99_std": vmm["std"],
                "vmm_error_p99_quantiles": vmm["quantiles"],
                "vmm_error_intrinsic": float(g["vmm_error_intrinsic_p99"].median()),
                "vmm_error_mean": float(g["vmm_error_mean"].mean()),
                "n_hs": float(g["n_hs"].mean()),
                "n_hs_std": float(g["n_hs"].std(ddof=0)),
                "n_hs_final_pass": float(g["n_hs_final_pass"].mean()),
                "pulses_per_device": float(g["pulses_per_device"].mean()),
            }
        )
    return cases


def published_for(case: dict) -> dict[str, float]:
    """Published T28 numbers matching a summary (64 x 64, 1 % target, sigma 0.05 / 0.25).

    Returns
    -------
    dict
        Summary field -> published value; empty where the thesis gives none.
    """
    if case["size"] != 64 or not np.isclose(case["target"], 0.01):
        return {}
    if case["algorithm"] != "baseline":
        return {}
    for sigma, tag in ((0.05, "0p05"), (0.25, "0p25")):
        if np.isclose(case["sigma"], sigma):
            return {
                "tuning_error_p99": float(
                    published_value("T28_half_select_64", f"tuning_error_p99_sigma_{tag}")
                ),
                "vmm_error_p99_median": float(
                    published_value("T28_half_select_64", f"vmm_error_p99_sigma_{tag}")
                ),
            }
    return {}


def _find(cases: list[dict], **match: object) -> dict | None:
    for case in cases:
        if all(
            np.isclose(case[k], v) if isinstance(v, float) else case[k] == v
            for k, v in match.items()
        ):
            return case
    return None


def derived_comparisons(cases: list[dict]) -> list[dict]:
    """T30 ratios that the summaries allow: published beside ours.

    * ``n_hs_ratio_sigma_0p30_over_0p25_at_64``: mean whole-run n_HS at sigma 0.30 over
      that at 0.25 (N=64, 1 %, baseline), and the same for the final-pass count
      (``..._final_pass``).
    * ``sigma0_penalty_mean_error_at_64_target_1pct``: relative increase of the mean VMM
      error of the baseline over the ``no-hs`` run at sigma 0 (N=64, 1 %).

    Returns
    -------
    list of dict
        ``quantity``, ``published``, ``xbarsim`` (``None`` where undefined).
    """
    out = []
    common = {"size": 64, "target": 0.01}
    hi = _find(cases, sigma=0.3, algorithm="baseline", **common)
    lo = _find(cases, sigma=0.25, algorithm="baseline", **common)
    if hi is not None and lo is not None:
        key = "n_hs_ratio_sigma_0p30_over_0p25_at_64"
        for field, suffix in (("n_hs", ""), ("n_hs_final_pass", "_final_pass")):
            ours = hi[field] / lo[field] if lo[field] > 0 else None
            out.append(
                {
                    "quantity": key + suffix,
                    "published": published_value("T30_vmm_grid", key),
                    "xbarsim": ours,
                }
            )
    base = _find(cases, sigma=0.0, algorithm="baseline", **common)
    no_hs = _find(cases, sigma=0.0, algorithm="no-hs", **common)
    if base is not None and no_hs is not None:
        key = "sigma0_penalty_mean_error_at_64_target_1pct"
        ours = base["vmm_error_mean"] / no_hs["vmm_error_mean"] - 1.0
        out.append(
            {"quantity": key, "published": published_value("T30_vmm_grid", key), "xbarsim": ours}
        )
    return out

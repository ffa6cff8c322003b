"""Fit device models to measured data (layer 1).

Nonlinear least squares with scipy's trust-region reflective solver (``least_squares``,
``method="trf"``), as the thesis fitted its models. Every fit returns the
coefficients in the units of the thesis form, their standard errors (from the Jacobian at
the optimum, ``s^2 (J^T J)^-1``), the rms residual, the number of points, the residuals for
a plot, the parameters the data cannot identify (near-singular Jacobian; their standard
error is infinite) and the device-config fragment that carries the fitted model, with its
fitted ranges taken from the data. Input columns are described in
:mod:`xbarsim.devices.measurements`.

The pulse law (:func:`fit_pulse`) is fitted from pulse-response trains: conductance against
pulse number at stated amplitudes, potentiation (set, positive amplitudes) and depression
(reset, negative). Both the two-slope and the three-piece law are fitted; the device file
carries the one with the lower Bayesian information criterion.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares
from scipy.special import ndtr
from threadpoolctl import threadpool_limits

from xbarsim.devices.config import DeviceConfig, device_config_from_dict
from xbarsim.devices.dynamics import PulseLaw
from xbarsim.devices.nonlinearity import PolynomialNonlinearity
from xbarsim.devices.retention import ArrheniusRetention
from xbarsim.devices.sampling import lognormal_parameters
from xbarsim.errors import XbarsimInputError

#: Singular values below this fraction of the largest mark unidentifiable directions.
IDENTIFIABILITY_RTOL = 1e-7


@dataclass(frozen=True)
class FitResult:
    """Outcome of fitting one model.

    Attributes
    ----------
    model : str
        ``temperature``, ``nonlinearity``, ``retention``, ``thresholds`` or ``pulse``.
    coefficients, std_errors : dict of str to float
        Fitted values and standard errors, in the units of the model's form (inf where
        unidentifiable).
    rms_residual : float
        Root-mean-square residual, in ``residual_unit``.
    n_points : int
        Observations fitted.
    unidentifiable : tuple of str
        Coefficients the data cannot determine.
    predictor, residuals : ndarray
        What the residual plot draws (``predictor_label`` against ``residual_unit``).
    config : dict
        Device-config fragment with the fitted model (merge with a preset; ``dynamics`` is
        replaced as a whole, scalar keys such as ``g_min_s`` are set).
    observed : ndarray
        The measured quantity the residuals are taken against, in ``residual_unit``
        (fitted = observed + residuals), for a fit-vs-data plot; empty where ``curves``
        draw the fit instead.
    extras : dict
        Further JSON-ready results of the model (e.g. every fitted pulse law).
    curves : dict of str to ndarray
        Pulse fits: per row after a train's first pulse, the signed amplitude (V), the
        pulse number, the measured conductance (S) and ``fit:<law>`` the fitted one (S).
    """

    model: str
    coefficients: dict[str, float]
    std_errors: dict[str, float]
    rms_residual: float
    n_points: int
    unidentifiable: tuple[str, ...]
    predictor: NDArray[np.float64]
    residuals: NDArray[np.float64]
    predictor_label: str
    residual_unit: str
    config: dict = field(default_factory=dict)
    observed: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    extras: dict = field(default_factory=dict)
    curves: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    def apply_to(self, device: DeviceConfig) -> DeviceConfig:
        """``device`` with the fitted model in place (validated)."""
        data = device.model_dump(mode="json")
        for section, values in self.config.items():
            if isinstance(values, dict) and section != "dynamics":
                data[section] = {**data[section], **values}
            else:
                data[section] = values
        data["name"] = f"{device.name}+fitted-{self.model}"
        return device_config_from_dict(data)

    def summary(self) -> dict:
        """JSON-ready summary (infinite standard errors become None)."""
        return {
            "model": self.model,
            "coefficients": dict(self.coefficients),
            "std_errors": {
                k: (float(v) if np.isfinite(v) else None) for k, v in self.std_errors.items()
            },
            "rms_residual": self.rms_residual,
            "n_points": self.n_points,
            "unidentifiable": list(self.unidentifiable),
            **self.extras,
        }


def _solve(
    residual: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    p0: NDArray[np.float64],
    names: tuple[str, ...],
    bounds: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    tol: float = 1e-15,
    jac: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], tuple[str, ...]]:
    """Trust-region least squares; returns (params, std errors, residuals, unidentifiable).

    ``jac`` computes the Jacobian (default: scipy's finite differences). BLAS runs on one
    thread: the matrices are small, and threaded BLAS on a busy machine made one SVD of a
    900 x 112 Jacobian take 0.9 s instead of milliseconds.
    """
    with threadpool_limits(limits=1):
        res = least_squares(
            residual, p0, method="trf", x_scale="jac", xtol=tol, ftol=tol,
            bounds=(-np.inf, np.inf) if bounds is None else bounds,
            jac="2-point" if jac is None else jac,
        )
        return _statistics(res.x, np.asarray(res.jac, dtype=np.float64), res.fun, names)


def _statistics(
    x: NDArray[np.float64], jac_at: NDArray[np.float64], fun: NDArray, names: tuple[str, ...]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], tuple[str, ...]]:
    """Standard errors and unidentifiable parameters at the optimum ``x``."""
    r = np.asarray(fun, dtype=np.float64)
    n, k = jac_at.shape
    norms = np.linalg.norm(jac_at, axis=0)
    weak = set(np.flatnonzero(norms == 0.0))
    scaled = jac_at / np.where(norms == 0.0, 1.0, norms)
    _, sv, vt = np.linalg.svd(scaled, full_matrices=False)
    for i in np.flatnonzero(sv < IDENTIFIABILITY_RTOL * sv[0]):
        weak |= set(np.flatnonzero(np.abs(vt[i]) > 0.3))
    dof = max(n - k, 1)
    s2 = float(r @ r) / dof
    cov = np.linalg.pinv(jac_at.T @ jac_at) * s2
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    for i in weak:
        se[i] = np.inf
    return x, se, r, tuple(names[i] for i in sorted(weak))


def _span(values: NDArray[np.float64]) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    return (lo, hi) if hi > lo else (lo, lo + max(abs(lo) * 1e-9, 1e-12))


def _need(n: int, k: int, model: str) -> None:
    if n <= k:
        raise XbarsimInputError(f"data: model {model} needs more than {k} rows, got {n}")


def fit_temperature(data: dict[str, NDArray], device: DeviceConfig) -> FitResult:
    """Fit the memristor temperature polynomial ``p00, p10, p20, p30`` (%/degree C).

    ``100 (g/g0 - 1) = (T - T0) temp_scale (p00 + p10/w0 + p20 w0^2 + p30 w0^3)``,
    ``w0 = g0 / g_ref_s``, with ``T0``, ``temp_scale`` and ``g_ref_s`` from ``device``.
    """
    base = device.conditions.temperature
    names = ("p00", "p10", "p20", "p30")
    temp, g, g0 = data["temp_c"], data["g_s"], data["g0_s"]
    _need(temp.size, len(names), "temperature")
    w0 = g0 / base.g_ref_s
    dt = (temp - base.t0_c) * base.temp_scale
    basis = np.stack([dt, dt / w0, dt * w0**2, dt * w0**3], axis=1)
    y = 100.0 * (g / g0 - 1.0)
    p0 = np.array([base.p00, base.p10, base.p20, base.p30])
    p, se, r, weak = _solve(lambda q: basis @ q - y, p0, names)
    fitted = base.model_copy(update=dict(zip(names, (float(v) for v in p), strict=True)))
    section = fitted.model_dump(mode="json")
    section["fit_temp_c"] = list(_span(np.append(temp, base.t0_c)))
    section["fit_w0"] = list(_span(w0))
    return FitResult(
        "temperature",
        dict(zip(names, (float(v) for v in p), strict=True)),
        dict(zip(names, (float(v) for v in se), strict=True)),
        float(np.sqrt(np.mean(r**2))),
        int(temp.size),
        weak,
        temp,
        r,
        "temperature (degC)",
        "% (100 dw/w0)",
        {"conditions": {"temperature": section}},
        y,
    )


def fit_nonlinearity(data: dict[str, NDArray], device: DeviceConfig) -> FitResult:
    """Fit the memristor nonlinearity polynomial ``p01, p03`` (uA) and ``p10, p20, p30``
    (uA/uS^k) with ``V_max`` and ``V_tune`` of ``device``'s nonlinearity model."""
    current = device.conditions.nonlinearity
    base = (
        current
        if isinstance(current, PolynomialNonlinearity)
        else PolynomialNonlinearity(v_max_v=current.v_max_v, v_tune_v=current.v_tune_v)
    )
    names = ("p01", "p03", "p10", "p20", "p30")
    v, i, g = data["v"], data["i_a"], data["g_tune_s"]
    _need(v.size, len(names), "nonlinearity")
    x = v / base.v_max_v
    u = np.abs(x)
    b = x * (u - base.x_tune)
    w = g * 1e6
    basis = np.stack([b * u, b * u**3, b * w, b * w**2, b * w**3], axis=1)
    y = (i - g * v) * 1e6
    p0 = np.array([base.p01, base.p03, base.p10, base.p20, base.p30])
    p, se, r, weak = _solve(lambda q: basis @ q - y, p0, names)
    fitted = base.model_copy(update=dict(zip(names, (float(q) for q in p), strict=True)))
    section = fitted.model_dump(mode="json")
    section["fit_v"] = [0.0, float(np.max(np.abs(v)))]
    section["fit_g_s"] = list(_span(g))
    return FitResult(
        "nonlinearity",
        dict(zip(names, (float(q) for q in p), strict=True)),
        dict(zip(names, (float(q) for q in se), strict=True)),
        float(np.sqrt(np.mean(r**2))),
        int(v.size),
        weak,
        v,
        r,
        "voltage (V)",
        "uA (current error)",
        {"conditions": {"nonlinearity": section}},
        y,
    )


def fit_retention(data: dict[str, NDArray], device: DeviceConfig) -> FitResult:
    """Fit the Arrhenius retention model: ``activation_energy_ev`` (eV), ``sigma_ref`` and
    ``bias`` (fractions at ``t_ref_years``).

    Each device follows ``eps(t) = f(t_eq(E_a)) c_i``; the per-device constants ``c_i`` are
    profiled out (closed form) while ``E_a`` is fitted; then ``bias`` is the least-squares
    amplitude of the state-dependent mean of ``c_i`` and ``sigma_ref`` their spread about it.
    Devices are measured from ``t_s = 0`` at their programmed ``g0_s``.
    """
    base = device.conditions.retention
    ids, t_h = data["device_id"], data["t_s"] / 3600.0
    temp, g, g0 = data["temp_c"], data["g_s"], data["g0_s"]
    _need(t_h.size, 3, "retention")
    eps = g / g0 - 1.0
    uniq, dev = np.unique(ids, return_inverse=True)
    n_dev = uniq.size
    k_b = 8.617333262e-5
    inv = 1.0 / (base.room_temp_c + 273.15) - 1.0 / (temp + 273.15)
    t_ref = base.t_ref_years * 365.25 * 24.0

    def factor(ea: float) -> NDArray[np.float64]:
        t_eq = t_h * np.exp(ea / k_b * inv)
        return np.log1p(t_eq / base.tau_h) / np.log1p(t_ref / base.tau_h)

    def per_device(f: NDArray[np.float64]) -> NDArray[np.float64]:
        num = np.bincount(dev, f * eps, n_dev)
        den = np.bincount(dev, f * f, n_dev)
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)

    def residual(q: NDArray[np.float64]) -> NDArray[np.float64]:
        f = factor(float(q[0]))
        return eps - f * per_device(f)[dev]

    ea, ea_se, r, weak = _solve(
        residual, np.array([base.activation_energy_ev]), ("activation_energy_ev",)
    )
    c = per_device(factor(float(ea[0])))
    first = np.zeros(n_dev, dtype=np.int64)
    first[dev[::-1]] = np.arange(dev.size)[::-1]
    w0 = g0[first] / base.g_ref_s
    shape = base.model_copy(update={"bias": 1.0}).mean_drift(w0)
    shape_norm = float(shape @ shape)
    bias = float(shape @ c) / shape_norm if shape_norm > 0 else 0.0
    spread = c - bias * shape
    dof = max(n_dev - 1, 1)
    sigma = float(np.sqrt(spread @ spread / dof))
    bias_se = sigma / np.sqrt(shape_norm) if shape_norm > 0 else np.inf
    sigma_se = sigma / np.sqrt(2.0 * dof)
    if shape_norm == 0:
        weak = (*weak, "bias")
    coefficients = {
        "activation_energy_ev": float(ea[0]),
        "sigma_ref": sigma,
        "bias": max(bias, 0.0),
    }
    std_errors = {
        "activation_energy_ev": float(ea_se[0]),
        "sigma_ref": float(sigma_se),
        "bias": float(bias_se),
    }
    fitted = ArrheniusRetention.model_validate({**base.model_dump(), **coefficients})
    return FitResult(
        "retention",
        coefficients,
        std_errors,
        float(np.sqrt(np.mean(r**2))),
        int(t_h.size),
        weak,
        data["t_s"],
        r,
        "time (s)",
        "fraction (dG/G0)",
        {"conditions": {"retention": fitted.model_dump(mode="json")}},
        eps,
    )


def extract_thresholds(
    data: dict[str, NDArray], change: float
) -> tuple[NDArray[np.str_], NDArray[np.float64], NDArray[np.float64]]:
    """Per-device operational thresholds from pulse sweeps (V; NaN where never switched).

    The threshold of a polarity is the smallest pulse amplitude that changed the
    conductance by at least ``change`` (relative), as in the paper's Fig. 2.
    """
    ids, amp = data["device_id"], data["amplitude_v"]
    rel = np.abs(data["g_after_s"] / data["g_before_s"] - 1.0)
    uniq, dev = np.unique(ids, return_inverse=True)
    v_set = np.full(uniq.size, np.nan)
    v_reset = np.full(uniq.size, np.nan)
    switched = rel >= change
    for sign, out in ((1.0, v_set), (-1.0, v_reset)):
        sel = switched & (np.sign(amp) == sign)
        mags = np.abs(amp[sel])
        order = np.argsort(-mags)  # the smallest amplitude is written last
        out[dev[sel][order]] = mags[order]
    return uniq, v_set, v_reset


def fit_thresholds(data: dict[str, NDArray], device: DeviceConfig) -> FitResult:
    """Fit log-normal set and reset threshold statistics to pulse sweeps.

    Thresholds are extracted per device (:func:`extract_thresholds`, with the device's
    ``threshold_change``). The log-normal's parameters are its mean and standard deviation
    (V), estimated by the sample moments (standard errors from sampling theory, using the
    sample kurtosis); the residuals are those of the resulting CDF against the empirical
    one. The set/reset correlation is that of the log thresholds (standard error
    ``(1 - r^2) / sqrt(n - 3)``); devices that never switched give the unswitchable
    fraction (binomial standard error).
    """
    _, v_set, v_reset = extract_thresholds(data, device.threshold_change)
    n_dev = v_set.size
    both = np.isfinite(v_set) & np.isfinite(v_reset)
    coefficients: dict[str, float] = {}
    std_errors: dict[str, float] = {}
    residuals, predictors, empirical, weak = [], [], [], []
    for name, values in (
        ("set", v_set[np.isfinite(v_set)]),
        ("reset", v_reset[np.isfinite(v_reset)]),
    ):
        _need(values.size, 4, f"thresholds ({name})")
        v = np.sort(values)
        n = v.size
        mean, std = float(v.mean()), float(v.std(ddof=1))
        kurtosis = float(np.mean((v - mean) ** 4)) / std**4 if std > 0 else 3.0
        names = (f"{name}_mean_v", f"{name}_std_v")
        coefficients.update({names[0]: mean, names[1]: std})
        std_errors[names[0]] = std / np.sqrt(n)
        std_errors[names[1]] = std * np.sqrt(max(kurtosis - 1.0, 0.0) / (4.0 * n))
        if std == 0.0:
            weak.append(names[1])
        mu, sg = lognormal_parameters(mean, max(std, 1e-12))
        r = ndtr((np.log(v) - mu) / sg) - (np.arange(n) + 0.5) / n
        residuals.append(r)
        predictors.append(v)
        empirical.append((np.arange(n) + 0.5) / n)
    n_both = int(both.sum())
    if n_both >= 4:
        rho = float(np.corrcoef(np.log(v_set[both]), np.log(v_reset[both]))[0, 1])
        rho_se = (1 - rho**2) / np.sqrt(n_both - 3)
    else:
        rho, rho_se = device.thresholds.correlation, np.inf
        weak.append("correlation")
    coefficients["correlation"] = rho
    std_errors["correlation"] = float(rho_se)
    never = float(np.mean(~(np.isfinite(v_set) | np.isfinite(v_reset))))
    coefficients["unswitchable_fraction"] = never
    std_errors["unswitchable_fraction"] = float(np.sqrt(never * (1 - never) / n_dev))
    r_all = np.concatenate(residuals)
    thresholds = {k: coefficients[k] for k in ("set_mean_v", "set_std_v", "reset_mean_v")}
    thresholds["reset_std_v"] = coefficients["reset_std_v"]
    thresholds["correlation"] = max(-1.0, min(1.0, rho))
    return FitResult(
        "thresholds",
        coefficients,
        std_errors,
        float(np.sqrt(np.mean(r_all**2))),
        int(data["amplitude_v"].size),
        tuple(weak),
        np.concatenate(predictors),
        r_all,
        "threshold (V)",
        "CDF (fraction)",
        {"thresholds": thresholds, "faults": {"unswitchable_fraction": min(never, 0.999)}},
        np.concatenate(empirical),
    )


#: Pulse laws :func:`fit_pulse` fits, by their ``dynamics.kind`` in a device file.
PULSE_LAWS = ("two-slope", "three-piece")


@dataclass(frozen=True)
class _Trains:
    """Pulse-response rows after the first pulse, each with its train and starting state."""

    device_ids: NDArray[np.str_]
    dev: NDArray[np.int64]
    train: NDArray[np.int64]
    is_set: NDArray[np.bool_]
    amplitude: NDArray[np.float64]
    pulse: NDArray[np.float64]
    g: NDArray[np.float64]
    g0: NDArray[np.float64]  # measured starting conductance of each train (S)


def _pulse_trains(data: dict[str, NDArray]) -> _Trains:
    """Group rows into trains (one device, one signed amplitude) started by a pulse-0 row."""
    ids, amp, pulse, g = data["device_id"], data["amplitude_v"], data["pulse"], data["g_s"]
    if np.any(amp == 0.0):
        raise XbarsimInputError("data: amplitude_v must be nonzero (> 0 set, < 0 reset), got 0")
    if np.any(pulse != np.round(pulse)):
        bad = float(pulse[pulse != np.round(pulse)][0])
        raise XbarsimInputError(f"data: pulse must be a whole number of pulses, got {bad:g}")
    start: dict[tuple[str, float], int] = {}
    g0: list[float] = []
    for i in np.flatnonzero(pulse == 0):
        key = (str(ids[i]), float(amp[i]))
        if key not in start:
            start[key] = len(g0)
            g0.append(float(g[i]))
    rows = np.flatnonzero(pulse > 0)
    train = np.empty(rows.size, dtype=np.int64)
    for k, i in enumerate(rows):
        key = (str(ids[i]), float(amp[i]))
        if key not in start:
            raise XbarsimInputError(
                f"data: the train of device {key[0]!r} at {key[1]:g} V has no pulse-0 row "
                "(its conductance before the first pulse)"
            )
        train[k] = start[key]
    uniq, dev = np.unique(ids[rows], return_inverse=True)
    return _Trains(uniq, dev, train, amp[rows] > 0, np.abs(amp[rows]), pulse[rows], g[rows],
                   np.asarray(g0))


def _first_thresholds(
    trains: _Trains, law: PulseLaw, fallback: tuple[float, float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Starting per-device thresholds (V) from each train's first pulse, read above threshold."""
    n_dev = trains.device_ids.size
    out = (np.full(n_dev, fallback[0]), np.full(n_dev, fallback[1]))
    first = trains.pulse == 1
    for polarity, v_th, d0 in ((True, out[0], law.d0_set), (False, out[1], law.d0_reset)):
        sel = first & (trains.is_set == polarity)
        g0, g1 = trains.g0[trains.train[sel]], trains.g[sel]
        bound = law.g_max if polarity else law.g_min
        with np.errstate(divide="ignore", invalid="ignore"):
            dose = -np.log((bound - g1) / (bound - g0))
        ok = np.isfinite(dose) & (dose > 1e-3)
        guess = trains.amplitude[sel][ok] - law.slope_above * np.log(dose[ok] / d0)
        for d in np.unique(trains.dev[sel][ok]):
            v_th[d] = float(np.median(guess[trains.dev[sel][ok] == d]))
    return np.clip(out[0], 0.05, 9.0), np.clip(out[1], 0.05, 9.0)


def _fit_pulse_law(
    trains: _Trains, device: DeviceConfig, kind: str
) -> tuple[dict, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], tuple, float]:
    """Fit one law; returns (law values, their std errors, per-device thresholds, residuals
    of the rows after a first pulse, unidentifiable law coefficients, BIC).

    Unknowns: the law's slopes (and knee, far slope), every device's set and reset
    threshold, and every train's true starting conductance (its pulse-0 row is a noisy
    measurement of it, fitted like every other row). Each threshold and starting state
    touches only its own rows, so the forward-difference Jacobian perturbs all thresholds
    at once and all starting states at once: ``n_law + 2`` evaluations per Jacobian.
    """
    base = device.pulse_law()
    below, above = device.dynamics.slopes()
    knee, far = device.dynamics.far_piece()
    law_names: tuple[str, ...] = ("slope_below_v", "slope_above_v")
    p_law = [below, above]
    lo_law, hi_law = [1e-4, 1e-4], [5.0, 5.0]
    if kind == "three-piece":
        law_names += ("knee_v", "slope_far_v")
        p_law += [knee if math.isfinite(knee) else 0.3, 1.5 * above if far == above else far]
        lo_law += [1e-3, 1e-4]
        hi_law += [5.0, 100.0]
    n_law, n_dev, n_train = len(law_names), trains.device_ids.size, trains.g0.size
    i_set = np.unique(trains.dev[trains.is_set])
    i_reset = np.unique(trains.dev[~trains.is_set])
    v_set0, v_reset0 = _first_thresholds(
        trains, base, (device.thresholds.set_mean_v, device.thresholds.reset_mean_v)
    )
    names = (
        *law_names,
        *(f"v_set[{trains.device_ids[i]}]" for i in i_set),
        *(f"v_reset[{trains.device_ids[i]}]" for i in i_reset),
        *(f"g0[{t}]" for t in range(n_train)),
    )
    # column of each row's threshold parameter, and of each train's starting state
    col_set = np.full(n_dev, -1)
    col_set[i_set] = n_law + np.arange(i_set.size)
    col_reset = np.full(n_dev, -1)
    col_reset[i_reset] = n_law + i_set.size + np.arange(i_reset.size)
    first_g0 = n_law + i_set.size + i_reset.size
    g_scale = 1e-6  # starting states are fitted in uS
    p0 = np.concatenate([p_law, v_set0[i_set], v_reset0[i_reset], trains.g0 / g_scale])
    n_th = i_set.size + i_reset.size
    lower = np.concatenate([lo_law, np.full(n_th, 0.01), np.full(n_train, base.g_min / g_scale)])
    upper = np.concatenate([hi_law, np.full(n_th, 10.0), np.full(n_train, base.g_max / g_scale)])
    n_rows = trains.g.size
    rows = np.arange(n_rows)
    col_th = np.where(trains.is_set, col_set[trains.dev], col_reset[trains.dev])
    # the one threshold / starting-state column each residual depends on
    groups = (
        (rows, col_th),
        (np.arange(n_rows + n_train),
         np.concatenate([first_g0 + trains.train, first_g0 + np.arange(n_train)])),
    )

    def residual(q: NDArray[np.float64]) -> NDArray[np.float64]:
        far_piece = (float(q[2]), float(q[3])) if kind == "three-piece" else (math.inf, 1.0)
        law = PulseLaw(base.g_min, base.g_max, base.d0_set, base.d0_reset, float(q[0]),
                       float(q[1]), *far_piece)
        v_th = q[np.where(trains.is_set, col_set[trains.dev], col_reset[trains.dev])]
        g0_fit = q[first_g0:] * g_scale
        d_set = law.dose(trains.amplitude, v_th, law.d0_set)
        d_reset = law.dose(trains.amplitude, v_th, law.d0_reset)
        keep = np.exp(-trains.pulse * np.where(trains.is_set, d_set, d_reset))
        start = g0_fit[trains.train]
        pred = np.where(
            trains.is_set,
            law.g_max - (law.g_max - start) * keep,
            law.g_min + (start - law.g_min) * keep,
        )
        return np.concatenate([pred / trains.g - 1.0, g0_fit / trains.g0 - 1.0])

    def jacobian(q: NDArray[np.float64]) -> NDArray[np.float64]:
        f0 = residual(q)
        step = np.sqrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(q))
        step = np.where(q + step > upper, -step, step)
        jac = np.zeros((f0.size, q.size))
        for j in range(n_law):
            moved = q.copy()
            moved[j] += step[j]
            jac[:, j] = (residual(moved) - f0) / step[j]
        for res_rows, cols in groups:
            moved = q.copy()
            moved[cols] += step[cols]
            jac[res_rows, cols] = (residual(moved) - f0)[res_rows] / step[cols]
        return jac

    p, se, r, weak = _solve(residual, p0, names, (lower, upper), tol=1e-10, jac=jacobian)
    n = r.size
    bic = n * math.log(max(float(r @ r), 1e-300) / n) + p.size * math.log(n)
    values = dict(zip(law_names, (float(v) for v in p[:n_law]), strict=True))
    thresholds = np.full((2, n_dev), np.nan)
    thresholds[0, i_set] = p[col_set[i_set]]
    thresholds[1, i_reset] = p[col_reset[i_reset]]
    law_weak = tuple(w for w in weak if w in law_names)
    return values, se[:n_law], thresholds, r[:n_rows], law_weak, bic


def fit_pulse(data: dict[str, NDArray], device: DeviceConfig) -> FitResult:
    """Fit the pulse law (two-slope and three-piece) to pulse-response trains.

    A train is one device pulsed ``pulse`` = 1, 2, ... times at one signed amplitude from
    the conductance of its ``pulse = 0`` row. Same-polarity doses add, so after ``n``
    pulses a set train sits at ``g_max - (g_max - g0) exp(-n d)`` and a reset train at
    ``g_min + (g0 - g_min) exp(-n d)``, with the dose ``d`` of
    :class:`~xbarsim.devices.dynamics.PulseLaw`. Fitted: the law's slopes (and knee and far
    slope for the three-piece law) shared by all devices, and each device's set and reset
    threshold (V); the bounds ``g_min_s, g_max_s`` and the dose at threshold come from
    ``device``. Residuals are relative (``fitted / measured - 1``). The law with the lower
    Bayesian information criterion goes into the device file; both are reported.
    """
    for column in ("device_id", "amplitude_v", "pulse", "g_s"):
        if column not in data:
            raise XbarsimInputError(f"data: model pulse needs column {column!r}")
    trains = _pulse_trains(data)
    _need(trains.g.size, 2 + 2 * trains.device_ids.size, "pulse")
    fits = {kind: _fit_pulse_law(trains, device, kind) for kind in PULSE_LAWS}
    chosen = min(PULSE_LAWS, key=lambda k: fits[k][5])
    values, se, thresholds, r, weak, _ = fits[chosen]
    laws = {}
    for kind, (vals, errs, _, res, wk, bic) in fits.items():
        laws[kind] = {
            "coefficients": vals,
            "std_errors": {
                k: (float(e) if np.isfinite(e) else None) for k, e in zip(vals, errs, strict=True)
            },
            "rms_residual": float(np.sqrt(np.mean(res**2))),
            "bic": bic,
            "unidentifiable": list(wk),
        }
    v_set, v_reset = thresholds
    fitted_thresholds = {
        f"{name}_{stat}_v": float(fn(v[np.isfinite(v)])) if np.isfinite(v).sum() > 1 else None
        for name, v in (("set", v_set), ("reset", v_reset))
        for stat, fn in (("mean", np.mean), ("std", lambda x: np.std(x, ddof=1)))
    }
    return FitResult(
        "pulse",
        values,
        dict(zip(values, (float(e) for e in se), strict=True)),
        float(np.sqrt(np.mean(r**2))),
        int(r.size),
        weak,
        trains.pulse,
        r,
        "pulse number",
        "fraction (G/G_measured - 1)",
        {"dynamics": {"kind": chosen, **values}},
        extras={"law": chosen, "laws": laws, "fitted_thresholds": fitted_thresholds,
                "devices": int(trains.device_ids.size)},
        curves={
            "amplitude_v": np.where(trains.is_set, 1.0, -1.0) * trains.amplitude,
            "pulse": trains.pulse,
            "g_s": trains.g,
            **{f"fit:{kind}": trains.g * (1.0 + fits[kind][3]) for kind in PULSE_LAWS},
        },
    )


FITTERS: dict[str, Callable[[dict[str, NDArray], DeviceConfig], FitResult]] = {
    "temperature": fit_temperature,
    "nonlinearity": fit_nonlinearity,
    "retention": fit_retention,
    "thresholds": fit_thresholds,
    "pulse": fit_pulse,
}


def fit_device(data: dict[str, NDArray], model: str, device: DeviceConfig) -> FitResult:
    """Fit ``model`` (a key of :data:`FITTERS`) to measurements, starting from ``device``."""
    if model not in FITTERS:
        raise XbarsimInputError(f"model: unknown model {model!r}; allowed: {', '.join(FITTERS)}")
    return FITTERS[model](data, device)

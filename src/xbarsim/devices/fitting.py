"""Fit device models to measured data (layer 1).

Nonlinear least squares with scipy's trust-region reflective solver (``least_squares``,
``method="trf"``), as the thesis fitted its models (L435). Every fit returns the
coefficients in the units of the thesis form, their standard errors (from the Jacobian at
the optimum, ``s^2 (J^T J)^-1``), the rms residual, the number of points, the residuals for
a plot, the parameters the data cannot identify (near-singular Jacobian; their standard
error is infinite) and the device-config fragment that carries the fitted model, with its
fitted ranges taken from the data. Input columns are described in
:mod:`xbarsim.devices.measurements`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares
from scipy.special import ndtr

from xbarsim.devices.config import DeviceConfig, device_config_from_dict
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
        ``temperature``, ``nonlinearity``, ``retention`` or ``thresholds``.
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
        Device-config fragment with the fitted model (merge with a preset).
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

    def apply_to(self, device: DeviceConfig) -> DeviceConfig:
        """``device`` with the fitted model in place (validated)."""
        data = device.model_dump(mode="json")
        for section, values in self.config.items():
            if section == "conditions":
                data["conditions"] = {**data["conditions"], **values}
            else:
                data[section] = {**data[section], **values}
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
        }


def _solve(
    residual: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    p0: NDArray[np.float64],
    names: tuple[str, ...],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], tuple[str, ...]]:
    """Trust-region least squares; returns (params, std errors, residuals, unidentifiable)."""
    res = least_squares(residual, p0, method="trf", x_scale="jac", xtol=1e-15, ftol=1e-15)
    jac = np.asarray(res.jac, dtype=np.float64)
    r = np.asarray(res.fun, dtype=np.float64)
    n, k = jac.shape
    norms = np.linalg.norm(jac, axis=0)
    weak = set(np.flatnonzero(norms == 0.0))
    scaled = jac / np.where(norms == 0.0, 1.0, norms)
    _, sv, vt = np.linalg.svd(scaled, full_matrices=False)
    for i in np.flatnonzero(sv < IDENTIFIABILITY_RTOL * sv[0]):
        weak |= set(np.flatnonzero(np.abs(vt[i]) > 0.3))
    dof = max(n - k, 1)
    s2 = float(r @ r) / dof
    cov = np.linalg.pinv(jac.T @ jac) * s2
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    for i in weak:
        se[i] = np.inf
    return res.x, se, r, tuple(names[i] for i in sorted(weak))


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
    residuals, predictors, weak = [], [], []
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
    )


FITTERS: dict[str, Callable[[dict[str, NDArray], DeviceConfig], FitResult]] = {
    "temperature": fit_temperature,
    "nonlinearity": fit_nonlinearity,
    "retention": fit_retention,
    "thresholds": fit_thresholds,
}


def fit_device(data: dict[str, NDArray], model: str, device: DeviceConfig) -> FitResult:
    """Fit ``model`` (a key of :data:`FITTERS`) to measurements, starting from ``device``."""
    if model not in FITTERS:
        raise XbarsimInputError(f"model: unknown model {model!r}; allowed: {', '.join(FITTERS)}")
    return FITTERS[model](data, device)

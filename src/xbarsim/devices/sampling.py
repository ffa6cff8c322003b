"""Per-device parameters drawn from a :class:`DeviceConfig` (layer 1).

Set and reset thresholds are drawn from a Gaussian copula: two standard normals with the
configured correlation, each mapped onto its marginal (log-normal, normal or normal
truncated at 0 V), which has the configured mean and std (V).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.special import erfcx, ndtr, ndtri

from xbarsim.devices.config import DeviceConfig, ThresholdDistribution, ThresholdStatistics
from xbarsim.errors import XbarsimInputError


@dataclass(frozen=True)
class DeviceSample:
    """Parameters of one ``rows x cols`` array of devices.

    Attributes
    ----------
    v_set, v_reset : ndarray of float64
        Set threshold and reset threshold magnitude (V); ``inf`` for unswitchable devices.
    unswitchable : ndarray of bool
        Devices that never switch.
    conductance : ndarray of float64
        As-fabricated conductance (S).
    """

    v_set: NDArray[np.float64]
    v_reset: NDArray[np.float64]
    unswitchable: NDArray[np.bool_]
    conductance: NDArray[np.float64]


def lognormal_parameters(mean: float, std: float) -> tuple[float, float]:
    """(mu, sigma) of the normal whose exponential has the given mean and std."""
    s2 = math.log1p((std / mean) ** 2)
    return math.log(mean) - 0.5 * s2, math.sqrt(s2)


def _inverse_mills(alpha: float) -> float:
    """``phi(alpha) / (1 - Phi(alpha))`` of the standard normal, stable in both tails."""
    return math.sqrt(2.0 / math.pi) / float(erfcx(alpha / math.sqrt(2.0)))


@functools.cache
def truncated_normal_parameters(mean: float, std: float) -> tuple[float, float]:
    """(mu, sigma) of the parent normal whose truncation to positive values has the given
    mean and std (V).

    With ``alpha = -mu / sigma`` and ``lam`` the inverse Mills ratio at ``alpha``, the
    truncated mean is ``sigma (lam - alpha)`` and its variance
    ``sigma^2 (1 + alpha lam - lam^2)``; their ratio std / mean grows monotonically from
    0 to 1 with ``alpha``, so ``alpha`` follows from a root search.

    Raises
    ------
    XbarsimInputError
        If ``std >= mean`` (no truncated normal has that spread).
    """
    if not 0.0 <= std < mean:
        raise XbarsimInputError(
            f"truncated_normal: threshold std ({std:g} V) must be below its mean ({mean:g} V)"
        )
    if std == 0.0:
        return mean, 0.0
    cv = std / mean

    def excess(alpha: float) -> float:
        lam = _inverse_mills(alpha)
        return math.sqrt(max(1.0 + alpha * lam - lam * lam, 0.0)) / (lam - alpha) - cv

    lo = -1.0 / cv - 10.0
    hi = 1.0
    while excess(hi) < 0.0:
        hi *= 2.0
    alpha = brentq(excess, lo, hi, xtol=1e-14, rtol=1e-14)
    sigma = mean / (_inverse_mills(alpha) - alpha)
    return -alpha * sigma, sigma


def _marginal(
    z: NDArray[np.float64], mean: float, std: float, distribution: ThresholdDistribution
) -> NDArray[np.float64]:
    """Map standard normals ``z`` onto the threshold marginal (V) of that mean and std."""
    if distribution == "lognormal":
        mu, s = lognormal_parameters(mean, std)
        return np.exp(mu + s * z)
    if distribution == "normal":
        return mean + std * z
    mu, sigma = truncated_normal_parameters(mean, std)
    if sigma == 0.0:
        return np.full(z.shape, mu)
    # upper tail of the truncated normal equals the upper tail of z (accurate in both tails)
    kept = ndtr(mu / sigma)  # mass of the parent above 0 V
    return mu - sigma * ndtri(kept * ndtr(-z))


def sample_thresholds(
    stats: ThresholdStatistics,
    shape: tuple[int, int],
    rng: np.random.Generator,
    distribution: ThresholdDistribution = "lognormal",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Correlated set and reset thresholds (V, magnitudes).

    Parameters
    ----------
    stats : ThresholdStatistics
        Means, stds (V) and the correlation of the underlying normals.
    shape : (rows, cols)
    rng : numpy.random.Generator
    distribution : {"lognormal", "normal", "truncated_normal"}
        Marginal distribution (see :attr:`DeviceConfig.threshold_distribution`); every
        choice draws the same normals from ``rng``.
    """
    z = rng.standard_normal((2, *shape))
    rho = stats.correlation
    z_reset = rho * z[0] + math.sqrt(max(0.0, 1.0 - rho * rho)) * z[1]
    return (
        _marginal(z[0], stats.set_mean_v, stats.set_std_v, distribution),
        _marginal(z_reset, stats.reset_mean_v, stats.reset_std_v, distribution),
    )


def sample_devices(
    config: DeviceConfig, shape: tuple[int, int], rng: np.random.Generator
) -> DeviceSample:
    """Draw thresholds, faults and initial conductances for one array.

    Unswitchable devices are chosen uniformly at random (exactly
    ``round(fraction * rows * cols)`` of them), so they scatter rather than form lines.
    """
    v_set, v_reset = sample_thresholds(
        config.thresholds, shape, rng, config.threshold_distribution
    )
    n = shape[0] * shape[1]
    n_bad = round(config.faults.unswitchable_fraction * n)
    unswitchable = np.zeros(n, dtype=bool)
    unswitchable[rng.choice(n, size=n_bad, replace=False)] = True
    unswitchable = unswitchable.reshape(shape)
    g = rng.normal(config.initial_mean_s, config.initial_std_s, size=shape)
    g = np.clip(g, config.g_min_s, config.g_max_s)
    stuck = config.g_min_s if config.faults.stuck_state == "low" else config.g_max_s
    g[unswitchable] = stuck
    v_set[unswitchable] = np.inf
    v_reset[unswitchable] = np.inf
    return DeviceSample(v_set=v_set, v_reset=v_reset, unswitchable=unswitchable, conductance=g)

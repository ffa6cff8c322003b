"""Per-device parameters drawn from a :class:`DeviceConfig` (layer 1)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from xbarsim.devices.config import DeviceConfig, ThresholdStatistics


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


def sample_thresholds(
    stats: ThresholdStatistics, shape: tuple[int, int], rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Correlated log-normal set and reset thresholds (V, positive magnitudes)."""
    z = rng.standard_normal((2, *shape))
    rho = stats.correlation
    z_reset = rho * z[0] + math.sqrt(max(0.0, 1.0 - rho * rho)) * z[1]
    mu_s, s_s = lognormal_parameters(stats.set_mean_v, stats.set_std_v)
    mu_r, s_r = lognormal_parameters(stats.reset_mean_v, stats.reset_std_v)
    return np.exp(mu_s + s_s * z[0]), np.exp(mu_r + s_r * z_reset)


def sample_devices(
    config: DeviceConfig, shape: tuple[int, int], rng: np.random.Generator
) -> DeviceSample:
    """Draw thresholds, faults and initial conductances for one array.

    Unswitchable devices are chosen uniformly at random (exactly
    ``round(fraction * rows * cols)`` of them), so they scatter rather than form lines.
    """
    v_set, v_reset = sample_thresholds(config.thresholds, shape, rng)
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

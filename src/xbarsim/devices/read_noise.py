"""Read noise: a per-device Gaussian conductance fluctuation at every read (layer 1).

Each device ``i`` has a noise standard deviation ``sigma_i = sigma_rel * s_i * G_i`` (S),
with a scale ``s_i`` drawn once per device (log-normal, mean 1, relative spread
``scale_spread``). A read draws a fresh ``G_i + sigma_i * eps``. The sum over a column,
``sum_i (G_i + sigma_i eps_i) V_i``, is exactly Gaussian around the ideal current with
variance ``sum_i sigma_i^2 V_i^2``: :func:`output_noise` draws it with one extra matrix
product; :func:`sample_device_noise` draws every device's fluctuation (the reference).
The thesis gives no read-noise number: the default (off) and any value are
**assumptions**.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field


class ReadNoise(BaseModel):
    """Per-device Gaussian read noise.

    Attributes
    ----------
    sigma_rel : float
        Noise standard deviation relative to the device's conductance (fraction); 0 = off.
    scale_spread : float
        Device-to-device relative spread (std/mean) of the noise scale ``s_i``.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    sigma_rel: float = Field(0.0, ge=0.0, le=1.0)
    scale_spread: float = Field(0.0, ge=0.0, le=10.0)

    def draw_scale(self, shape: tuple[int, ...], rng: np.random.Generator) -> NDArray[np.float64]:
        """Per-device scales ``s_i`` (log-normal, mean 1); always draws one normal per device."""
        z = rng.standard_normal(shape)
        s2 = math.log1p(self.scale_spread**2)
        return np.exp(math.sqrt(s2) * z - 0.5 * s2)

    def device_sigma(
        self, g_s: NDArray[np.float64], scale: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Noise standard deviation per device (S)."""
        return self.sigma_rel * scale * g_s


def output_noise(
    v: NDArray[np.float64], sigma_s: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """Noise of column currents (A), drawn at the output.

    Parameters
    ----------
    v : ndarray, shape (n, rows) or (batch, n, rows)
        Row voltages (V).
    sigma_s : ndarray, shape (batch, rows, cols)
        Per-device noise standard deviations (S).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (batch, n, cols)
        Gaussian with variance ``(v**2) @ sigma_s**2`` per column.
    """
    std = np.sqrt(np.matmul(v * v, sigma_s * sigma_s))
    return std * rng.standard_normal(std.shape)


def sample_device_noise(
    v: NDArray[np.float64], sigma_s: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """Reference: noise of column currents (A) from an independent draw per device per read.

    Same shapes as :func:`output_noise`; O(batch * n * rows * cols) work and memory.
    """
    vb = np.broadcast_to(v, (sigma_s.shape[0], *v.shape[-2:]))
    eps = rng.standard_normal((sigma_s.shape[0], vb.shape[1], *sigma_s.shape[1:]))
    return np.einsum("bnr,bnrc,brc->bnc", vb, eps, sigma_s)

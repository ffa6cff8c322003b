"""Outlier threshold refresh before tuning (layer 3; thesis section 3.5.3).

A device with unusually low switching thresholds is the most exposed to half-select
disturbance. The thesis revives such a device by a continuous hard reset (to > 1 MOhm)
and a voltage-controlled re-forming; it then switches again with stochastically shifted
thresholds (Fig. 34: a symmetric spread of the relative change; example +/-0.8 V ->
+0.95 / -1.2 V). Used once or a few times per device (endurance).

Model (thesis 3.5.3; widths and the post-forming state are **assumptions**):

``mode="relative"``
    ``Vs' = Vs (1 + e_s)``, ``|Vr'| = |Vr| (1 + e_r)``, ``e ~ Normal(0, width)`` with
    correlation ``correlation``, clipped to ``(-0.9, 1.5)``.
``mode="resample"``
    Fresh thresholds from the crossbar's population distribution.

Policy: before tuning, every device whose set or reset threshold lies below
``mean - outlier_sigmas * std`` of the population is refreshed (conductance set to the
device's as-formed mean, new thresholds drawn); a device still an outlier is refreshed
again, at most ``max_refresh`` times. Draws come from each crossbar's own stream, keyed by
the round, so they do not depend on the batch.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.sampling import sample_thresholds

#: Spawn-key suffix of the refresh draws of a crossbar.
REFRESH_STREAM = 0x3553


class ThresholdRefresh(BaseModel):
    """Refresh low-threshold outliers before tuning.

    Attributes
    ----------
    mode : {"relative", "resample"}
        How new thresholds are drawn (see the module docstring).
    width : float
        Standard deviation of the relative threshold change (``relative`` mode).
    correlation : float
        Correlation of the set and reset changes (``relative`` mode).
    outlier_sigmas : float
        A threshold below ``mean - outlier_sigmas * std`` of the population is an outlier.
    max_refresh : int
        Refreshes per device at most.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    mode: Literal["relative", "resample"] = "relative"
    width: float = Field(0.25, ge=0.0, le=5.0)
    correlation: float = Field(0.7, ge=-1.0, le=1.0)
    outlier_sigmas: float = Field(1.5, ge=0.0, le=10.0)
    max_refresh: int = Field(1, ge=1, le=100)

    def outliers(self, xbars: Crossbar) -> NDArray[np.bool_]:
        """Devices whose set or reset threshold is a low outlier of the population."""
        stats = xbars.device.thresholds
        set_limit = stats.set_mean_v - self.outlier_sigmas * stats.set_std_v
        reset_limit = stats.reset_mean_v - self.outlier_sigmas * stats.reset_std_v
        return (xbars.v_set < set_limit) | (xbars.v_reset < reset_limit)


def refresh_devices(
    xbars: Crossbar, policy: ThresholdRefresh, which: NDArray[np.bool_], round_index: int = 0
) -> None:
    """Refresh the devices ``which`` (shape (batch, rows, cols)) once, in place: a hard reset
    and re-forming (conductance to the device's as-formed mean, S) with new thresholds (V)
    drawn by ``policy.mode``; the draws of crossbar ``b`` come from its own stream keyed by
    ``round_index``.
    """
    state = xbars.device_state
    shape = xbars.conductance.shape[1:]
    for b in np.flatnonzero(which.any(axis=(1, 2))):
        key = (int(state.index[b]), REFRESH_STREAM, round_index)
        rng = np.random.default_rng(np.random.SeedSequence(state.seed, spawn_key=key))
        if policy.mode == "relative":
            z = rng.standard_normal((2, *shape))
            rho = policy.correlation
            z_r = rho * z[0] + math.sqrt(max(0.0, 1.0 - rho * rho)) * z[1]
            e_s = np.clip(policy.width * z[0], -0.9, 1.5)
            e_r = np.clip(policy.width * z_r, -0.9, 1.5)
            new_set = xbars.v_set[b] * (1.0 + e_s)
            new_reset = xbars.v_reset[b] * (1.0 + e_r)
        else:
            new_set, new_reset = sample_thresholds(
                xbars.device.thresholds, shape, rng, xbars.device.threshold_distribution
            )
        mask = which[b]
        xbars.v_set[b][mask] = new_set[mask]
        xbars.v_reset[b][mask] = new_reset[mask]
        xbars.conductance[b][mask] = xbars.device.initial_mean_s


def refresh_outliers(xbars: Crossbar, policy: ThresholdRefresh) -> NDArray[np.int64]:
    """Apply the refresh policy to ``xbars`` in place.

    Returns
    -------
    ndarray of int64, shape (batch, rows, cols)
        Refreshes per device (each one a hard reset plus a forming event).
    """
    count = np.zeros(xbars.conductance.shape, dtype=np.int64)
    for round_index in range(policy.max_refresh):
        todo = policy.outliers(xbars)
        if not todo.any():
            break
        refresh_devices(xbars, policy, todo, round_index)
        count += todo
    return count

"""Per-device state drawn once per crossbar: fault codes, drift and noise scales (layer 2).

Every parameter a device keeps for life is drawn once, from the crossbar's own stream, so a
device seen at (T, t) and later at (T', t') follows one trajectory. The stream of
crossbar ``k`` of master seed ``s`` is ``SeedSequence(s, spawn_key=(k, STATE_STREAM))``:
a child of the crossbar's own ``SeedSequence(s).spawn(...)[k]`` that is separate from the
stream its thresholds and initial conductances come from, so those stay bit-identical
whatever the condition models are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from xbarsim.devices.config import DeviceConfig
from xbarsim.devices.stuck import FaultCode

#: Spawn-key suffix of the per-device state stream (distinct from any ``spawn()`` index).
STATE_STREAM = 0x0C0D
#: Spawn-key suffix of the read-noise draws of a crossbar.
NOISE_STREAM = 0x0E0F


@dataclass(frozen=True)
class DeviceState:
    """Per-device parameters of a batch of crossbars, each ``(batch, rows, cols)``.

    Attributes
    ----------
    fault : ndarray of int8
        :class:`~xbarsim.devices.stuck.FaultCode` per device.
    stuck_s : ndarray of float64
        Conductance a stuck device is held at (S); NaN where not stuck.
    drift_z : ndarray of float64
        Standard-normal retention variable (see :mod:`xbarsim.devices.retention`).
    noise_scale : ndarray of float64
        Read-noise scale (mean 1, see :mod:`xbarsim.devices.read_noise`).
    seed : int
        Master seed the crossbars were drawn from.
    index : ndarray of int64, shape (batch,)
        Index of each crossbar in its seed's family (keys its read-noise stream).
    """

    fault: NDArray[np.int8]
    stuck_s: NDArray[np.float64]
    drift_z: NDArray[np.float64]
    noise_scale: NDArray[np.float64]
    seed: int
    index: NDArray[np.int64]

    @classmethod
    def draw(
        cls, device: DeviceConfig, shape: tuple[int, int], seed: int, indices: Sequence[int]
    ) -> DeviceState:
        """Draw the state of crossbars ``indices`` of master ``seed`` (one stream each)."""
        faults, stuck, z, scale = [], [], [], []
        models = device.conditions
        for k in indices:
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, STATE_STREAM)))
            code, value = models.stuck.draw(shape, rng)
            faults.append(code)
            stuck.append(value)
            z.append(rng.standard_normal(shape))
            scale.append(models.read_noise.draw_scale(shape, rng))
        return cls(
            fault=np.stack(faults),
            stuck_s=np.stack(stuck),
            drift_z=np.stack(z),
            noise_scale=np.stack(scale),
            seed=int(seed),
            index=np.asarray(list(indices), dtype=np.int64),
        )

    @classmethod
    def plain(cls, unswitchable: NDArray[np.bool_]) -> DeviceState:
        """State of crossbars built from arrays: no stuck devices, no drift spread, scale 1."""
        shape = unswitchable.shape
        fault = np.where(unswitchable, FaultCode.UNSWITCHABLE, FaultCode.OK).astype(np.int8)
        return cls(
            fault=fault,
            stuck_s=np.full(shape, np.nan),
            drift_z=np.zeros(shape),
            noise_scale=np.ones(shape),
            seed=0,
            index=np.arange(shape[0], dtype=np.int64),
        )

    def copy(self) -> DeviceState:
        """Deep copy."""
        return DeviceState(
            fault=self.fault.copy(),
            stuck_s=self.stuck_s.copy(),
            drift_z=self.drift_z.copy(),
            noise_scale=self.noise_scale.copy(),
            seed=self.seed,
            index=self.index.copy(),
        )

    def subset(self, indices: NDArray[np.int64] | slice) -> DeviceState:
        """State of a subset of the batch."""
        return DeviceState(
            fault=self.fault[indices],
            stuck_s=self.stuck_s[indices],
            drift_z=self.drift_z[indices],
            noise_scale=self.noise_scale[indices],
            seed=self.seed,
            index=self.index[indices],
        )

    @property
    def stuck(self) -> NDArray[np.bool_]:
        """Devices stuck at high, low or a random conductance."""
        return self.fault >= FaultCode.STUCK_HIGH

    def noise_rng(self, batch_index: int, read_key: Sequence[int]) -> np.random.Generator:
        """Generator of the read-noise draws of crossbar ``batch_index`` for one read."""
        key = (int(self.index[batch_index]), NOISE_STREAM, *(int(k) for k in read_key))
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))

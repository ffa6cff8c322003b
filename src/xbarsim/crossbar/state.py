"""Per-device state drawn once per crossbar: fault codes, drift and noise scales (layer 2).

Every parameter a device keeps for life is drawn once, from the crossbar's own stream, so a
device seen at (T, t) and later at (T', t') follows one trajectory. Crossbar ``k`` of master
seed ``s`` draws quantity ``q`` from ``SeedSequence(s, spawn_key=(k, STATE_STREAM, q))``:
descendants of the crossbar's own ``SeedSequence(s).spawn(...)[k]`` that are separate from
the stream its thresholds and initial conductances come from (so those stay bit-identical)
and from each other (so a quantity does not depend on whether another was drawn). Stuck
devices are drawn when the crossbars are sampled (only when a stuck rate is set); the drift
variables and noise scales on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from xbarsim.devices.conditions import OperatingModels
from xbarsim.devices.stuck import FaultCode

#: Spawn-key element of the per-device state streams (distinct from any ``spawn()`` index).
STATE_STREAM = 0x0C0D
#: Spawn-key element of the read-noise draws of a crossbar.
NOISE_STREAM = 0x0E0F
#: Spawn-key element of a crossbar's cycle-to-cycle key (:mod:`xbarsim.devices.pulse_noise`).
PULSE_STREAM = 0x0C2C
_STUCK, _DRIFT, _SCALE = 0, 1, 2


@dataclass
class DeviceState:
    """Per-device parameters of a batch of crossbars, each ``(batch, rows, cols)``.

    Attributes
    ----------
    fault : ndarray of int8
        :class:`~xbarsim.devices.stuck.FaultCode` per device.
    models : OperatingModels
        The models the state was drawn for.
    seed : int
        Master seed the crossbars were drawn from.
    index : ndarray of int64, shape (batch,)
        Index of each crossbar in its seed's family (keys its streams).
    pulse_count : ndarray of int64
        Write pulses each device has received as the selected device while the population
        has cycle-to-cycle variation (the position of its counter-based stream; allocated
        on first use).
    """

    fault: NDArray[np.int8]
    models: OperatingModels
    seed: int
    index: NDArray[np.int64]
    _stuck_s: NDArray[np.float64] | None = field(default=None, repr=False)
    _drift_z: NDArray[np.float64] | None = field(default=None, repr=False)
    _noise_scale: NDArray[np.float64] | None = field(default=None, repr=False)
    _pulse_count: NDArray[np.int64] | None = field(default=None, repr=False)
    _pulse_keys: NDArray[np.uint64] | None = field(default=None, repr=False)

    @classmethod
    def draw(
        cls,
        models: OperatingModels,
        shape: tuple[int, int],
        seed: int,
        indices: Sequence[int],
    ) -> DeviceState:
        """State of crossbars ``indices`` of master ``seed``; stuck devices drawn now."""
        index = np.asarray(list(indices), dtype=np.int64)
        fault = np.zeros((index.size, *shape), dtype=np.int8)
        state = cls(fault=fault, models=models, seed=int(seed), index=index)
        if models.stuck.total_ppm > 0.0:
            stuck = np.full(fault.shape, np.nan)
            for b in range(index.size):
                fault[b], stuck[b] = models.stuck.draw(shape, state._rng(b, _STUCK))
            state._stuck_s = stuck
        return state

    @classmethod
    def plain(cls, unswitchable: NDArray[np.bool_]) -> DeviceState:
        """State of crossbars built from arrays: no stuck devices, no drift spread, scale 1."""
        shape = unswitchable.shape
        fault = np.where(unswitchable, FaultCode.UNSWITCHABLE, FaultCode.OK).astype(np.int8)
        return cls(
            fault=fault,
            models=OperatingModels(),
            seed=0,
            index=np.arange(shape[0], dtype=np.int64),
            _drift_z=np.zeros(shape),
            _noise_scale=np.ones(shape),
        )

    def _rng(self, batch_index: int, quantity: int) -> np.random.Generator:
        key = (int(self.index[batch_index]), STATE_STREAM, quantity)
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))

    @property
    def stuck_s(self) -> NDArray[np.float64]:
        """Conductance a stuck device is held at (S); NaN where not stuck."""
        if self._stuck_s is None:
            return np.full(self.fault.shape, np.nan)
        return self._stuck_s

    @property
    def drift_z(self) -> NDArray[np.float64]:
        """Standard-normal retention variable per device (drawn on first use)."""
        if self._drift_z is None:
            z = np.empty(self.fault.shape)
            for b in range(self.index.size):
                z[b] = self._rng(b, _DRIFT).standard_normal(self.fault.shape[1:])
            self._drift_z = z
        return self._drift_z

    @property
    def noise_scale(self) -> NDArray[np.float64]:
        """Read-noise scale per device, mean 1 (drawn on first use; 1 without a spread)."""
        if self._noise_scale is None:
            noise = self.models.read_noise
            if noise.scale_spread == 0.0:
                self._noise_scale = np.ones(self.fault.shape)
            else:
                scale = np.empty(self.fault.shape)
                for b in range(self.index.size):
                    scale[b] = noise.draw_scale(self.fault.shape[1:], self._rng(b, _SCALE))
                self._noise_scale = scale
        return self._noise_scale

    @property
    def pulse_count(self) -> NDArray[np.int64]:
        """Selected-device pulses per device under cycle-to-cycle variation (see the class)."""
        if self._pulse_count is None:
            self._pulse_count = np.zeros(self.fault.shape, dtype=np.int64)
        return self._pulse_count

    @property
    def pulse_keys(self) -> NDArray[np.uint64]:
        """64-bit key of each crossbar's cycle-to-cycle stream, shape (batch,): from
        ``SeedSequence(seed, spawn_key=(index, PULSE_STREAM))``, so it follows the crossbar
        into any batch."""
        if self._pulse_keys is None:
            self._pulse_keys = np.array(
                [
                    np.random.SeedSequence(self.seed, spawn_key=(int(k), PULSE_STREAM))
                    .generate_state(1, np.uint64)[0]
                    for k in self.index
                ],
                dtype=np.uint64,
            )
        return self._pulse_keys

    @property
    def stuck(self) -> NDArray[np.bool_]:
        """Devices stuck at high, low or a random conductance."""
        return self.fault >= FaultCode.STUCK_HIGH

    def subset(self, which: NDArray[np.int64] | None = None) -> DeviceState:
        """Deep copy of crossbars ``which`` (all by default), lazily drawn quantities still
        lazy; each crossbar keeps its family index, hence its own streams."""
        sel = slice(None) if which is None else np.asarray(which, dtype=np.int64)

        def pick(values: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
            return None if values is None else values[sel].copy()

        return DeviceState(
            fault=self.fault[sel].copy(),
            models=self.models,
            seed=self.seed,
            index=self.index[sel].copy(),
            _stuck_s=pick(self._stuck_s),
            _drift_z=pick(self._drift_z),
            _noise_scale=pick(self._noise_scale),
            _pulse_count=None if self._pulse_count is None else self._pulse_count[sel].copy(),
        )

    def copy(self) -> DeviceState:
        """Deep copy (lazily drawn quantities stay lazy)."""
        return self.subset()

    def noise_rng(self, batch_index: int, read_key: Sequence[int]) -> np.random.Generator:
        """Generator of the read-noise draws of crossbar ``batch_index`` for one read."""
        key = (int(self.index[batch_index]), NOISE_STREAM, *(int(k) for k in read_key))
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))

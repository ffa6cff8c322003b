"""A batch of passive crossbars as arrays ``[batch, rows, cols]`` (layer 2).

Rows are driven (inputs, word lines), columns are sensed (outputs, bit lines). The state
is plain numpy: conductances (S), set/reset threshold magnitudes (V), the mask of
unswitchable devices and the per-device :class:`~xbarsim.crossbar.state.DeviceState`
(fault codes, drift and read-noise parameters). Programming engines (layer 3) update
``conductance`` in place, as writes change real hardware. :meth:`Crossbar.at` gives a
read-only view at operating conditions (temperature, age).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.crossbar.bias import BiasScheme
from xbarsim.crossbar.conditions import ConditionsView
from xbarsim.crossbar.irdrop import effective_matrix
from xbarsim.crossbar.lines import Lines
from xbarsim.crossbar.state import DeviceState
from xbarsim.devices.config import DeviceConfig
from xbarsim.devices.dynamics import PulseLaw
from xbarsim.devices.pulse_noise import log_sigma, make_multiplier, multipliers
from xbarsim.devices.sampling import sample_devices
from xbarsim.devices.stuck import FaultCode
from xbarsim.errors import XbarsimInputError
from xbarsim.validation import check_positive_int, check_seed

#: The scalar cycle-to-cycle factor in plain Python (the compiled engines' own, uncompiled).
_, _multiplier = make_multiplier(lambda function: function)

#: Crossbars per sampling task: batches this large or larger are drawn on several threads.
SAMPLE_CHUNK = 64


@dataclass
class Crossbar:
    """State of ``batch`` crossbars of ``rows x cols`` devices.

    Attributes
    ----------
    device : DeviceConfig
        The population the devices were drawn from.
    conductance : ndarray, shape (batch, rows, cols)
        Conductance at the read voltage (S).
    v_set, v_reset : ndarray, shape (batch, rows, cols)
        Set threshold and reset threshold magnitude (V); ``inf`` where unswitchable.
    unswitchable : ndarray of bool, shape (batch, rows, cols)
    state : DeviceState, optional
        Per-device fault codes, drift and noise parameters; built from ``unswitchable``
        (no stuck devices, no drift spread) when not given.
    """

    device: DeviceConfig
    conductance: NDArray[np.float64]
    v_set: NDArray[np.float64]
    v_reset: NDArray[np.float64]
    unswitchable: NDArray[np.bool_]
    state: DeviceState | None = field(default=None, repr=False)
    law: PulseLaw = field(init=False, repr=False)

    def __post_init__(self) -> None:
        shape = self.conductance.shape
        if self.conductance.ndim != 3:
            raise XbarsimInputError(
                f"conductance: must have shape (batch, rows, cols), got {shape}"
            )
        for name in ("v_set", "v_reset", "unswitchable"):
            if getattr(self, name).shape != shape:
                raise XbarsimInputError(
                    f"{name}: shape {getattr(self, name).shape} must equal conductance "
                    f"shape {shape}"
                )
        if self.state is None:
            self.state = DeviceState.plain(self.unswitchable)
        elif self.state.fault.shape != shape:
            raise XbarsimInputError(
                f"state: shape {self.state.fault.shape} must equal conductance shape {shape}"
            )
        self.law = self.device.pulse_law()

    @classmethod
    def sample(
        cls,
        device: DeviceConfig,
        shape: tuple[int, int],
        batch: int = 1,
        seed: int = 0,
        first_index: int = 0,
    ) -> Crossbar:
        """Draw ``batch`` crossbars.

        Crossbar ``k`` of the batch is drawn from child ``first_index + k`` of
        ``numpy.random.SeedSequence(seed)``, so a crossbar is the same whatever batch it
        was drawn in. Its per-device state (:class:`DeviceState`) comes from a separate
        stream of that child; stuck devices get their stuck conductance and infinite
        thresholds (unswitchable devices keep their code).

        Parameters
        ----------
        device : DeviceConfig
        shape : (rows, cols)
        batch : int
            Number of crossbars.
        seed : int
            Master seed (>= 0).
        first_index : int
            Index of the first crossbar in the seed's family.
        """
        if not isinstance(shape, tuple | list) or len(shape) != 2:
            raise XbarsimInputError(f"shape: must be (rows, cols), got {shape!r}")
        rows = check_positive_int("rows", shape[0])
        cols = check_positive_int("cols", shape[1])
        batch = check_positive_int("batch", batch)
        seed = check_seed(seed)
        first_index = check_positive_int("first_index", first_index, minimum=0)
        children = np.random.SeedSequence(seed).spawn(first_index + batch)[first_index:]
        # filled crossbar by crossbar: no second copy of the batch while it is drawn
        conductance = np.empty((batch, rows, cols))
        v_set = np.empty((batch, rows, cols))
        v_reset = np.empty((batch, rows, cols))
        unswitchable = np.empty((batch, rows, cols), dtype=bool)

        def draw(lo: int) -> None:
            for b in range(lo, min(batch, lo + SAMPLE_CHUNK)):
                s = sample_devices(device, (rows, cols), np.random.default_rng(children[b]))
                conductance[b], v_set[b], v_reset[b] = s.conductance, s.v_set, s.v_reset
                unswitchable[b] = s.unswitchable

        # every crossbar from its own stream: the same whatever thread draws it (numpy
        # releases the GIL while it fills arrays)
        starts = range(0, batch, SAMPLE_CHUNK)
        workers = min(len(starts), len(os.sched_getaffinity(0)))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(draw, starts))
        else:
            draw(0)
        indices = range(first_index, first_index + batch)
        state = DeviceState.draw(device.conditions, (rows, cols), seed, indices)
        state.fault[unswitchable] = FaultCode.UNSWITCHABLE
        stuck = state.stuck
        if stuck.any():
            conductance[stuck] = state.stuck_s[stuck]
            v_set[stuck] = np.inf
            v_reset[stuck] = np.inf
        return cls(
            device=device,
            conductance=conductance,
            v_set=v_set,
            v_reset=v_reset,
            unswitchable=unswitchable,
            state=state,
        )

    @property
    def batch(self) -> int:
        """Number of crossbars."""
        return self.conductance.shape[0]

    @property
    def rows(self) -> int:
        """Rows (inputs) per crossbar."""
        return self.conductance.shape[1]

    @property
    def cols(self) -> int:
        """Columns (outputs) per crossbar."""
        return self.conductance.shape[2]

    def subset(self, which: ArrayLike | None = None) -> Crossbar:
        """Deep copy of crossbars ``which`` (indices into the batch; all by default), each with
        its own per-device state and streams."""
        sel = slice(None) if which is None else np.asarray(which, dtype=np.int64)
        return Crossbar(
            device=self.device,
            conductance=self.conductance[sel].copy(),
            v_set=self.v_set[sel].copy(),
            v_reset=self.v_reset[sel].copy(),
            unswitchable=self.unswitchable[sel].copy(),
            state=self.device_state.subset(None if which is None else sel),
        )

    def copy(self) -> Crossbar:
        """Deep copy of the state."""
        return self.subset()

    @property
    def device_state(self) -> DeviceState:
        """Per-device state (fault codes, drift and noise parameters)."""
        assert self.state is not None  # set in __post_init__
        return self.state

    @property
    def fault(self) -> NDArray[np.int8]:
        """Fault code per device (:class:`~xbarsim.devices.stuck.FaultCode`)."""
        return self.device_state.fault

    def at(
        self,
        temp_c: float = 25.0,
        age_h: float = 0.0,
        bake_c: float | None = None,
        strict: bool = False,
        nonlinear: bool = True,
        noise: bool = True,
        seed: int = 0,
    ) -> ConditionsView:
        """Read-only view of the crossbars at operating conditions.

        Parameters
        ----------
        temp_c : float
            Die temperature during the read (degrees C).
        age_h : float
            Hours since programming (>= 0), spent at ``bake_c``.
        bake_c : float, optional
            Temperature of that time (degrees C); default the retention model's room
            temperature. A bake and room-temperature years share one Arrhenius clock.
        strict : bool
            Refuse (instead of warn about) conditions outside the models' fitted ranges.
        nonlinear : bool
            Apply the I-V nonlinearity in ``vmm`` and ``read``.
        noise : bool
            Add read noise in ``vmm`` and ``read``.
        seed : int
            Seed of the read-noise draws (>= 0).

        Returns
        -------
        ConditionsView
        """
        return ConditionsView(
            self, temp_c, age_h, bake_c, strict=strict, nonlinear=nonlinear, noise=noise, seed=seed
        )

    def read(self, voltage: float | None = None, lines: Lines | None = None) -> NDArray[np.float64]:
        """Current of every device when read alone at ``voltage`` (A).

        Defaults to the device's read voltage. Reads are assumed not to disturb. The read
        mode of thesis §4.1.1 drives the selected row, grounds every other row and senses
        the selected column at virtual ground with the others grounded; with ``lines``
        the sensed current of device ``(i, j)`` is then ``voltage · M[i, j]`` with ``M``
        the effective matrix: the rest of the row loads the selected device.
        """
        v = self.device.read_voltage_v if voltage is None else float(voltage)
        g = self.conductance if lines is None else effective_matrix(self.conductance, lines)
        return g * v

    def vmm(self, voltages: ArrayLike, lines: Lines | None = None) -> NDArray[np.float64]:
        """Column currents (A) for row voltages (V): Ohm's and Kirchhoff's laws.

        Without ``lines`` (or with ideal ones) the ideal ``I = Vᵀ G``; with line resistance
        the exact ``I = Vᵀ M`` of :func:`xbarsim.crossbar.irdrop.effective_matrix`, solved
        once per crossbar for all inputs.

        Parameters
        ----------
        voltages : array_like, shape (rows,), (n, rows) or (batch, n, rows)
        lines : Lines, optional
            Line, driver and sink resistances.

        Returns
        -------
        ndarray, shape (batch, cols), (batch, n, cols) or (batch, n, cols)
        """
        v = np.asarray(voltages, dtype=np.float64)
        if v.shape[-1] != self.rows or v.ndim > 3:
            raise XbarsimInputError(
                f"voltages: last axis must have length rows={self.rows}, got shape {v.shape}"
            )
        if v.ndim == 3 and v.shape[0] != self.batch:
            raise XbarsimInputError(
                f"voltages: a 3-d input must have batch={self.batch} first, got {v.shape}"
            )
        g = self.conductance if lines is None else effective_matrix(self.conductance, lines)
        if v.ndim == 1:
            return np.einsum("r,brc->bc", v, g)
        if v.ndim == 2:
            return np.einsum("nr,brc->bnc", v, g)
        return np.einsum("bnr,brc->bnc", v, g)

    def selected_multiplier(self, index: int, row: int, col: int) -> float:
        """Cycle-to-cycle factor of the next pulse on the selected device (row, col) of
        crossbar ``index`` (dimensionless), advancing its pulse count; 1 without
        cycle-to-cycle variation (:attr:`DeviceConfig.cycle_to_cycle`)."""
        c2c = self.device.cycle_to_cycle
        if c2c == 0.0:
            return 1.0
        state = self.device_state
        count = state.pulse_count[index]
        factor = _multiplier(
            state.pulse_keys[index], row * self.cols + col, int(count[row, col]), log_sigma(c2c)
        )
        count[row, col] += 1
        return float(factor)

    def upcoming_multipliers(self, index: int, row: int, col: int, n: int) -> NDArray[np.float64]:
        """Cycle-to-cycle factors of the next ``n`` pulses on the selected device (row, col)
        of crossbar ``index`` (numpy, vectorized), without advancing its pulse count
        (:meth:`count_pulses` does); ones without cycle-to-cycle variation."""
        c2c = self.device.cycle_to_cycle
        if c2c == 0.0:
            return np.ones(n)
        state = self.device_state
        first = int(state.pulse_count[index, row, col])
        return multipliers(
            state.pulse_keys[index], row * self.cols + col, first + np.arange(n), c2c
        )

    def count_pulses(self, index: int, row: int, col: int, n: int) -> None:
        """Advance the selected device's pulse count by ``n`` (under cycle-to-cycle
        variation; nothing otherwise)."""
        if self.device.cycle_to_cycle > 0.0:
            self.device_state.pulse_count[index, row, col] += n

    def apply_pulse(
        self, index: int, row: int, col: int, voltage: float, scheme: BiasScheme
    ) -> None:
        """Apply one write pulse of signed ``voltage`` (V) to device (row, col) of crossbar
        ``index``, and the scheme's fraction of it to every other device (in place).

        The selected device's dose carries its cycle-to-cycle factor
        (:meth:`selected_multiplier`).
        """
        law = self.law
        g = self.conductance[index]
        vs, vr = self.v_set[index], self.v_reset[index]
        sel_g = g[row, col]
        line = scheme.line_fraction * voltage
        other = scheme.other_fraction * voltage
        if other != 0.0:
            new = law.pulse(g, other, vs, vr)
            new[row, :] = law.pulse(g[row, :], line, vs[row, :], vr[row, :])
            new[:, col] = law.pulse(g[:, col], line, vs[:, col], vr[:, col])
            g[...] = new
        elif line != 0.0:
            g[row, :] = law.pulse(g[row, :], line, vs[row, :], vr[row, :])
            g[:, col] = law.pulse(g[:, col], line, vs[:, col], vr[:, col])
        factor = self.selected_multiplier(index, row, col)
        g[row, col] = law.pulse(sel_g, voltage, vs[row, col], vr[row, col], factor)

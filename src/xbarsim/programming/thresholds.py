"""Switching-threshold measurement protocol of the paper's Fig. 2 (layer 3).

Per device, in raster order, on the simulated array:

1. bring the device to ``start_conductance_s`` (14 uS) within ``start_tolerance`` (10 %)
   with write-verify (:meth:`ThresholdProtocol.start_algorithm`, the same ramps, flips
   and amplitude cap as :func:`xbarsim.programming.reference.tune_device`);
2. set sweep: 1 ms pulses of ``start_v``, ``start_v + step_v``, ... (0.05 V steps), the
   device read at 0.25 V after each; the set threshold is the smallest amplitude whose read
   conductance differs by more than ``change_criterion`` (20 %) from the sweep's initial
   state; the sweep stops once the threshold is found and the conductance exceeds
   ``stop_above_s`` (50 uS), or after the ``max_v`` pulse;
3. reset sweep: the same with negative pulses, until the threshold is found and the
   conductance is back below ``start_conductance_s``.

A polarity without a threshold up to ``max_v`` makes the device unswitchable in it.

Every pulse disturbs the other devices as the bias scheme says (V/2: +-V/2 on the
selected row and column). Half-selected devices are never read while one device's ramp
runs and every pulse of a ramp has the same polarity, so the ramp's disturbance is applied
to them in one step when the ramp ends: soft-bounded updates of one polarity compose
exactly (:mod:`xbarsim.devices.dynamics`), so this equals
:meth:`xbarsim.crossbar.Crossbar.apply_pulse` pulse by pulse to rounding (tests check it),
at a cost per ramp instead of per pulse. The selected device's trajectory through a ramp is
likewise a cumulative sum of doses (each times its cycle-to-cycle factor, when the population
has cycle-to-cycle variation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.devices.dynamics import PulseLaw
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.progress import progress_bar


class ThresholdProtocol(BaseModel):
    """Parameters of the Fig. 2 threshold measurement.

    Attributes
    ----------
    start_conductance_s : float
        State every sweep pair starts from (S); the paper's 14 uS.
    start_tolerance : float
        Relative precision of that starting state (fraction; paper: 10 %).
    start_v : float
        First sweep amplitude (V).
    step_v : float
        Amplitude increment of the sweeps (V; paper: 50 mV).
    max_v : float
        Largest sweep amplitude (V), also the amplitude cap of the write-verify that sets
        the starting state. 3 V, above the 2.5 V tuning cap, so that the log-normal tails
        of the threshold distributions (about 0.1 % of reset thresholds above 2.5 V) are
        measured rather than counted unswitchable. At least 0.5 V (the write-verify ramps
        start there).
    stop_above_s : float
        A set sweep stops once the conductance exceeds this (S; paper: 50 uS).
    change_criterion : float
        Relative change that defines the threshold (paper: 20 %).
    scheme : BiasScheme
        Write bias scheme: V/2 as in the paper, or ``"none"`` for an undisturbed array.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    start_conductance_s: float = Field(14.0e-6, gt=0.0, lt=1.0)
    start_tolerance: float = Field(0.10, gt=0.0, lt=1.0)
    start_v: float = Field(0.05, gt=0.0, le=20.0)
    step_v: float = Field(0.05, gt=0.0, le=5.0)
    max_v: float = Field(3.0, ge=0.5, le=20.0)
    stop_above_s: float = Field(50.0e-6, gt=0.0, lt=1.0)
    change_criterion: float = Field(0.20, gt=0.0, lt=1.0)
    scheme: BiasScheme = BiasScheme.V2

    @model_validator(mode="after")
    def _check_ranges(self) -> ThresholdProtocol:
        if self.max_v < self.start_v:
            raise ValueError(f"max_v ({self.max_v} V) must be >= start_v ({self.start_v} V)")
        if self.stop_above_s <= self.start_conductance_s:
            raise ValueError(
                f"stop_above_s ({self.stop_above_s:g} S) must exceed start_conductance_s "
                f"({self.start_conductance_s:g} S)"
            )
        return self

    def amplitudes(self) -> NDArray[np.float64]:
        """Sweep amplitudes ``start_v + k * step_v`` up to ``max_v`` (V, positive)."""
        n = math.floor((self.max_v - self.start_v) / self.step_v + 1e-9) + 1
        return self.start_v + np.arange(n) * self.step_v

    def start_algorithm(self) -> WriteVerify:
        """Write-verify that sets the starting state: the paper's ramps (4 mV / 8 mV steps
        from 0.5 V), ``start_tolerance``, one pass, capped at ``max_v``, ``scheme``."""
        return WriteVerify.paper(
            tolerance=self.start_tolerance,
            passes=1,
            max_amplitude_v=self.max_v,
            scheme=self.scheme,
        )


@dataclass
class ThresholdMeasurement:
    """Thresholds measured on a batch of crossbars.

    Attributes
    ----------
    set_v : ndarray, shape (batch, rows, cols)
        Measured set threshold (V, positive); NaN where no set pulse up to ``max_v``
        changed the device by the criterion.
    reset_v : ndarray, shape (batch, rows, cols)
        Measured reset threshold (V, negative: the pulse amplitude); NaN likewise.
    start_conductance : ndarray, shape (batch, rows, cols)
        Conductance at the start of the set sweep (S).
    protocol : ThresholdProtocol
    """

    set_v: NDArray[np.float64]
    reset_v: NDArray[np.float64]
    start_conductance: NDArray[np.float64]
    protocol: ThresholdProtocol

    @property
    def set_switchable(self) -> NDArray[np.bool_]:
        """Devices with a measured set threshold."""
        return np.isfinite(self.set_v)

    @property
    def reset_switchable(self) -> NDArray[np.bool_]:
        """Devices with a measured reset threshold."""
        return np.isfinite(self.reset_v)

    @property
    def unswitchable(self) -> NDArray[np.bool_]:
        """Devices without a threshold in at least one polarity."""
        return ~(self.set_switchable & self.reset_switchable)


def _doses(law: PulseLaw, voltages: NDArray, v_set: NDArray, v_reset: NDArray) -> NDArray:
    """Doses of pulses ``voltages`` (V, one sign, shape (n,)) on devices with the given
    threshold magnitudes (V, shape s); returns shape (n, *s)."""
    v = voltages.reshape(-1, *([1] * np.ndim(v_set)))
    if voltages[0] > 0.0:
        return law.dose(v, v_set, law.d0_set)
    return law.dose(v, v_reset, law.d0_reset)


def _after(law: PulseLaw, g: NDArray | float, dose: NDArray, positive: bool) -> NDArray:
    """Conductance (S) after a set (``positive``) or reset dose."""
    return law.apply_set(g, dose) if positive else law.apply_reset(g, dose)


def _disturb(
    xbars: Crossbar, index: int, row: int, col: int, voltages: NDArray, scheme: BiasScheme
) -> None:
    """Apply the bias scheme's share of the pulses ``voltages`` (V, one sign) on device
    (row, col) to every other device, as one composed dose per device (in place)."""
    law = xbars.law
    g = xbars.conductance[index]
    vs, vr = xbars.v_set[index], xbars.v_reset[index]
    sel = g[row, col]
    line = scheme.line_fraction * voltages
    other = scheme.other_fraction * voltages
    new = g.copy()
    if other[0] != 0.0:
        new = _after(law, g, _doses(law, other, vs, vr).sum(axis=0), other[0] > 0.0)
    if line[0] != 0.0:
        up = line[0] > 0.0
        new[row, :] = _after(law, g[row, :], _doses(law, line, vs[row], vr[row]).sum(0), up)
        new[:, col] = _after(law, g[:, col], _doses(law, line, vs[:, col], vr[:, col]).sum(0), up)
    g[...] = new
    g[row, col] = sel


def ramp(
    xbars: Crossbar,
    index: int,
    row: int,
    col: int,
    voltages: NDArray[np.float64],
    scheme: BiasScheme,
    stop: Callable[[NDArray[np.float64]], NDArray[np.bool_]],
) -> NDArray[np.float64]:
    """Apply the pulses ``voltages`` (V, one sign) to device (row, col) of crossbar
    ``index``, reading it after each, until ``stop`` holds for the read conductance.

    Parameters
    ----------
    xbars : Crossbar
        Updated in place: the selected device and, per ``scheme``, the disturbed ones.
    index, row, col : int
        The selected device.
    voltages : ndarray, shape (n,)
        Signed pulse amplitudes (V), all of one sign.
    scheme : BiasScheme
    stop : callable
        Maps the conductances read after each pulse (S, shape (n,)) to a boolean array;
        the ramp ends after the first pulse where it is true.

    Returns
    -------
    ndarray
        Read conductances (S) after each pulse actually applied.
    """
    law = xbars.law
    g0 = xbars.conductance[index, row, col]
    dose = _doses(law, voltages, xbars.v_set[index, row, col], xbars.v_reset[index, row, col])
    dose = xbars.upcoming_multipliers(index, row, col, voltages.size) * dose
    reads = _after(law, g0, np.cumsum(dose), voltages[0] > 0.0)
    hits = np.flatnonzero(stop(reads))
    n = int(hits[0]) + 1 if hits.size else voltages.size
    xbars.count_pulses(index, row, col, n)
    _disturb(xbars, index, row, col, voltages[:n], scheme)
    xbars.conductance[index, row, col] = reads[n - 1]
    return reads[:n]


def write_verify_device(
    xbars: Crossbar, index: int, row: int, col: int, target: float, algorithm: WriteVerify
) -> int:
    """Write-verify one device ramp by ramp, as
    :func:`xbarsim.programming.reference.tune_device` does pulse by pulse (first pass).

    Returns
    -------
    int
        Pulses applied to the device.
    """
    tol = algorithm.tolerance * target
    g = xbars.conductance[index, row, col]
    if abs(g - target) <= tol:
        return 0
    direction = 1 if g < target else -1
    pulses = 0
    for _ in range(algorithm.max_ramps):
        step = algorithm.step_set_v if direction > 0 else algorithm.step_reset_v
        n = algorithm.ramp_length(direction)
        voltages = direction * (algorithm.ramp_start_v + np.arange(n) * step)
        d = direction
        reads = ramp(
            xbars,
            index,
            row,
            col,
            voltages,
            algorithm.scheme,
            lambda r, d=d: (np.abs(r - target) <= tol) | (d * (r - target) > 0.0),
        )
        pulses += reads.size
        err = reads[-1] - target
        if abs(err) <= tol or direction * err <= 0.0:
            return pulses
        direction = -direction
    return pulses


def _sweep(
    xbars: Crossbar,
    index: int,
    row: int,
    col: int,
    voltages: NDArray[np.float64],
    protocol: ThresholdProtocol,
    done: Callable[[NDArray[np.float64]], NDArray[np.bool_]],
) -> float:
    """One threshold sweep; returns the threshold amplitude (signed V) or NaN."""
    g0 = xbars.conductance[index, row, col]
    limit = protocol.change_criterion * g0

    def changed(reads: NDArray[np.float64]) -> NDArray[np.bool_]:
        return np.abs(reads - g0) > limit

    reads = ramp(
        xbars,
        index,
        row,
        col,
        voltages,
        protocol.scheme,
        lambda r: np.logical_or.accumulate(changed(r)) & done(r),
    )
    first = np.flatnonzero(changed(reads))
    return float(voltages[first[0]]) if first.size else math.nan


def measure_device(
    xbars: Crossbar, index: int, row: int, col: int, protocol: ThresholdProtocol
) -> tuple[float, float, float]:
    """Run the protocol on one device.

    Returns
    -------
    set_v, reset_v : float
        Measured thresholds (V; reset negative); NaN where none up to ``max_v``.
    start_conductance : float
        Conductance at the start of the set sweep (S).
    """
    write_verify_device(
        xbars, index, row, col, protocol.start_conductance_s, protocol.start_algorithm()
    )
    start = float(xbars.conductance[index, row, col])
    amplitudes = protocol.amplitudes()
    set_v = _sweep(
        xbars, index, row, col, amplitudes, protocol, lambda r: r > protocol.stop_above_s
    )
    reset_v = _sweep(
        xbars, index, row, col, -amplitudes, protocol, lambda r: r < protocol.start_conductance_s
    )
    return set_v, reset_v, start


def measure_thresholds(
    xbars: Crossbar, protocol: ThresholdProtocol | None = None, progress: bool = False
) -> ThresholdMeasurement:
    """Measure set and reset thresholds of every device, in raster order (in place).

    Parameters
    ----------
    xbars : Crossbar
        Batch of crossbars; conductances change as on hardware.
    protocol : ThresholdProtocol, optional
        Defaults to the paper's protocol.
    progress : bool
        Show a progress bar (one step per row).

    Returns
    -------
    ThresholdMeasurement
    """
    protocol = ThresholdProtocol() if protocol is None else protocol
    shape = xbars.conductance.shape
    set_v = np.full(shape, np.nan)
    reset_v = np.full(shape, np.nan)
    start = np.zeros(shape)
    batch, rows, cols = shape
    with progress_bar(batch * rows, "threshold sweeps", progress) as advance:
        for b in range(batch):
            for r in range(rows):
                for c in range(cols):
                    set_v[b, r, c], reset_v[b, r, c], start[b, r, c] = measure_device(
                        xbars, b, r, c, protocol
                    )
                advance(1)
    return ThresholdMeasurement(
        set_v=set_v, reset_v=reset_v, start_conductance=start, protocol=protocol
    )

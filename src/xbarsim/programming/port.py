"""Write-verify through a crossbar *port*: select, set mode, pulse, read (layer 3).

A :class:`CrossbarPort` is what a programming algorithm needs from hardware: select one
device (a word line and a bit line), choose an operating mode, apply a pulse of a given
amplitude, and read the selected device's conductance. The simulator implements it
directly (:class:`DirectPort`, the bias scheme applied by
:meth:`Crossbar.apply_pulse`); the chip's X-block (layer 5, :mod:`xbarsim.chip.xblock`)
implements it through its shift registers, decoder, switches and buses. The same
write-verify, :func:`program_port`, runs through either, and is the reference engine's
algorithm step for step, so both give the reference engine's conductances and pulse
counts.

Every pulse is logged (:class:`PulseLog`): pass, selected row and column, signed device
voltage (V) and the power dissipated in the whole array while it lasts (W), half-selected
devices included. The chip's cost model turns that log into programming energy and time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.errors import XbarsimInputError
from xbarsim.programming.algorithm import WriteVerify, did_not_move
from xbarsim.programming.pulse_power import pulse_power
from xbarsim.programming.result import HISTORY_KEYS, ProgramResult, error_statistics, relative_error
from xbarsim.validation import check_positive_int


class Mode(StrEnum):
    """Operating modes of a crossbar port (thesis Table III)."""

    FORMING = "forming"
    SET = "set"
    RESET = "reset"
    READ = "read"
    INFERENCE = "inference"
    MONITOR_INPUT = "monitor-input"
    MONITOR_SENSE = "monitor-sense"


def check_mode(mode: object) -> Mode:
    """Validate a mode name, raising a one-line :class:`XbarsimInputError`."""
    try:
        return Mode(mode)
    except ValueError:
        allowed = ", ".join(m.value for m in Mode)
        raise XbarsimInputError(f"mode: unknown mode {mode!r}; allowed: {allowed}") from None


@runtime_checkable
class CrossbarPort(Protocol):
    """Device-level access to one crossbar, as a programming algorithm sees it.

    ``apply_pulse`` takes a positive amplitude (V); the mode fixes the polarity (set and
    forming: word line positive; reset: bit line positive). ``read`` returns the selected
    device's conductance (S) measured in read mode. ``pulse_power`` is the power (W)
    dissipated in the array by the last pulse (every device, half-selected included).
    """

    rows: int
    cols: int

    def select(self, row: int, col: int) -> None:
        """Select the device at word line ``row`` and bit line ``col``."""
        ...

    def set_mode(self, mode: Mode) -> None:
        """Switch to ``mode``."""
        ...

    def apply_pulse(self, amplitude_v: float) -> float:
        """Apply one pulse of ``amplitude_v`` (V, > 0); returns the array power (W)."""
        ...

    def read(self) -> float:
        """Conductance of the selected device (S)."""
        ...


def check_address(name: str, value: int, size: int) -> int:
    """Validate a line address in ``[0, size)``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise XbarsimInputError(f"{name}: must be an integer in [0, {size - 1}], got {value!r}")
    if not 0 <= value < size:
        raise XbarsimInputError(f"{name}: address {value} out of range [0, {size - 1}]")
    return int(value)


def scheme_power(
    g: NDArray[np.float64], row: int, col: int, voltage: float, scheme: BiasScheme
) -> float:
    """Power (W) dissipated in a crossbar of conductances ``g`` (S) by a write pulse.

    The selected device sees ``voltage`` (V), devices sharing its row or column the
    scheme's line fraction, all others the scheme's other fraction: P = sum G * V_dev^2.
    """
    line = (scheme.line_fraction * voltage) ** 2
    other = (scheme.other_fraction * voltage) ** 2
    row_sum = g[row, :].sum() - g[row, col]
    col_sum = g[:, col].sum() - g[row, col]
    rest = g.sum() - row_sum - col_sum - g[row, col]
    return float(g[row, col] * voltage**2 + line * (row_sum + col_sum) + other * rest)


@dataclass
class DirectPort:
    """The simulator as a port: crossbar ``index`` of ``xbars`` with a write bias scheme.

    Pulses go through :meth:`Crossbar.apply_pulse`; reads return the conductance (reads do
    not disturb). Only the write modes (forming, set, reset) and read are supported.
    """

    xbars: Crossbar
    index: int = 0
    scheme: BiasScheme = BiasScheme.V2
    row: int = field(default=0, init=False)
    col: int = field(default=0, init=False)
    mode: Mode = field(default=Mode.READ, init=False)

    def __post_init__(self) -> None:
        check_address("index", self.index, self.xbars.batch)

    @property
    def rows(self) -> int:
        """Word lines."""
        return self.xbars.rows

    @property
    def cols(self) -> int:
        """Bit lines."""
        return self.xbars.cols

    def select(self, row: int, col: int) -> None:
        """Select device (``row``, ``col``)."""
        self.row = check_address("row", row, self.rows)
        self.col = check_address("col", col, self.cols)

    def set_mode(self, mode: Mode) -> None:
        """Switch mode; inference and monitoring are not device-level operations here."""
        mode = check_mode(mode)
        if mode in (Mode.INFERENCE, Mode.MONITOR_INPUT, Mode.MONITOR_SENSE):
            raise XbarsimInputError(f"mode: {mode.value!r} is not available on a direct port")
        self.mode = mode

    def apply_pulse(self, amplitude_v: float) -> float:
        """One pulse: + polarity in forming/set, - in reset. Returns the array power (W)."""
        if self.mode not in (Mode.FORMING, Mode.SET, Mode.RESET):
            raise XbarsimInputError(f"mode: cannot pulse in {self.mode.value!r} mode")
        if not amplitude_v > 0.0:
            raise XbarsimInputError(f"amplitude_v: must be > 0 V, got {amplitude_v}")
        voltage = -amplitude_v if self.mode is Mode.RESET else amplitude_v
        power = scheme_power(
            self.xbars.conductance[self.index], self.row, self.col, voltage, self.scheme
        )
        self.xbars.apply_pulse(self.index, self.row, self.col, voltage, self.scheme)
        return power

    def read(self) -> float:
        """Conductance of the selected device (S)."""
        if self.mode is not Mode.READ:
            raise XbarsimInputError(f"mode: cannot read in {self.mode.value!r} mode")
        return float(self.xbars.conductance[self.index, self.row, self.col])


@dataclass
class PulseLog:
    """Every write pulse of a port-driven run, in order.

    Attributes
    ----------
    pass_index, row, col : ndarray of int64, shape (pulses,)
    voltage_v : ndarray, shape (pulses,)
        Signed voltage across the selected device (V): + set, - reset.
    array_power_w : ndarray, shape (pulses,)
        Power dissipated in the whole array during the pulse (W), half-selected included.
    reads : int
        Verify reads performed.
    """

    pass_index: NDArray[np.int64]
    row: NDArray[np.int64]
    col: NDArray[np.int64]
    voltage_v: NDArray[np.float64]
    array_power_w: NDArray[np.float64]
    reads: int

    @property
    def pulses(self) -> int:
        """Number of write pulses."""
        return int(self.voltage_v.size)


class _Recorder:
    """Collects pulses while a port is driven."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, int, int, float, float]] = []
        self.reads = 0

    def log(self) -> PulseLog:
        data = np.array(self.entries, dtype=np.float64).reshape(-1, 5)
        return PulseLog(
            pass_index=data[:, 0].astype(np.int64),
            row=data[:, 1].astype(np.int64),
            col=data[:, 2].astype(np.int64),
            voltage_v=data[:, 3].copy(),
            array_power_w=data[:, 4].copy(),
            reads=self.reads,
        )


def _read(port: CrossbarPort, recorder: _Recorder) -> float:
    port.set_mode(Mode.READ)
    recorder.reads += 1
    return port.read()


def _tune_device(
    port: CrossbarPort,
    row: int,
    col: int,
    target: float,
    algorithm: WriteVerify,
    pass_index: int,
    recorder: _Recorder,
) -> tuple[int, bool, bool]:
    """Write-verify one device through ``port`` (the reference engine's ramps); returns
    the pulses, whether a ramp reached the cap, and whether that ramp left the device
    unmoved (the stuck-device rule)."""
    port.select(row, col)
    tol = algorithm.tolerance * target
    g = _read(port, recorder)
    if abs(g - target) <= tol:
        return 0, False, False
    direction = 1 if g < target else -1
    pulses = 0
    err = g - target
    for _ in range(algorithm.max_ramps):
        err_start = err
        passed = False
        for k in range(algorithm.ramp_length(direction, pass_index)):
            amplitude = algorithm.amplitude(direction, k)
            port.set_mode(Mode.SET if direction > 0 else Mode.RESET)
            power = port.apply_pulse(amplitude)
            recorder.entries.append((pass_index, row, col, direction * amplitude, power))
            pulses += 1
            err = _read(port, recorder) - target
            if abs(err) <= tol:
                return pulses, False, False
            if direction * err > 0.0:
                passed = True
                break
        if not passed:
            return pulses, True, did_not_move(err_start, err, target)
        direction = -direction
    return pulses, False, False


def read_all(port: CrossbarPort) -> NDArray[np.float64]:
    """Read every device through ``port`` (S), shape (rows, cols)."""
    out = np.empty((port.rows, port.cols))
    port.set_mode(Mode.READ)
    for r in range(port.rows):
        for c in range(port.cols):
            port.select(r, c)
            out[r, c] = port.read()
    return out


def program_port(
    port: CrossbarPort,
    targets: ArrayLike,
    algorithm: WriteVerify,
    skip: ArrayLike | None = None,
) -> tuple[ProgramResult, PulseLog]:
    """Program one crossbar through ``port`` with write-verify (thesis 3.2).

    Step for step the algorithm of :func:`xbarsim.programming.reference.program_reference`:
    raster order, ramps, direction flips, ``max_ramps``, passes, cap and abandoning. The
    write bias scheme is the port's business, not the algorithm's.

    Parameters
    ----------
    port : CrossbarPort
    targets : array_like, shape (rows, cols)
        Target conductances (S), > 0.
    algorithm : WriteVerify
    skip : array_like of bool, shape (rows, cols), optional
        Devices known to be unswitchable (never pulsed), as the reference engine skips
        the crossbar's fault map.

    Returns
    -------
    result : ProgramResult
        Batch of one; ``n_hs_per_pass`` and ``n_hs_ever`` are NaN (thresholds are not
        observable through a port). History statistics come from reading every device.
    log : PulseLog
    """
    rows = check_positive_int("rows", port.rows)
    cols = check_positive_int("cols", port.cols)
    target = np.asarray(targets, dtype=np.float64)
    if target.shape != (rows, cols):
        raise XbarsimInputError(f"targets: shape must be ({rows}, {cols}), got {target.shape}")
    if not np.all(np.isfinite(target) & (target > 0.0)):
        raise XbarsimInputError("targets: must be finite and > 0 S")
    excluded = np.zeros((rows, cols), dtype=bool) if skip is None else np.asarray(skip, dtype=bool)
    if excluded.shape != (rows, cols):
        raise XbarsimInputError(f"skip: shape must be ({rows}, {cols}), got {excluded.shape}")
    passes = algorithm.passes
    pulses = np.zeros((rows, cols), dtype=np.int32)
    abandoned = np.zeros((rows, cols), dtype=bool)
    stuck = np.zeros((rows, cols), dtype=bool)
    pulses_per_pass = np.zeros((1, passes), dtype=np.int64)
    history = {key: np.zeros((1, passes + 1)) for key in HISTORY_KEYS}
    recorder = _Recorder()

    def record(column: int) -> None:
        err = relative_error(read_all(port), target)[None]
        stats = error_statistics(err, algorithm.tolerance, ~(excluded | abandoned)[None])
        for key in HISTORY_KEYS:
            history[key][0, column] = stats[key][0]

    record(0)
    initial = read_all(port)
    for p in range(passes):
        for r in range(rows):
            for c in range(cols):
                if excluded[r, c] or abandoned[r, c]:
                    continue
                n, capped, unmoved = _tune_device(
                    port, r, c, target[r, c], algorithm, p, recorder
                )
                pulses[r, c] += n
                pulses_per_pass[0, p] += n
                stuck[r, c] |= unmoved
                abandoned[r, c] = capped and (
                    algorithm.abandon_at_cap or (unmoved and algorithm.stuck_detection)
                )
        record(p + 1)
    result = ProgramResult(
        target=target[None].copy(),
        conductance=read_all(port)[None],
        pulses=pulses[None],
        abandoned=abandoned[None],
        unswitchable=excluded[None].copy(),
        tolerance=algorithm.tolerance,
        history=history,
        pulses_per_pass=pulses_per_pass,
        n_hs_per_pass=np.full((1, passes), np.nan),
        n_hs_ever=np.full(1, np.nan),
        engine=f"port:{type(port).__name__}",
        stuck=stuck[None],
    )
    log = recorder.log()
    v2_sum = np.zeros((rows, cols))
    np.add.at(v2_sum, (log.row, log.col), log.voltage_v**2)
    result.pulse_v2_sum = v2_sum[None]
    result.pulse_power_w = pulse_power(
        result.pulse_v2_sum, initial[None], result.target, result.unswitchable, algorithm.scheme
    )
    return result, log

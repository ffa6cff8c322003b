"""The X-block: shift registers, Table III decoder, switches and buses (layer 5, thesis 4.1.1).

Each side of the crossbar (word lines = bottom electrodes, bit lines = top electrodes) has
a shift register holding the selected electrode's binary address, loaded serially (MSB
first), and a custom decoder that turns the one-hot address and three control bits
(Enable, Prog_En, Re) into, per electrode, a *select* switch to the bus V_SD and an
*unselect* switch to the bus V_UD, plus the side's *inference* switches to V_R (the core
periphery). The decoder's Boolean form (derived; it reproduces every row of Table III):

    SD_i = Enable and Prog_En and sel_i
    UD_i = Enable and Prog_En and not Re and not sel_i
    RE   = Re

Level shifters lift the 1.8 V decoder outputs to the 3.3 V gate levels of the
thick-oxide switches. The buses are driven off-chip per mode (thesis Figs. 40-44); line voltages
follow from the switch states, and the voltage across device (r, c) is V_WL[r] - V_BL[c].
A bus left open (``floating_unselected`` in forming) makes all unselected lines of that side
one floating node, whose voltage follows from Kirchhoff's current law over the array.

:class:`XBlock` implements :class:`xbarsim.programming.port.CrossbarPort` on one crossbar
of a :class:`~xbarsim.crossbar.Crossbar` batch, so write-verify runs through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.crossbar.array import Crossbar
from xbarsim.errors import XbarsimInputError
from xbarsim.programming.port import Mode, check_address, check_mode
from xbarsim.validation import check_positive_int

#: Core (decoder) supply and IO (switch gate) supply of the level shifters (V) (published,
#: thesis Fig. 39).
CORE_SUPPLY_V = 1.8
IO_SUPPLY_V = 3.3


class ControlWord(NamedTuple):
    """The decoder's three control bits."""

    enable: bool
    prog_en: bool
    re: bool


class TableRow(NamedTuple):
    """One row of Table III; ``None`` is a don't-care (X).

    Switch values: True = pass gate on. ``re_on`` is the side's inference switches.
    """

    enable: bool | None
    prog_en: bool | None
    re: bool | None
    sel_sd: bool
    sel_ud: bool
    unsel_sd: bool
    unsel_ud: bool
    re_on: bool | None


#: Table III of the thesis (decoder logic), per mode (published). Reset equals Set (merged cells);
#: monitoring (sensing circuit) equals monitoring (input generator) with Re on.
TABLE_III: dict[Mode, TableRow] = {
    Mode.FORMING: TableRow(True, True, False, True, False, False, True, None),
    Mode.SET: TableRow(True, True, False, True, False, False, True, None),
    Mode.RESET: TableRow(True, True, False, True, False, False, True, None),
    Mode.READ: TableRow(True, True, False, True, False, False, True, None),
    Mode.INFERENCE: TableRow(None, False, True, False, False, False, False, True),
    Mode.MONITOR_INPUT: TableRow(True, True, True, True, False, False, False, True),
    Mode.MONITOR_SENSE: TableRow(True, True, True, True, False, False, False, True),
}

#: Control word the X-block drives for each mode (don't-cares resolved to 1).
MODE_WORDS: dict[Mode, ControlWord] = {
    mode: ControlWord(*(True if bit is None else bit for bit in row[:3]))
    for mode, row in TABLE_III.items()
}

#: Control word of a side that takes no part in a mode: every switch off (not given in the
#: source documents; our assumption).
IDLE_WORD = ControlWord(False, False, False)


def address_bits(lines: int) -> int:
    """Bits of a shift register addressing ``lines`` electrodes (>= 1)."""
    lines = check_positive_int("lines", lines)
    return max(1, (lines - 1).bit_length())


@dataclass
class ShiftRegister:
    """Serial-in shift register holding an electrode address, MSB first.

    Attributes
    ----------
    lines : int
        Electrodes on this side; the register has :func:`address_bits` stages.
    bits : list of bool
        Stage contents, most significant first.
    """

    lines: int
    bits: list[bool] = field(init=False)

    def __post_init__(self) -> None:
        self.bits = [False] * address_bits(self.lines)

    def clock(self, bit: bool) -> None:
        """Shift one bit in at the least significant end (one clock edge)."""
        self.bits = [*self.bits[1:], bool(bit)]

    def load(self, address: int) -> None:
        """Shift ``address`` in serially, MSB first."""
        address = check_address("address", address, self.lines)
        n = len(self.bits)
        for k in range(n - 1, -1, -1):
            self.clock(bool((address >> k) & 1))

    @property
    def address(self) -> int:
        """The address held (may exceed ``lines - 1`` only if loaded bit by bit)."""
        value = 0
        for bit in self.bits:
            value = (value << 1) | int(bit)
        return value


class SideSwitches(NamedTuple):
    """Switch states of one side: per electrode select (SD) and unselect (UD), and RE."""

    sd: NDArray[np.bool_]
    ud: NDArray[np.bool_]
    re: bool


def decode(word: ControlWord, address: int, lines: int) -> SideSwitches:
    """The custom decoder: one-hot address and control bits to switch states (Table III).

    Parameters
    ----------
    word : ControlWord
    address : int
        Selected electrode, in ``[0, lines)``.
    lines : int
        Electrodes on the side.
    """
    lines = check_positive_int("lines", lines)
    address = check_address("address", address, lines)
    onehot = np.zeros(lines, dtype=bool)
    onehot[address] = True
    program = word.enable and word.prog_en
    sd = onehot & program
    ud = ~onehot & (program and not word.re)
    return SideSwitches(sd=sd, ud=ud, re=bool(word.re))


def level_shift(on: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Level shifter: 1.8 V logic to 3.3 V gate drive (OUT, OUT-bar) in volts."""
    bits = np.asarray(on, dtype=bool)
    return np.where(bits, IO_SUPPLY_V, 0.0), np.where(bits, 0.0, IO_SUPPLY_V)


class Buses(NamedTuple):
    """Off-chip bus levels (V); ``None`` = open (floating, or tied to a meter that sinks
    no current)."""

    sd_wl: float | None
    ud_wl: float | None
    sd_bl: float | None
    ud_bl: float | None


def bus_voltages(mode: Mode, amplitude_v: float, floating_unselected: bool = False) -> Buses:
    """Bus voltages of a device-level mode (thesis Figs. 40-42), pulse or read ``amplitude_v`` (V).

    Forming and set: selected WL at V, selected BL at 0, unselected lines at V/2 (open in
    forming with ``floating_unselected``). Reset: selected WL at 0, selected BL at V.
    Read: selected WL at V_read, selected BL at virtual ground (0), unselected lines at 0.
    """
    mode = check_mode(mode)
    v = float(amplitude_v)
    half = 0.5 * v
    if mode in (Mode.FORMING, Mode.SET):
        open_ud = floating_unselected and mode is Mode.FORMING
        return Buses(v, None if open_ud else half, 0.0, None if open_ud else half)
    if mode is Mode.RESET:
        return Buses(0.0, half, v, half)
    if mode is Mode.READ:
        return Buses(v, 0.0, 0.0, 0.0)
    raise XbarsimInputError(f"mode: {mode.value!r} drives no device-level bus voltages")


def line_voltages(
    g: NDArray[np.float64], wl: SideSwitches, bl: SideSwitches, buses: Buses
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Word-line and bit-line voltages (V) from switch states and bus levels.

    Lines switched to a driven bus take its level. Lines switched to an open bus form one
    floating node per side; its voltage solves KCL over the conductances ``g`` (S). A line
    with no switch on is not allowed here (no device-level mode leaves one).
    """
    rows, cols = g.shape
    v_wl = np.zeros(rows)
    v_bl = np.zeros(cols)
    fixed_wl = np.zeros(rows, dtype=bool)
    fixed_bl = np.zeros(cols, dtype=bool)
    for side, v, fixed, sd_bus, ud_bus in (
        (wl, v_wl, fixed_wl, buses.sd_wl, buses.ud_wl),
        (bl, v_bl, fixed_bl, buses.sd_bl, buses.ud_bl),
    ):
        if np.any(~side.sd & ~side.ud):
            raise XbarsimInputError("mode: a line is disconnected from both buses")
        if sd_bus is None:
            raise XbarsimInputError("mode: the selected line's bus must be driven")
        v[side.sd] = sd_bus
        fixed |= side.sd
        if ud_bus is not None:
            v[side.ud] = ud_bus
            fixed |= side.ud
    float_wl, float_bl = ~fixed_wl, ~fixed_bl
    if float_wl.any() or float_bl.any():
        _solve_floating(g, v_wl, v_bl, float_wl, float_bl)
    return v_wl, v_bl


def _solve_floating(
    g: NDArray[np.float64],
    v_wl: NDArray[np.float64],
    v_bl: NDArray[np.float64],
    float_wl: NDArray[np.bool_],
    float_bl: NDArray[np.bool_],
) -> None:
    """KCL for the (at most two) floating nodes: open-bus WLs and open-bus BLs (in place)."""
    nodes = [(0, float_wl), (1, float_bl)]
    nodes = [(side, mask) for side, mask in nodes if mask.any()]
    a = np.zeros((len(nodes), len(nodes)))
    b = np.zeros(len(nodes))
    for i, (side, mask) in enumerate(nodes):
        # currents out of the node: sum over its devices G (V_node - V_other end) = 0
        block = g[mask, :] if side == 0 else g[:, mask].T
        other_fixed = ~float_bl if side == 0 else ~float_wl
        other_v = v_bl if side == 0 else v_wl
        a[i, i] += block.sum()
        b[i] += (block[:, other_fixed] * other_v[other_fixed]).sum()
        for j, (other_side, other_mask) in enumerate(nodes):
            if other_side != side:
                a[i, j] -= block[:, other_mask].sum()
    solution = np.linalg.solve(a, b)
    for (side, mask), value in zip(nodes, solution, strict=True):
        (v_wl if side == 0 else v_bl)[mask] = value


def apply_voltage_map(xbars: Crossbar, index: int, voltage: NDArray[np.float64]) -> None:
    """One pulse with device voltages ``voltage`` (V, WL minus BL) on crossbar ``index``.

    Positive voltages set, negative reset, zero leaves a device alone; the crossbar's
    pulse law is applied elementwise (in place).
    """
    law = xbars.law
    g = xbars.conductance[index]
    new = g.copy()
    up, down = voltage > 0.0, voltage < 0.0
    new[up] = law.apply_set(g[up], law.dose(voltage[up], xbars.v_set[index][up], law.d0_set))
    new[down] = law.apply_reset(
        g[down], law.dose(voltage[down], xbars.v_reset[index][down], law.d0_reset)
    )
    g[...] = new


@dataclass
class XBlock:
    """One crossbar behind its X-block: a :class:`~xbarsim.programming.port.CrossbarPort`.

    Attributes
    ----------
    xbars : Crossbar
        The crossbar batch; this X-block drives crossbar ``index``.
    index : int
    read_voltage_v : float
        V_read on V_SD,WL in read mode (V); the paper's 0.25 V by default (our
        assumption for the X-block).
    floating_unselected : bool
        Forming with the V_UD buses open (unselected lines float; an option
        the thesis describes).
    sense : callable, optional
        ``sense(col, current_a) -> V_out`` of the column's sensing circuit (TIA), used in
        the sensing-circuit monitoring mode.
    """

    xbars: Crossbar
    index: int = 0
    read_voltage_v: float = 0.25
    floating_unselected: bool = False
    sense: Callable[[int, float], float] | None = None
    wl_register: ShiftRegister = field(init=False)
    bl_register: ShiftRegister = field(init=False)
    mode: Mode = field(default=Mode.READ, init=False)

    def __post_init__(self) -> None:
        check_address("index", self.index, self.xbars.batch)
        if not self.read_voltage_v > 0.0:
            raise XbarsimInputError(f"read_voltage_v: must be > 0 V, got {self.read_voltage_v}")
        self.wl_register = ShiftRegister(self.rows)
        self.bl_register = ShiftRegister(self.cols)

    @property
    def rows(self) -> int:
        """Word lines."""
        return self.xbars.rows

    @property
    def cols(self) -> int:
        """Bit lines."""
        return self.xbars.cols

    def select(self, row: int, col: int) -> None:
        """Shift the WL and BL addresses into the two shift registers."""
        row = check_address("row", row, self.rows)
        col = check_address("col", col, self.cols)
        self.wl_register.load(row)
        self.bl_register.load(col)

    def set_mode(self, mode: Mode) -> None:
        """Set the mode bits of both decoders."""
        self.mode = check_mode(mode)

    def words(self) -> tuple[ControlWord, ControlWord]:
        """Control words of the WL and BL decoders in the current mode.

        In a monitoring mode the side not under test is idle (every switch off).
        """
        word = MODE_WORDS[self.mode]
        if self.mode is Mode.MONITOR_INPUT:
            return word, IDLE_WORD
        if self.mode is Mode.MONITOR_SENSE:
            return IDLE_WORD, word
        return word, word

    def switches(self) -> tuple[SideSwitches, SideSwitches]:
        """Decoded switch states of the WL and BL sides."""
        wl_word, bl_word = self.words()
        return (
            decode(wl_word, self.wl_register.address, self.rows),
            decode(bl_word, self.bl_register.address, self.cols),
        )

    def device_voltages(self, amplitude_v: float) -> NDArray[np.float64]:
        """Voltage across every device (V, WL minus BL) for a pulse or read of
        ``amplitude_v`` (V) in the current mode."""
        wl, bl = self.switches()
        buses = bus_voltages(self.mode, amplitude_v, self.floating_unselected)
        v_wl, v_bl = line_voltages(self.xbars.conductance[self.index], wl, bl, buses)
        return v_wl[:, None] - v_bl[None, :]

    def apply_pulse(self, amplitude_v: float) -> float:
        """One write pulse (forming, set or reset); returns the array power (W)."""
        if self.mode not in (Mode.FORMING, Mode.SET, Mode.RESET):
            raise XbarsimInputError(f"mode: cannot pulse in {self.mode.value!r} mode")
        if not amplitude_v > 0.0:
            raise XbarsimInputError(f"amplitude_v: must be > 0 V, got {amplitude_v}")
        voltage = self.device_voltages(amplitude_v)
        power = float((self.xbars.conductance[self.index] * voltage**2).sum())
        apply_voltage_map(self.xbars, self.index, voltage)
        return power

    def read(self) -> float:
        """Read mode: current into the virtually grounded selected BL over V_read (S).

        ``(G V_read) / V_read`` returns G bit for bit when V_read is a power of two (the
        default 0.25 V), which keeps X-block programming identical to direct programming;
        otherwise the read may differ from G by one rounding step.
        """
        if self.mode is not Mode.READ:
            raise XbarsimInputError(f"mode: cannot read in {self.mode.value!r} mode")
        col = self.bl_register.address
        voltage = self.device_voltages(self.read_voltage_v)
        current = float(self.xbars.conductance[self.index][:, col] @ voltage[:, col])
        return current / self.read_voltage_v

    def infer(self, inputs_v: ArrayLike) -> NDArray[np.float64]:
        """Inference mode: WL voltages (V) from the input generator, column currents (A)
        into the virtually grounded sensing circuits."""
        if self.mode is not Mode.INFERENCE:
            raise XbarsimInputError(f"mode: cannot infer in {self.mode.value!r} mode")
        wl, bl = self.switches()
        if not (wl.re and bl.re) or wl.sd.any() or wl.ud.any() or bl.sd.any() or bl.ud.any():
            raise XbarsimInputError("mode: inference needs only the inference switches on")
        return self.xbars.vmm(inputs_v)[self.index]

    def monitor_input(self, generator_v: ArrayLike) -> float:
        """Input-generator monitoring: the selected WL's generator output reaches the
        off-chip voltmeter on V_SD,WL (V)."""
        if self.mode is not Mode.MONITOR_INPUT:
            raise XbarsimInputError(f"mode: cannot monitor inputs in {self.mode.value!r} mode")
        v = np.asarray(generator_v, dtype=np.float64)
        if v.shape != (self.rows,):
            raise XbarsimInputError(f"generator_v: shape must be ({self.rows},), got {v.shape}")
        wl, _ = self.switches()
        return float(v[wl.sd][0])

    def monitor_sense(self, current_a: float) -> float:
        """Sensing-circuit monitoring: ``current_a`` (A) applied through V_SD,BL into the
        selected column's sensing circuit; returns its output (V)."""
        if self.mode is not Mode.MONITOR_SENSE:
            raise XbarsimInputError(f"mode: cannot monitor sensing in {self.mode.value!r} mode")
        if self.sense is None:
            raise XbarsimInputError("sense: no sensing circuit attached to this X-block")
        _, bl = self.switches()
        return float(self.sense(int(np.flatnonzero(bl.sd)[0]), float(current_a)))

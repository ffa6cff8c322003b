"""Line resistance of a crossbar: the ``Lines`` configuration (layer 2).

A crossbar of ``rows × cols`` devices: row (word) line ``i`` carries input ``i``, column
(bit) line ``j`` is sensed as output ``j``. Each line is a chain of equal segments between
adjacent crosspoints; device ``(i, j)`` joins row node ``(i, j)`` to column node ``(i, j)``.
Row ``i`` is driven by an ideal voltage source ``V_i`` through ``r_source_ohm`` at one or
both of its ends; column ``j`` ends in a virtual ground at 0 V through ``r_sink_ohm`` plus
the sensing amplifier's input resistance ``r_tia_in_ohm = R_f / (1 + A)`` at one or both of
its ends. All voltages are relative to the virtual ground.

No line resistance is published for the thesis's or the paper's arrays; the ``paper``
preset is our estimate from the paper's electrode stacks (aluminium lines 250 nm wide on a 0.75 µm
pitch: 1.2 Ω per cell on the 70 nm bottom electrode = rows, 0.93 Ω per cell on the 90 nm
top electrode = columns), an assumption.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xbarsim.errors import XbarsimInputError, format_validation_error

LineEnd = Literal["first", "last", "both"]

#: Derived per-cell segment resistances of the paper's crossbar (Ω), from its electrodes.
PAPER_R_ROW_OHM = 1.2
PAPER_R_COL_OHM = 0.93
#: TIA of the thesis's design equations for N = 64 (thesis 4.1.2a): R_f (Ω), gain.
TIA64_R_F_OHM = 6.875e3
TIA64_GAIN = 2200.0


class Lines(BaseModel):
    """Resistances of the lines around the devices (Ω) and where lines are connected.

    Attributes
    ----------
    r_row_ohm : float
        Row-line segment between adjacent crosspoints (Ω, >= 0).
    r_col_ohm : float
        Column-line segment between adjacent crosspoints (Ω, >= 0).
    r_source_ohm : float
        Output resistance of each input driver (Ω, >= 0), between the source and the row's
        end crosspoint.
    r_sink_ohm : float
        Resistance from each column's end crosspoint to its virtual ground (Ω, >= 0).
    r_tia_in_ohm : float
        Input resistance of the sensing amplifier ``R_f / (1 + A)`` (Ω, >= 0), in series
        with ``r_sink_ohm``; see :meth:`with_tia`.
    row_drive : {"first", "last", "both"}
        Which end of every row the driver is connected to: ``"first"`` at column 0,
        ``"last"`` at column ``cols − 1``, ``"both"`` at both (one driver, two leads, each
        through ``r_source_ohm``).
    col_sense : {"first", "last", "both"}
        Which end of every column is sensed: ``"first"`` at row 0, ``"last"`` at row
        ``rows − 1`` (the default, the far end from the drivers), ``"both"`` at both
        (currents summed, each lead through ``r_sink_ohm + r_tia_in_ohm``).

    Zero resistances are allowed everywhere: a zero segment merges its nodes, a zero
    source or sink fixes the node at the source (ground) voltage. With every resistance
    zero the crossbar computes the ideal ``I = Vᵀ G``.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    r_row_ohm: float = Field(0.0, ge=0.0, le=1.0e9)
    r_col_ohm: float = Field(0.0, ge=0.0, le=1.0e9)
    r_source_ohm: float = Field(0.0, ge=0.0, le=1.0e9)
    r_sink_ohm: float = Field(0.0, ge=0.0, le=1.0e9)
    r_tia_in_ohm: float = Field(0.0, ge=0.0, le=1.0e9)
    row_drive: LineEnd = "first"
    col_sense: LineEnd = "last"

    @property
    def r_terminal_ohm(self) -> float:
        """Total resistance from a column's sensed end to virtual ground (Ω)."""
        return self.r_sink_ohm + self.r_tia_in_ohm

    @property
    def is_ideal(self) -> bool:
        """True when every resistance is zero (the crossbar computes ``Vᵀ G`` exactly)."""
        return (
            self.r_row_ohm == 0.0
            and self.r_col_ohm == 0.0
            and self.r_source_ohm == 0.0
            and self.r_terminal_ohm == 0.0
        )

    def with_tia(self, r_f_ohm: float, open_loop_gain: float) -> Lines:
        """Copy with the sensing amplifier's input resistance ``R_f / (1 + A)`` (Ω).

        Parameters
        ----------
        r_f_ohm : float
            Feedback resistance (Ω, > 0).
        open_loop_gain : float
            Open-loop gain A (> 0).
        """
        if not (r_f_ohm > 0.0 and open_loop_gain > 0.0) or r_f_ohm != r_f_ohm:
            raise XbarsimInputError(
                f"r_f_ohm, open_loop_gain: must be > 0, got {r_f_ohm!r}, {open_loop_gain!r}"
            )
        return self.model_copy(update={"r_tia_in_ohm": r_f_ohm / (1.0 + open_loop_gain)})

    def strapped(self, factor: float) -> Lines:
        """Copy with both line segments multiplied by ``factor`` (0 < factor <= 1): lines
        bootstrapped with parallel metal straps (thesis §4.1.2: CMOS M4 and M2). The factor
        of the thesis's straps is not published."""
        if not 0.0 < factor <= 1.0:
            raise XbarsimInputError(f"factor: must lie in (0, 1], got {factor!r}")
        return self.model_copy(
            update={"r_row_ohm": self.r_row_ohm * factor, "r_col_ohm": self.r_col_ohm * factor}
        )


class LinesPreset(StrEnum):
    """Named line configurations.

    ``ideal``: every resistance zero. ``paper``: the derived per-cell estimate of the
    paper's aluminium lines (rows 1.2 Ω, columns 0.93 Ω; an assumption, no value is
    published), ideal drivers and virtual grounds. The thesis's design rules on top of it:
    ``paper-tia64``: sensed by the TIA its design equations give for N = 64
    (``R_f = 6.875 kΩ``, ``A = 2200``: input resistance 3.1 Ω, 1 % of the bit line's
    ``1/(N·G_avg)``); ``paper-double-sided``: rows driven and columns sensed at both ends.
    Local buffering and 64×64 tiles are kernel sizes, not line properties.
    """

    IDEAL = "ideal"
    PAPER = "paper"
    PAPER_TIA64 = "paper-tia64"
    PAPER_DOUBLE_SIDED = "paper-double-sided"


def lines_preset(name: str | LinesPreset) -> Lines:
    """Return a named :class:`Lines` preset (see :class:`LinesPreset`).

    Raises
    ------
    XbarsimInputError
        For an unknown name.
    """
    try:
        key = LinesPreset(name)
    except ValueError:
        allowed = ", ".join(p.value for p in LinesPreset)
        raise XbarsimInputError(f"lines: unknown preset {name!r}; allowed: {allowed}") from None
    if key is LinesPreset.IDEAL:
        return Lines()
    paper = Lines(r_row_ohm=PAPER_R_ROW_OHM, r_col_ohm=PAPER_R_COL_OHM)
    if key is LinesPreset.PAPER_TIA64:
        return paper.with_tia(TIA64_R_F_OHM, TIA64_GAIN)
    if key is LinesPreset.PAPER_DOUBLE_SIDED:
        return paper.model_copy(update={"row_drive": "both", "col_sense": "both"})
    return paper


def lines_from_dict(data: dict) -> Lines:
    """Validate a mapping (optionally naming a ``preset`` to override) into :class:`Lines`."""
    data = dict(data)
    base = lines_preset(data.pop("preset")).model_dump() if "preset" in data else {}
    try:
        return Lines.model_validate({**base, **data})
    except Exception as exc:
        raise XbarsimInputError(f"lines: {format_validation_error(exc)}") from None

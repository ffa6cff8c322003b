"""Write pulses through resistive lines: the voltage each device really sees (layer 2).

Under the V/2 (V/3) scheme the selected row is driven at ``V`` and the other rows at
``V/2`` (``V/3``), the selected column at 0 and the other columns at ``V/2`` (``2V/3``).
With line resistance (:class:`~xbarsim.crossbar.Lines`: rows driven through
``r_source_ohm`` at their driven end(s), columns driven through ``r_sink_ohm`` at their
sensed end(s); the sensing amplifiers are switched out during writes) every device sees
less than the scheme's nominal fraction, the more so the farther it sits from the
drivers. The devices are linear at their conductance here (during a switching pulse they
are not; this is the first-order drop, our first-order estimate, ≈ 12-24 mV over a
60 Ω line at the paper's 200-400 µA switching currents). Solved by superposition of the
row drivers (columns at 0 V) and the column drivers (rows at 0 V) on the nodal network.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.crossbar.lines import Lines
from xbarsim.crossbar.nodal import NodalNetwork, check_conductance
from xbarsim.errors import XbarsimInputError


def line_voltages(
    rows: int, cols: int, row: int, col: int, v_pulse: float, scheme: BiasScheme
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Driver voltages (V) of every row and every column for one write pulse.

    Returns
    -------
    row_v : ndarray, shape (rows,)
    col_v : ndarray, shape (cols,)
        Device ``(i, j)`` sees ``row_v[i] − col_v[j]`` with ideal lines.
    """
    if scheme is BiasScheme.NONE:
        raise XbarsimInputError("scheme: a passive crossbar write needs V/2 or V/3, not none")
    f = scheme.line_fraction
    row_v = np.full(rows, f * v_pulse)
    col_v = np.full(cols, (1.0 - f) * v_pulse if scheme is BiasScheme.V3 else f * v_pulse)
    row_v[row] = v_pulse
    col_v[col] = 0.0
    return row_v, col_v


def write_voltages(
    conductance_s: ArrayLike,
    lines: Lines,
    row: int,
    col: int,
    v_pulse: float,
    scheme: BiasScheme = BiasScheme.V2,
) -> NDArray[np.float64]:
    """Voltage across every device (V) during a write pulse on device ``(row, col)``.

    Parameters
    ----------
    conductance_s : array_like, shape (rows, cols)
        Device conductances (S).
    lines : Lines
        Line resistances; ``r_source_ohm`` / ``r_sink_ohm`` are the row / column drivers'
        resistances (``r_tia_in_ohm`` is not in the write path).
    row, col : int
        Selected device.
    v_pulse : float
        Pulse amplitude (V, signed).
    scheme : BiasScheme
        V/2 or V/3.

    Returns
    -------
    ndarray, shape (rows, cols)
        ``V(row node) − V(column node)`` at every crosspoint (V).
    """
    g = check_conductance(conductance_s, 2)
    rows, cols = g.shape
    if not (0 <= row < rows and 0 <= col < cols):
        raise XbarsimInputError(f"row, col: ({row}, {col}) is outside the {rows}x{cols} array")
    if not np.isfinite(v_pulse):
        raise XbarsimInputError(f"v_pulse: must be finite, got {v_pulse!r}")
    row_v, col_v = line_voltages(rows, cols, row, col, float(v_pulse), scheme)
    writing = lines.model_copy(update={"r_tia_in_ohm": 0.0})
    u_a, w_a = NodalNetwork(g, writing).solve(row_v)
    # the column drivers: the same circuit with rows and columns exchanged
    swapped = Lines(
        r_row_ohm=lines.r_col_ohm,
        r_col_ohm=lines.r_row_ohm,
        r_source_ohm=lines.r_sink_ohm,
        r_sink_ohm=lines.r_source_ohm,
        row_drive=lines.col_sense,
        col_sense=lines.row_drive,
    )
    u_b, w_b = NodalNetwork(g.T, swapped).solve(col_v)
    return (u_a[0] + w_b[0].T) - (w_a[0] + u_b[0].T)


def nominal_write_voltages(
    rows: int, cols: int, row: int, col: int, v_pulse: float, scheme: BiasScheme
) -> NDArray[np.float64]:
    """Voltage across every device (V) during a write pulse with ideal lines."""
    row_v, col_v = line_voltages(rows, cols, row, col, v_pulse, scheme)
    return row_v[:, None] - col_v[None, :]


def apply_write_pulse(
    xbars: Crossbar,
    index: int,
    row: int,
    col: int,
    v_pulse: float,
    scheme: BiasScheme,
    lines: Lines,
) -> NDArray[np.float64]:
    """Apply one write pulse through ``lines`` to crossbar ``index`` of ``xbars`` (in place).

    Every device receives the dose of the voltage it really sees
    (:func:`write_voltages`, solved at the conductances before the pulse); with ideal
    lines that is the scheme's nominal fraction, as :meth:`Crossbar.apply_pulse` applies.
    The selected device's dose carries its cycle-to-cycle factor
    (:meth:`Crossbar.selected_multiplier`).

    Parameters
    ----------
    xbars : Crossbar
    index, row, col : int
        Crossbar and selected device.
    v_pulse : float
        Pulse amplitude (V, signed).
    scheme : BiasScheme
        V/2 or V/3.
    lines : Lines
        Line, driver (``r_source_ohm``) and column driver (``r_sink_ohm``) resistances.

    Returns
    -------
    ndarray, shape (rows, cols)
        The voltage across every device during the pulse (V).
    """
    g = xbars.conductance[index]
    writing = (lines.r_row_ohm, lines.r_col_ohm, lines.r_source_ohm, lines.r_sink_ohm)
    if any(writing):
        v = write_voltages(g, lines, row, col, v_pulse, scheme)
    else:
        v = nominal_write_voltages(*g.shape, row, col, float(v_pulse), scheme)
    law = xbars.law
    up, down = v > 0.0, v < 0.0
    factor = np.ones(g.shape)
    factor[row, col] = xbars.selected_multiplier(index, row, col)
    new = g.copy()
    new[up] = law.apply_set(
        g[up], factor[up] * law.dose(v[up], xbars.v_set[index][up], law.d0_set)
    )
    new[down] = law.apply_reset(
        g[down], factor[down] * law.dose(v[down], xbars.v_reset[index][down], law.d0_reset)
    )
    g[...] = new
    return v

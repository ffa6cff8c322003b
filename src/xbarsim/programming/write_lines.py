"""Write pulses through line resistance inside write-verify (layer 3).

With line resistance the V and V/2 (V/3) pulses reach each device reduced by the drop
along its row and column (:mod:`xbarsim.crossbar.write_path`), and by how much depends on
every conductance at that moment: no closed form factors per device, so write-verify is
stepped pulse by pulse (the reference engine, ``program(..., write_lines=...)``), one
nodal solve per pulse.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.crossbar.lines import Lines
from xbarsim.crossbar.write_path import apply_write_pulse


def pulse_through_lines(
    xbars: Crossbar,
    index: int,
    row: int,
    col: int,
    voltage: float,
    scheme: BiasScheme,
    lines: Lines,
    hit: NDArray[np.bool_],
) -> int:
    """Apply one write pulse through ``lines`` and flag, in ``hit``, every other device it
    drove at or above its threshold (set for positive, reset for negative voltages); return
    how many there are."""
    v = apply_write_pulse(xbars, index, row, col, voltage, scheme, lines)
    selected = hit[row, col]
    reached = (v >= xbars.v_set[index]) | (-v >= xbars.v_reset[index])
    reached[row, col] = False
    hit |= reached
    hit[row, col] = selected
    return int(reached.sum())

"""Power drawn by a run's write pulses, per crossbar, from each device's logged amplitudes
(layer 3).

A write pulse of amplitude ``V`` on device ``(i, j)`` of a crossbar dissipates ``V^2 G_ij``
in the selected device, ``(f V)^2 G`` in every other device of row ``i`` and column ``j``
(``f`` the bias scheme's line fraction, 1/2 under V/2) and ``(f_o V)^2 G`` in every other
device (``f_o`` the scheme's other fraction, 1/3 under V/3). Summed over a run, with each
device's squared amplitudes ``S_ij = sum V^2`` (V^2, what every engine accumulates) and
one conductance ``G`` per device for the whole run::

    P_selected = sum_ij S_ij G_ij
    P_line     = f^2   sum_ij S_ij (R_i + C_j - 2 G_ij)
    P_other    = f_o^2 sum_ij S_ij (sum G - R_i - C_j + G_ij)

(``R_i``, ``C_j``: row and column sums of ``G``), in V^2 S = W; times the pulse width they
are the write energy (J). The one approximation is ``G``: a tuned device travels from its
conductance at the start of the run to its target, and in raster order about half the
pulses find a neighbour still untuned, so ``G`` is the midpoint of the two; a device the
run leaves alone (unswitchable, skipped) keeps its starting conductance.

The three sums are reduced per crossbar as each crossbar finishes (the compiled engine does
it inside its kernel), so a run need not keep per-device sums or starting conductances.
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from xbarsim.crossbar.bias import BiasScheme

#: The parts of :attr:`~xbarsim.programming.result.ProgramResult.pulse_power_w`, in order.
POWER_PARTS = ("selected", "half-selected", "other")

_CACHE = os.environ.get("XBARSIM_NUMBA_CACHE", "1") != "0"


@njit(cache=_CACHE, nogil=True)
def crossbar_pulse_power(v2, start, target, excluded, line_fraction, other_fraction, out):
    """Write ``out[:3]`` = the selected, line and other power sums (W) of one crossbar.

    ``v2``: squared-amplitude sums per device (V^2); ``start``: conductances at the start
    of the run (S); ``target``: targets (S); ``excluded``: devices the run left alone.
    """
    rows, cols = v2.shape
    g = np.empty((rows, cols))
    row = np.zeros(rows)
    col = np.zeros(cols)
    for i in range(rows):
        for j in range(cols):
            gij = start[i, j] if excluded[i, j] else 0.5 * (start[i, j] + target[i, j])
            g[i, j] = gij
            row[i] += gij
            col[j] += gij
    total = 0.0
    for i in range(rows):
        total += row[i]
    selected = 0.0
    line = 0.0
    other = 0.0
    for i in range(rows):
        for j in range(cols):
            s = v2[i, j]
            if s == 0.0:
                continue
            gij = g[i, j]
            selected += s * gij
            line += s * (row[i] + col[j] - 2.0 * gij)
            other += s * (total - row[i] - col[j] + gij)
    out[0] = selected
    out[1] = line_fraction * line_fraction * line
    out[2] = other_fraction * other_fraction * other


@njit(cache=_CACHE, parallel=True, nogil=True)
def _batch_pulse_power(v2, start, target, excluded, line_fraction, other_fraction, out):
    for b in prange(v2.shape[0]):
        crossbar_pulse_power(v2[b], start[b], target[b], excluded[b], line_fraction,
                             other_fraction, out[b])


def pulse_power(
    v2_sum: NDArray[np.float64],
    start: NDArray[np.float64],
    target: NDArray[np.float64],
    excluded: NDArray[np.bool_],
    scheme: BiasScheme,
) -> NDArray[np.float64]:
    """Power sums of a run's write pulses per crossbar (W), see the module docstring.

    Parameters
    ----------
    v2_sum : ndarray, shape (batch, rows, cols)
        Sum of the squared amplitudes of each device's pulses as the selected device (V^2).
    start : ndarray, shape (batch, rows, cols)
        Conductances when the run started (S).
    target : ndarray, shape (batch, rows, cols)
        The run's targets (S).
    excluded : ndarray of bool, shape (batch, rows, cols)
        Devices the run left alone (they keep their starting conductance).
    scheme : BiasScheme
        Gives the line and other fractions.

    Returns
    -------
    ndarray, shape (batch, 3)
        Per crossbar, the parts of :data:`POWER_PARTS` (W); times the pulse width (s) the
        write energy (J).
    """
    out = np.zeros((v2_sum.shape[0], len(POWER_PARTS)))
    _batch_pulse_power(
        np.ascontiguousarray(v2_sum, dtype=np.float64),
        np.ascontiguousarray(start, dtype=np.float64),
        np.ascontiguousarray(target, dtype=np.float64),
        np.ascontiguousarray(excluded, dtype=np.bool_),
        float(scheme.line_fraction), float(abs(scheme.other_fraction)), out,
    )
    return out

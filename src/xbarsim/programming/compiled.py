"""Compiled CPU engine (numba), parallel over crossbars (layer 3).

Same algorithm, same pulse law and the same results as
:mod:`xbarsim.programming.reference`, at a fraction of the cost.

Why the accumulated engine is exact
-----------------------------------
Ramps run on a fixed amplitude grid ``a_k = start + k * step``, so the dose of pulse ``k``
on a device with threshold ``th``, seen at a fraction ``f`` of the amplitude, is
``d0 * exp((f a_k - th) / s)`` with ``s`` the slope below or above threshold. It factorises
into a device constant ``d0 exp((th_ref - th) / s)`` and a grid term
``exp((f a_k - th_ref) / s)``; prefix sums of the grid terms are tabulated once per
algorithm, and the first grid index at which ``f a_k`` reaches a device's threshold is
tabulated once per device. The cumulative dose of the first ``n`` pulses of a ramp is then
two table look-ups (three for the three-piece law, whose far piece from ``th + knee`` on
is one more split index and one more table), and soft-bounded updates of one polarity
compose exactly (``Gmax - (Gmax - G) exp(-(d1 + d2))``). Hence:

* the selected device: the pulse at which it reaches or passes its target follows from a
  logarithm, the inverse of the geometric series of the grid terms (an estimate settled
  by exact comparisons with the tables) and an exact check of its neighbours (the same
  comparisons as the reference engine);
* its row and column (every device under V/3) are only read after the ramp, and receive
  the ramp's whole dose once, when it ends.

Work per ramp: O(1 + N) under V/2 instead of O(L N) pulse by pulse. The O(N) part is
vectorized: below threshold a neighbour's dose is its device constant times a constant of
the ramp, and ``1 - exp(-dose)`` a polynomial for small doses (fused multiply-adds), so a
line is one loop without branches or calls; the few neighbours that a ramp of that length
takes to or above threshold or gives a larger dose are known in advance (per line, sorted
by the ramp length from which they need it) and redone exactly. The selected row is kept
row-major and every other row column-major, so that the row, the column and every other
column (V/3) are contiguous; each crossbar's tables are one flat float and one flat int
array (few arrays, each costing atomic reference counts where it crosses a call). With
``accumulate=False`` the kernel instead applies every pulse to the selected device and
every disturbance at every pulse, with the reference engine's formulas (the "direct"
engine, for benchmarks and tests).

Leak floor and cycle-to-cycle variation
---------------------------------------
Both are off by default, and then nothing of this runs. With a leak floor
(:attr:`~xbarsim.devices.config.DeviceConfig.leak_dose`) every disturbed device with a
finite threshold receives ``n * leak_dose`` more over a ramp's ``n`` pulses, applied as one
more same-polarity update after the ramp's disturbance (doses compose exactly), and the
selected device's closed form adds ``n * leak_dose`` to its cumulative dose. With
cycle-to-cycle variation the selected device's ramp is walked pulse by pulse
(:func:`_walk_ramp`), each dose times its factor from :mod:`xbarsim.devices.pulse_noise`
keyed by (crossbar key, device index, the device's pulse count); the disturbed devices'
doses do not depend on it and keep their per-ramp update.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic
from numpy.typing import ArrayLike, NDArray

from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.pulse_noise import log_sigma, make_multiplier
from xbarsim.programming.algorithm import STUCK_MOVE_FRACTION, WriteVerify, ramp_square_sum
from xbarsim.programming.pulse_power import POWER_PARTS, crossbar_pulse_power
from xbarsim.programming.result import HISTORY_KEYS, ProgramResult
from xbarsim.programming.targets import broadcast_targets
from xbarsim.progress import polled_progress

_CACHE = os.environ.get("XBARSIM_NUMBA_CACHE", "1") != "0"

# indices into the law / algorithm parameter vectors
_GMIN, _GMAX, _D0S, _D0R, _SB, _SA, _THS, _THR, _KNEE, _SF, _LEAK, _C2C = range(12)
_TOL, _START, _STEP_S, _STEP_R, _RAMPS, _ABANDON, _LINE, _OTHER, _STUCK = range(9)
# fraction index into tables: the selected device, its lines, all other devices (V/3)
_F_SEL, _F_LINE, _F_OTHER = range(3)


@njit(cache=_CACHE, inline="always")
def _dose(amplitude, th, d0, slope_below, slope_above, knee, slope_far):
    """Dose of one pulse of magnitude ``amplitude`` on a device with threshold ``th``
    (the far piece from ``th + knee`` on; ``knee = inf``: two-slope law)."""
    if not math.isfinite(th):
        return 0.0
    if amplitude >= th + knee:
        return d0 * math.exp(knee / slope_above) * math.exp((amplitude - th - knee) / slope_far)
    slope = slope_below if amplitude < th else slope_above
    return d0 * math.exp((amplitude - th) / slope)


@njit(cache=_CACHE, inline="always")
def _pulse_dose(amplitude, th, d0, law):
    """Dose of one pulse including the leak floor (none on an unswitchable device)."""
    dose = _dose(amplitude, th, d0, law[_SB], law[_SA], law[_KNEE], law[_SF])
    if math.isfinite(th):
        dose += law[_LEAK]
    return dose


#: The cycle-to-cycle factors of :mod:`xbarsim.devices.pulse_noise`, compiled (a pulse pair;
#: one pulse).
_c2c_pair, _c2c_factor = make_multiplier(functools.partial(njit, cache=_CACHE))


@njit(cache=_CACHE, inline="always")
def _apply(g, dose, polarity, g_min, g_max):
    """Soft-bounded update: set (+1) toward ``g_max``, reset (-1) toward ``g_min``."""
    if polarity > 0:
        return g - (g_max - g) * math.expm1(-dose)
    return g + (g - g_min) * math.expm1(-dose)


#: Doses (dimensionless) below this take the polynomial :func:`_poly_neg_expm1`, larger ones
#: ``expm1``.
_POLY_MAX_DOSE = 0.0625


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``: one instruction where the CPU has
    fused multiply-add, exact either way, and vectorized like any arithmetic)."""
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        double = ir.DoubleType()
        fma = builder.module.declare_intrinsic(
            "llvm.fma", [double], ir.FunctionType(double, [double, double, double])
        )
        return builder.call(fma, args)

    return signature, codegen


@njit(cache=_CACHE, inline="always")
def _poly_neg_expm1(dose):
    """``1 - exp(-dose)`` for ``0 <= dose < _POLY_MAX_DOSE``: its Taylor polynomial to degree
    9 (truncation below 5e-18 relative, rounding a few units in the last place) in Horner
    form with fused multiply-adds, which the compiler can vectorize where ``expm1`` cannot
    be."""
    minus = -dose
    p = _fma(minus, 1.0 / 362880.0, 1.0 / 40320.0)
    p = _fma(minus, p, 1.0 / 5040.0)
    p = _fma(minus, p, 1.0 / 720.0)
    p = _fma(minus, p, 1.0 / 120.0)
    p = _fma(minus, p, 1.0 / 24.0)
    p = _fma(minus, p, 1.0 / 6.0)
    p = _fma(minus, p, 1.0 / 2.0)
    p = _fma(minus, p, 1.0)
    return dose * p


@njit(cache=_CACHE, inline="always")
def _neg_expm1(dose):
    """``-expm1(-dose)`` (dose >= 0): the polynomial for small doses, else ``1 - exp(-dose)``
    (from a dose of 1/16 on, the difference loses no more than 4 bits to cancellation,
    while ``exp`` costs about half of ``expm1``)."""
    if dose < _POLY_MAX_DOSE:
        return _poly_neg_expm1(dose)
    return 1.0 - math.exp(-dose)


#: :func:`~xbarsim.programming.algorithm.ramp_square_sum`, compiled (one definition).
_ramp_v2 = njit(cache=_CACHE, inline="always")(ramp_square_sum)


@njit(cache=_CACHE)
def _split_index(start, step, frac, n, th):
    """First k in [0, n) with ``frac * (start + k * step) >= th``; n if none."""
    if not math.isfinite(th):
        return n
    est = (th / frac - start) / step
    if est <= 0.0:
        k = 0
    elif est >= n:
        k = n
    else:
        k = math.ceil(est)
    while k > 0 and frac * (start + (k - 1) * step) >= th:
        k -= 1
    while k < n and frac * (start + k * step) < th:
        k += 1
    return k


@njit(cache=_CACHE, inline="always")
def _cum_dose(n, split, knee, c_below, c_above, c_far, fl, t_at, t_len):
    """Dose of the first ``n`` pulses of a ramp from the prefix tables of one polarity and
    fraction, flat in ``fl`` from ``t_at`` on (below, above, far; ``t_len`` entries each;
    ``split``: first pulse at or above threshold, ``knee``: first pulse in the far piece)."""
    if n <= split:
        return c_below * fl[t_at + n]
    below = c_below * fl[t_at + split]
    t_above = t_at + t_len
    if n <= knee:
        return below + c_above * (fl[t_above + n] - fl[t_above + split])
    t_far = t_above + t_len
    return (below + c_above * (fl[t_above + knee] - fl[t_above + split])
            + c_far * (fl[t_far + n] - fl[t_far + knee]))


@njit(cache=_CACHE)
def _disturb_pulse(g, vset, vrst, row, col, amp, polarity, law, alg, hit):
    """Direct mode: apply one pulse's disturbance to every non-selected device; returns how
    many it reached at or above threshold."""
    rows, cols = g.shape
    g_min, g_max = law[_GMIN], law[_GMAX]
    exposure = 0
    a_line = alg[_LINE] * amp
    if a_line > 0.0:
        d0 = law[_D0S] if polarity > 0 else law[_D0R]
        for j in range(cols):
            if j != col:
                th = vset[row, j] if polarity > 0 else vrst[row, j]
                dose = _pulse_dose(a_line, th, d0, law)
                g[row, j] = _apply(g[row, j], dose, polarity, g_min, g_max)
                if a_line >= th:
                    hit[row, j] = True
                    exposure += 1
        for i in range(rows):
            if i != row:
                th = vset[i, col] if polarity > 0 else vrst[i, col]
                dose = _pulse_dose(a_line, th, d0, law)
                g[i, col] = _apply(g[i, col], dose, polarity, g_min, g_max)
                if a_line >= th:
                    hit[i, col] = True
                    exposure += 1
    a_other = alg[_OTHER] * amp
    if a_other > 0.0:
        d0 = law[_D0R] if polarity > 0 else law[_D0S]
        for i in range(rows):
            if i == row:
                continue
            for j in range(cols):
                if j == col:
                    continue
                th = vrst[i, j] if polarity > 0 else vset[i, j]
                dose = _pulse_dose(a_other, th, d0, law)
                g[i, j] = _apply(g[i, j], dose, -polarity, g_min, g_max)
                if a_other >= th:
                    hit[i, j] = True
                    exposure += 1
    return exposure


@njit(cache=_CACHE, inline="always")
def _layout(rows, cols):
    """Offsets of the flat per-crossbar tables (see :func:`_crossbar_tables`).

    ``fl`` (float64): conductances row-major, column-major, dose constants [pol, piece,
    row, col], below-threshold constants column-major [pol, col, row], scratch, the ramp
    prefix tables [pol, fraction, piece, n]. ``ints`` (int32): split and knee indices
    [pol, fraction, row, col], then per line the devices that may need the exact dose
    (position along the line, sorted by limit) with their limits and counts: rows [pol,
    row], columns [pol, col] (line fraction), columns [pol, col] (other fraction).
    """
    size = rows * cols
    longest = max(rows, cols)
    # fl: G_RM, G_CM, CONST, CONST_CM, SAVE, TAB
    fl_at = (0, size, 2 * size, 8 * size, 10 * size, 10 * size + longest)
    # ints: SPLIT, KNEE, CAND_ROW, LIM_ROW, NC_ROW, CAND_COL, LIM_COL, NC_COL, CAND_OTH,
    # LIM_OTH, NC_OTH, end
    ints_at = (0, 6 * size, 12 * size, 14 * size, 16 * size, 16 * size + 2 * rows,
               18 * size + 2 * rows, 20 * size + 2 * rows, 20 * size + 2 * rows + 2 * cols,
               22 * size + 2 * rows + 2 * cols, 24 * size + 2 * rows + 2 * cols,
               24 * size + 2 * rows + 4 * cols)
    return fl_at, ints_at


@njit(cache=_CACHE, inline="always")
def _flush_line(fl, g_at, c_at, m, hits, h_at, ints, cand_at, lim_at, ncand, rm_base, rm_step,
                dp, f, t_at, t_len, n, bound, save_at, size, skip):
    """Give a ramp's first ``n`` pulses to the ``m`` devices of one line, ``fl[g_at:g_at + m]``.

    Below threshold (``n <= split``) a device's dose is its constant ``fl[c_at + j]`` times
    ``fl[t_at + n]``, a constant of the ramp, and a small dose takes the polynomial: one
    loop without branches or calls, vectorized. The line's candidates (``ncand`` devices
    at ``ints[cand_at:]``, sorted by their limits ``ints[lim_at:]``: the largest ``n`` for
    which a device stays below threshold with a small dose) whose limit is below ``n`` are
    redone exactly from their saved conductance and flagged in ``hits[h_at + j]`` when
    reached at or above threshold. A device's tables are found at row-major index
    ``rm_base + j * rm_step``, of device polarity ``dp`` and fraction ``f``. ``bound`` is
    ``g_max`` for a set disturbance, ``g_min`` for a reset one. Returns the line's (device,
    pulse) pairs at or above threshold (per-pulse n_HS: ``n - split`` for each device with
    ``split < n``, all of them candidates), the device at position ``skip`` left out (the
    selected device, or the selected row's stale entry of a column).
    """
    redo = 0
    while redo < ncand and ints[lim_at + redo] < n:
        fl[save_at + redo] = fl[g_at + ints[cand_at + redo]]
        redo += 1
    base = fl[t_at + n]
    # unsigned indices: known non-negative, so the loop is vectorized; no array views
    # (each would cost two atomic reference counts)
    ug, uc = np.uint64(g_at), np.uint64(c_at)
    for jj in range(m):
        j = np.uint64(jj)
        gj = fl[ug + j]
        fl[ug + j] = _fma(bound - gj, _poly_neg_expm1(fl[uc + j] * base), gj)
    exposure = 0
    for k in range(redo):
        j = ints[cand_at + k]
        rm = rm_base + j * rm_step
        table = (dp * 3 + f) * size + rm
        sj = ints[table]
        if sj < n:
            hits[h_at + j] = True
            if j != skip:
                exposure += n - sj
        const = 2 * size + dp * 3 * size + rm
        dose = _cum_dose(n, sj, ints[6 * size + table], fl[const], fl[const + size],
                         fl[const + 2 * size], fl, t_at, t_len)
        g0 = fl[save_at + k]
        fl[g_at + j] = g0 + (bound - g0) * _neg_expm1(dose)
    return exposure


@njit(cache=_CACHE, inline="always")
def _disturb_ramp(fl, ints, hits, row, col, rows, cols, n, polarity, g_min, g_max, line, other,
                  t_len):
    """Accumulated mode: give a ramp's first ``n`` pulses to its lines (and all, under V/3).

    ``fl``, ``ints`` are the tables of :func:`_crossbar_tables`, ``hits`` the flags
    row-major then column-major. The selected row lives row-major, every other row
    column-major (see :func:`_tune_crossbar`), so every line is contiguous: the row, the
    column and, under V/3, every other column (the selected row's entries there are stale
    and overwritten when the row ends, as the selected device's are when it is done).
    ``line`` and ``other`` are the bias fractions. Returns the ramp's affected (device,
    pulse) pairs: non-selected devices at or above threshold, each under the bias it
    receives (the selected row's devices under V/2, not V/3).
    """
    size = rows * cols
    fl_at, ints_at = _layout(rows, cols)
    save_at, tab = fl_at[4], fl_at[5]
    p = 0 if polarity > 0 else 1
    exposure = 0
    if other > 0.0:
        q = 1 - p  # the devices' polarity: the other ramp's thresholds and law, on grid p
        bound = g_min if polarity > 0 else g_max
        t_at = tab + (p * 3 + _F_OTHER) * 3 * t_len
        for j in range(cols):
            if j == col:
                continue
            line_at = (q * cols + j) * rows
            exposure += _flush_line(
                fl, fl_at[1] + j * rows, fl_at[3] + line_at, rows, hits, size + j * rows, ints,
                ints_at[8] + line_at, ints_at[9] + line_at, ints[ints_at[10] + q * cols + j], j,
                cols, q, _F_OTHER, t_at, t_len, n, bound, save_at, size, row,
            )
    if line > 0.0:
        bound = g_max if polarity > 0 else g_min
        t_at = tab + (p * 3 + _F_LINE) * 3 * t_len
        line_at = (p * rows + row) * cols
        exposure += _flush_line(
            fl, fl_at[0] + row * cols, fl_at[2] + p * 3 * size + row * cols, cols, hits,
            row * cols, ints, ints_at[2] + line_at, ints_at[3] + line_at,
            ints[ints_at[4] + p * rows + row], row * cols, 1, p, _F_LINE, t_at, t_len, n, bound,
            save_at, size, col,
        )
        line_at = (p * cols + col) * rows
        exposure += _flush_line(
            fl, fl_at[1] + col * rows, fl_at[3] + line_at, rows, hits, size + col * rows, ints,
            ints_at[5] + line_at, ints_at[6] + line_at, ints[ints_at[7] + p * cols + col], col,
            cols, p, _F_LINE, t_at, t_len, n, bound, save_at, size, row,
        )
    return exposure


@njit(cache=_CACHE)
def _candidate_lists(ints, limits, longest, rows, cols, row_at, col_at):
    """Per line, the devices with a limit below ``longest`` (they may leave the vectorized
    loop), sorted by limit: a counting sort of the whole crossbar, then each device
    appended to its row's list and its column's. ``row_at`` and ``col_at`` are the
    offsets in ``ints`` of the lists' positions [line, k], limits [line, k] and counts
    [line] (rows: none if ``row_at[0] < 0``)."""
    size = rows * cols
    counts = np.zeros(longest + 1, dtype=np.int64)
    for rm in range(size):
        if limits[rm] < longest:
            counts[limits[rm] + 1] += 1
    for k in range(longest):
        counts[k + 1] += counts[k]
    order = np.empty((counts[longest], 2), dtype=np.int64)  # (row, column) by limit
    for i in range(rows):
        for j in range(cols):
            limit = limits[i * cols + j]
            if limit < longest:
                order[counts[limit], 0] = i
                order[counts[limit], 1] = j
                counts[limit] += 1
    for k in range(order.shape[0]):
        i, j = order[k, 0], order[k, 1]
        rm = i * cols + j
        if row_at[0] >= 0:
            k = ints[row_at[2] + i]
            ints[row_at[0] + i * cols + k] = j
            ints[row_at[1] + i * cols + k] = limits[rm]
            ints[row_at[2] + i] = k + 1
        k = ints[col_at[2] + j]
        ints[col_at[0] + j * rows + k] = i
        ints[col_at[1] + j * rows + k] = limits[rm]
        ints[col_at[2] + j] = k + 1


@njit(cache=_CACHE, inline="always")
def _limit(const, split, fl, t_at, longest):
    """Largest ``n`` (up to ``longest``) at which a device stays below threshold with a dose
    ``const * fl[t_at + n]`` below the polynomial's range (a few steps down from the
    threshold, as a rule)."""
    n = min(split, longest)
    while n > 0 and const * fl[t_at + n] >= _POLY_MAX_DOSE:
        n -= 1
    return n


@njit(cache=_CACHE)
def _crossbar_tables(vset, vrst, law, alg, fractions, max_len, tables):
    """The flat tables of one crossbar (layout: :func:`_layout`; the conductances are left
    to the caller): split indices at the threshold and at the knee [pol, fraction, i, j],
    dose constants [pol, piece (below, above, far), i, j] and, per line, the devices that
    a ramp of some length may take out of the vectorized loop."""
    rows, cols = vset.shape
    size = rows * cols
    fl_at, ints_at = _layout(rows, cols)
    t_len = tables.shape[3]
    fl = np.empty(fl_at[5] + tables.size + 18)
    fl[fl_at[5]:fl_at[5] + tables.size] = tables.reshape(tables.size)
    geo_at = fl_at[5] + tables.size  # [pol, piece, (first term, ratio - 1, 1 / log ratio)]
    for p in range(2):
        th_ref = law[_THS] if p == 0 else law[_THR]
        step = alg[_STEP_S] if p == 0 else alg[_STEP_R]
        for k, slope in enumerate((law[_SB], law[_SA], law[_SF])):
            at = geo_at + (p * 3 + k) * 3
            fl[at] = math.exp((fractions[_F_SEL] * alg[_START] - th_ref) / slope)
            fl[at + 1] = math.expm1(fractions[_F_SEL] * step / slope)
            fl[at + 2] = slope / (fractions[_F_SEL] * step)
    ints = np.empty(ints_at[11], dtype=np.int32)
    for at in (4, 7, 10):  # the lists' counts
        ints[ints_at[at]:ints_at[at] + 2 * (rows if at == 4 else cols)] = 0
    limits = np.empty((2, 2, size), dtype=np.int32)  # [pol, line or other, device]
    knee, sa, sf = law[_KNEE], law[_SA], law[_SF]
    for p in range(2):
        th_all = vset if p == 0 else vrst
        d0 = law[_D0S] if p == 0 else law[_D0R]
        th_ref = law[_THS] if p == 0 else law[_THR]
        far = d0 * math.exp(knee * (1.0 / sa - 1.0 / sf)) if math.isfinite(knee) else 0.0
        for i in range(rows):
            for j in range(cols):
                th = th_all[i, j]
                rm = i * cols + j
                const = fl_at[2] + p * 3 * size + rm
                if math.isfinite(th):
                    fl[const] = d0 * math.exp((th_ref - th) / law[_SB])
                    fl[const + size] = d0 * math.exp((th_ref - th) / sa)
                    fl[const + 2 * size] = far * math.exp((th_ref - th) / sf) if far > 0.0 else 0.0
                else:
                    fl[const] = 0.0
                    fl[const + size] = 0.0
                    fl[const + 2 * size] = 0.0
                fl[fl_at[3] + (p * cols + j) * rows + i] = fl[const]
                for f in range(3):
                    frac = fractions[f]
                    at = (p * 3 + f) * size + rm
                    if frac <= 0.0:
                        ints[at] = max_len[p]
                        ints[ints_at[1] + at] = max_len[p]
                        continue
                    # a device disturbed by the other polarity's ramp (V/3) sits on that
                    # ramp's grid
                    grid = p if f != _F_OTHER else 1 - p
                    step = alg[_STEP_S] if grid == 0 else alg[_STEP_R]
                    split = _split_index(alg[_START], step, frac, max_len[grid], th)
                    ints[at] = split
                    ints[ints_at[1] + at] = max_len[grid] if not math.isfinite(knee) else (
                        _split_index(alg[_START], step, frac, max_len[grid], th + knee)
                    )
                    if f != _F_SEL:
                        t_at = fl_at[5] + (grid * 3 + f) * 3 * t_len
                        limits[p, f - 1, rm] = _limit(fl[const], split, fl, t_at, max_len[grid])
    for p in range(2):
        at = p * size
        columns = (ints_at[5] + at, ints_at[6] + at, ints_at[7] + p * cols)
        if fractions[_F_LINE] > 0.0:
            _candidate_lists(ints, limits[p, 0], max_len[p], rows, cols,
                             (ints_at[2] + at, ints_at[3] + at, ints_at[4] + p * rows), columns)
        if fractions[_F_OTHER] > 0.0:
            _candidate_lists(ints, limits[p, 1], max_len[1 - p], rows, cols, (-1, -1, -1),
                             (ints_at[8] + at, ints_at[9] + at, ints_at[10] + p * cols))
    return ints, fl


@njit(cache=_CACHE, inline="always")
def _settles(gk, t, tol, direction):
    """Reference decision after a pulse: 2 within tolerance, 1 passed the target, 0 neither."""
    err = gk - t
    if abs(err) <= tol:
        return 2
    if direction * err > 0.0:
        return 1
    return 0


@njit(cache=_CACHE, inline="always")
def _after(g0, dose, direction, g_min, g_max):
    return _apply(g0, dose, direction, g_min, g_max)


#: A cumulative dose this far (relative) below the dose needed cannot reach the target,
#: whatever the rounding: the exact check of that pulse is skipped.
_CLEARLY_SHORT = 1e-9


@njit(cache=_CACHE, inline="always")
def _piece_reaching(needed, split, knee, cb, ca, cf, fl, t_at, t_len):
    """The piece (0 below threshold, 1 above, 2 far) in which a ramp's cumulative dose
    reaches ``needed`` and the value that piece's prefix table reaches there."""
    t_above, t_far = t_at + t_len, t_at + 2 * t_len
    below = cb * fl[t_at + split]
    if needed <= below:
        return 0, needed / cb
    above = below + ca * (fl[t_above + knee] - fl[t_above + split])
    if needed <= above:
        return 1, fl[t_above + split] + (needed - below) / ca
    return 2, fl[t_far + knee] + (needed - above) / cf


@njit(cache=_CACHE, inline="always")
def _rough_log(x):
    """``log(x)`` for ``x >= 1`` to about 1e-5 (absolute): ``x = m 2^e`` and the series of
    ``2 atanh((m - 1) / (m + 1))`` to the 7th power; for estimates only."""
    m, e = math.frexp(x)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    return e * 0.6931471805599453 + 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 / 7.0)))


@njit(cache=_CACHE, inline="always")
def _first_reaching(needed, length, split, knee, cb, ca, cf, fl, t_at, t_len, geo_at):
    """First ``n`` in [1, length] whose cumulative dose reaches ``needed`` (it does at
    ``length``): the grid terms of each piece form a geometric series, whose inverse (a
    logarithm, roughly) estimates ``n``; a few exact comparisons with the tables settle it.
    ``fl[geo_at:]`` holds per piece the series' first term, ratio - 1 and 1 / log(ratio)."""
    piece, level = _piece_reaching(needed, split, knee, cb, ca, cf, fl, t_at, t_len)
    at = geo_at + 3 * piece
    est = _rough_log(1.0 + level * fl[at + 1] / fl[at]) * fl[at + 2]
    n = length
    if est < length:  # also false for nan
        n = max(1, math.ceil(est))
    while n > 1 and _cum_dose(n - 1, split, knee, cb, ca, cf, fl, t_at, t_len) >= needed:
        n -= 1
    while _cum_dose(n, split, knee, cb, ca, cf, fl, t_at, t_len) < needed:
        n += 1
    return n


@njit(cache=_CACHE, inline="always")
def _ramp_dose(n, split, knee, cb, ca, cf, fl, t_at, t_len, leak):
    """:func:`_cum_dose` plus the leak floor of ``n`` pulses (``leak``: per pulse; None:
    none, and the term is compiled out)."""
    dose = _cum_dose(n, split, knee, cb, ca, cf, fl, t_at, t_len)
    if leak is not None:
        dose += n * leak
    return dose


@njit(cache=_CACHE, inline="always")
def _solve_ramp(g0, t, tol, direction, length, split, knee, cb, ca, cf, fl, t_at, t_len, geo_at,
                g_min, g_max, leak):
    """Closed-form ramp of the selected device (prefix tables at ``fl[t_at:]``, see
    :func:`_cum_dose`; geometric-series constants at ``fl[geo_at:]``, see
    :func:`_first_reaching`).

    Returns the number of pulses ``n`` (1..length), the outcome (0 reached the cap,
    1 passed the target, 2 within tolerance) and the conductance after pulse ``n``.
    ``leak`` is the device's leak floor per pulse (its ``n`` pulses add ``n * leak``), or
    None for none: a separate compilation without the leak terms. With a leak the
    geometric estimate does not hold and a bisection finds the first pulse instead.
    """
    if direction > 0:
        needed = math.log((g_max - g0) / (g_max - (t - tol)))
    else:
        needed = math.log((g0 - g_min) / (t + tol - g_min))
    if _ramp_dose(length, split, knee, cb, ca, cf, fl, t_at, t_len, leak) < needed:
        n = length
    elif leak is None:
        n = _first_reaching(needed, length, split, knee, cb, ca, cf, fl, t_at, t_len, geo_at)
    else:  # the first n with a cumulative dose >= needed, by bisection
        lo, span = 0, length  # n in (lo, lo + span]
        while span > 1:
            half = span // 2
            m = lo + half
            if _ramp_dose(m, split, knee, cb, ca, cf, fl, t_at, t_len, leak) < needed:
                lo = m
            span -= half
        n = lo + 1
    # exact check with the reference's comparisons, against rounding at the boundary
    short = needed - _CLEARLY_SHORT * (1.0 + abs(needed))
    while n > 1:
        dose = _ramp_dose(n - 1, split, knee, cb, ca, cf, fl, t_at, t_len, leak)
        if dose < short:
            break
        gp = _after(g0, dose, direction, g_min, g_max)
        if _settles(gp, t, tol, direction) == 0:
            break
        n -= 1
    while True:
        dose = _ramp_dose(n, split, knee, cb, ca, cf, fl, t_at, t_len, leak)
        gn = _after(g0, dose, direction, g_min, g_max)
        outcome = _settles(gn, t, tol, direction)
        if outcome > 0 or n == length:
            return n, outcome, gn
        n += 1


@njit(cache=_CACHE)
def _walk_ramp(g0, t, tol, direction, length, th, law, alg, key, device, pulse0):
    """The selected device's ramp pulse by pulse (cycle-to-cycle variation).

    Pulse ``k``'s dose is :func:`_pulse_dose` times the cycle-to-cycle factor of the
    device's pulse ``pulse0 + k`` (1 without variation). Returns what :func:`_solve_ramp`
    returns.
    """
    step = alg[_STEP_S] if direction > 0 else alg[_STEP_R]
    d0 = law[_D0S] if direction > 0 else law[_D0R]
    s = law[_C2C]
    g = g0
    even, odd = 1.0, 1.0
    for k in range(length):
        dose = _pulse_dose(alg[_START] + k * step, th, d0, law)
        if s > 0.0:
            i = pulse0 + k
            if k == 0 or i % 2 == 0:  # one Philox call per pair of pulses
                even, odd = _c2c_pair(key, device, i // 2, s)
            dose = (odd if i % 2 else even) * dose
        g = _apply(g, dose, direction, law[_GMIN], law[_GMAX])
        outcome = _settles(g, t, tol, direction)
        if outcome > 0:
            return k + 1, outcome, g
    return length, 0, g


@njit(cache=_CACHE)
def _direct_ramp(g, vset, vrst, row, col, g0, t, tol, direction, length, law, alg, hit, key,
                 pulse0):
    """Direct mode: the selected device's ramp with every disturbance at every pulse, the
    reference engine's formulas (cycle-to-cycle factors from the device's pulse ``pulse0``
    on). Returns what :func:`_solve_ramp` returns and the affected (device, pulse) pairs."""
    cols = g.shape[1]
    step = alg[_STEP_S] if direction > 0 else alg[_STEP_R]
    th = vset[row, col] if direction > 0 else vrst[row, col]
    d0 = law[_D0S] if direction > 0 else law[_D0R]
    c2c = law[_C2C]
    gs = g0
    exposure = 0
    for k in range(length):
        amp = alg[_START] + k * step
        exposure += _disturb_pulse(g, vset, vrst, row, col, amp, direction, law, alg, hit)
        dose = _pulse_dose(amp, th, d0, law)
        if c2c > 0.0:
            dose = _c2c_factor(key, row * cols + col, pulse0 + k, c2c) * dose
        gs = _apply(gs, dose, direction, law[_GMIN], law[_GMAX])
        outcome = _settles(gs, t, tol, direction)
        if outcome > 0:
            return k + 1, outcome, gs, exposure
    return length, 0, gs, exposure


@njit(cache=_CACHE)
def _leak_ramp(fl, vset, vrst, row, col, n, polarity, law, line, other):
    """The leak floor of a ramp's ``n`` pulses on every device it disturbs: one more
    same-polarity update by ``n * leak`` where the threshold is finite. The conductances
    are those of :func:`_disturb_ramp`: the selected row row-major in ``fl[:size]``, every
    other row column-major in ``fl[size:2 * size]`` (the selected row's stale entries there
    are left alone: the row-major copy overwrites them when the row ends)."""
    rows, cols = vset.shape
    size = rows * cols
    g_min, g_max = law[_GMIN], law[_GMAX]
    moved = -math.expm1(-n * law[_LEAK])
    if line > 0.0:
        th = vset if polarity > 0 else vrst
        bound = g_max if polarity > 0 else g_min
        for j in range(cols):
            if j != col and math.isfinite(th[row, j]):
                at = row * cols + j
                fl[at] += (bound - fl[at]) * moved
        for i in range(rows):
            if i != row and math.isfinite(th[i, col]):
                at = size + col * rows + i
                fl[at] += (bound - fl[at]) * moved
    if other > 0.0:
        th = vrst if polarity > 0 else vset
        bound = g_min if polarity > 0 else g_max
        for j in range(cols):
            if j == col:
                continue
            for i in range(rows):
                if i != row and math.isfinite(th[i, j]):
                    at = size + j * rows + i
                    fl[at] += (bound - fl[at]) * moved


@njit(cache=_CACHE)
def _select(a, lo, hi, k):
    """Reorder ``a[lo:hi]`` so that ``a[k]`` holds its (k - lo)-th smallest value, smaller or
    equal ones before it and larger or equal ones after it (quickselect, in place)."""
    hi -= 1
    while lo < hi:
        mid = (lo + hi) // 2  # median of three as the pivot
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while pivot < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


#: Buckets of the histogram that locates order statistics (see :func:`_ranked`).
_BUCKETS = 1024


@njit(cache=_CACHE)
def _ranked(e, ranks, values):
    """``values[m]`` = the ``ranks[m]``-th smallest of ``e`` (non-negative, finite), exactly.

    Non-negative doubles sort as their bit patterns: one histogram of the bit patterns
    (``_BUCKETS`` equal ranges between the smallest and the largest) locates each rank's
    bucket, whose few values are then gathered and selected among.
    """
    n = e.shape[0]
    bits = e.view(np.uint64)
    lo, hi = bits.min(), bits.max()
    shift = np.uint64(0)
    while (hi - lo) >> shift >= _BUCKETS:
        shift += np.uint64(1)
    starts = np.zeros(_BUCKETS + 1, dtype=np.int64)  # values in the buckets below
    for m in range(n):
        starts[((bits[m] - lo) >> shift) + np.uint64(1)] += 1
    for b in range(_BUCKETS):
        starts[b + 1] += starts[b]
    picked = np.empty(n)
    bucket = -1
    for m in range(ranks.shape[0]):
        k = ranks[m]
        b = bucket
        if b < 0 or not (starts[b] <= k < starts[b + 1]):
            b = 0
            while starts[b + 1] <= k:
                b += 1
            bucket = b
            count = 0
            ub = np.uint64(b)
            for i in range(n):
                if (bits[i] - lo) >> shift == ub:
                    picked[count] = e[i]
                    count += 1
        _select(picked, 0, starts[b + 1] - starts[b], k - starts[b])
        values[m] = picked[k - starts[b]]


@njit(cache=_CACHE, inline="always")
def _interpolated(below, above, fraction):
    """numpy's linear interpolation between neighbouring order statistics."""
    return below + (above - below) * fraction


@njit(cache=_CACHE)
def _record(g, target, include, tol_frac, out, column):
    """Error statistics over included devices into ``out[:, column]`` (see HISTORY_KEYS)."""
    rows, cols = g.shape
    errs = np.empty(rows * cols)
    n = 0
    for i in range(rows):
        for j in range(cols):
            if include[i, j]:
                errs[n] = abs(g[i, j] - target[i, j]) / target[i, j]
                n += 1
    if n == 0:
        for k in range(5):
            out[k, column] = np.nan
        return
    e = errs[:n]
    within = 0
    total = 0.0
    largest = 0.0
    for k in range(n):
        total += e[k]
        largest = max(largest, e[k])
        within += 1 if e[k] <= tol_frac else 0
    # the order statistics on either side of the median and of the 99th percentile
    pos_median, pos_p99 = 0.5 * (n - 1), 0.99 * (n - 1)
    lo_median, lo_p99 = math.floor(pos_median), math.floor(pos_p99)
    ranks = np.array([lo_median, min(lo_median + 1, n - 1), lo_p99, min(lo_p99 + 1, n - 1)])
    values = np.empty(4)
    _ranked(e, ranks, values)
    out[0, column] = total / n
    out[1, column] = _interpolated(values[0], values[1], pos_median - lo_median)
    out[2, column] = _interpolated(values[2], values[3], pos_p99 - lo_p99)
    out[3, column] = largest
    out[4, column] = within / n


@njit(cache=_CACHE, inline="always")
def _did_not_move(g_start, g_end, t):
    """The stuck-device rule on a ramp that reached the cap (as
    :func:`xbarsim.programming.algorithm.did_not_move`, same operations)."""
    err_start = g_start - t
    return abs((g_end - t) - err_start) < STUCK_MOVE_FRACTION * (err_start + t)


@njit(cache=_CACHE)
def _tune_crossbar(g, vset, vrst, unsw, target, law, alg, lengths, tables, fractions,
                   accumulate, pulses, abandoned, stuck, pulses_per_pass, ramps_per_pass, n_hs,
                   n_hs_ever, history, rows_done, key, counts, exposures, v2_sum, extras):
    """Run every pass of write-verify on one crossbar (its arrays, in place).

    ``rows_done[0]`` counts finished rows over all passes (progress, read from Python).
    ``key`` and ``counts`` (the devices' pulse counts before the run; empty without
    cycle-to-cycle variation) key the cycle-to-cycle factors. ``exposures[p]`` counts pass
    ``p``'s affected (device, pulse) pairs, ``v2_sum`` each device's sum of squared
    amplitudes (V^2) as the selected device. ``extras`` is None without a leak floor and
    cycle-to-cycle variation: a separate compilation, free of their branches.
    """
    rows, cols = g.shape
    g_min, g_max = law[_GMIN], law[_GMAX]
    tol_frac, start = alg[_TOL], alg[_START]
    leak, c2c = law[_LEAK], law[_C2C]
    max_ramps = int(alg[_RAMPS])
    abandon = alg[_ABANDON] > 0.0
    detect = alg[_STUCK] > 0.0
    passes = lengths.shape[0]
    max_len = np.empty(2, dtype=np.int64)
    max_len[0] = lengths[:, 0].max()
    max_len[1] = lengths[:, 1].max()
    size = rows * cols
    t_len = tables.shape[3]
    if accumulate:
        # the working conductances: row-major for the selected row, column-major
        # (fl[size:2 * size]) for every other row, so that every line is contiguous
        ints, fl = _crossbar_tables(vset, vrst, law, alg, fractions, max_len, tables)
        gw = fl[:size].reshape(rows, cols)
        gw[:, :] = g
        for i in range(rows):
            for j in range(cols):
                fl[size + j * rows + i] = gw[i, j]
    else:
        ints, fl = np.empty(0, dtype=np.int32), np.empty(0)
        gw = g
    tab = _layout(rows, cols)[0][5]
    line, other = alg[_LINE], alg[_OTHER]
    v2_ramp = np.empty((2, t_len))  # [polarity, n]: a ramp's sum of squared amplitudes
    for n in range(t_len):
        v2_ramp[0, n] = _ramp_v2(n, start, alg[_STEP_S])
        v2_ramp[1, n] = _ramp_v2(n, start, alg[_STEP_R])
    ever = np.zeros((rows, cols), dtype=np.bool_)
    include = np.empty((rows, cols), dtype=np.bool_)
    for i in range(rows):
        for j in range(cols):
            include[i, j] = not unsw[i, j]
    recorded = history.shape[1] > 0  # a run asked not to keep the history passes none
    if recorded:
        _record(g, target, include, tol_frac, history, 0)
    for p in range(passes):
        hits = np.zeros(2 * size, dtype=np.bool_)  # row-major, column-major (as fl)
        hit = hits[:size].reshape(rows, cols)
        exposure = 0
        for r in range(rows):
            if accumulate:  # the row, from the column-major conductances and flags
                for j in range(cols):
                    gw[r, j] = fl[size + j * rows + r]
                    hit[r, j] = hits[size + j * rows + r]
            for c in range(cols):
                if unsw[r, c] or abandoned[r, c]:
                    continue
                t = target[r, c]
                tol = tol_frac * t
                gs = gw[r, c]
                if abs(gs - t) <= tol:
                    continue
                direction = 1 if gs < t else -1
                count = 0
                v2 = 0.0
                capped = False
                unmoved = False
                hit_sel = hit[r, c]
                for _ramp in range(max_ramps):
                    g_start = gs
                    ramps_per_pass[p] += 1
                    q = 0 if direction > 0 else 1
                    length = lengths[p, q]
                    if accumulate:
                        at = (q * 3 + _F_SEL) * size + r * cols + c
                        const = 2 * size + q * 3 * size + r * cols + c
                        if extras is None:
                            n, outcome, gs = _solve_ramp(
                                gs, t, tol, direction, length, ints[at], ints[6 * size + at],
                                fl[const], fl[const + size], fl[const + 2 * size], fl,
                                tab + (q * 3 + _F_SEL) * 3 * t_len, t_len,
                                tab + 18 * t_len + 9 * q, g_min, g_max, None,
                            )
                        else:
                            th = vset[r, c] if direction > 0 else vrst[r, c]
                            if c2c > 0.0:
                                n, outcome, gs = _walk_ramp(
                                    gs, t, tol, direction, length, th, law, alg, key,
                                    r * cols + c, counts[r, c] + pulses[r, c] + count,
                                )
                            else:
                                n, outcome, gs = _solve_ramp(
                                    gs, t, tol, direction, length, ints[at], ints[6 * size + at],
                                    fl[const], fl[const + size], fl[const + 2 * size], fl,
                                    tab + (q * 3 + _F_SEL) * 3 * t_len, t_len,
                                    tab + 18 * t_len + 9 * q, g_min, g_max,
                                    leak if math.isfinite(th) else 0.0,
                                )
                        exposure += _disturb_ramp(fl, ints, hits, r, c, rows, cols, n, direction,
                                                  g_min, g_max, line, other, t_len)
                        if extras is not None and leak > 0.0:
                            _leak_ramp(fl, vset, vrst, r, c, n, direction, law, line, other)
                    else:
                        n, outcome, gs, hs = _direct_ramp(
                            g, vset, vrst, r, c, gs, t, tol, direction, length, law, alg, hit,
                            key, counts[r, c] + pulses[r, c] + count if c2c > 0.0 else 0,
                        )
                        exposure += hs
                    count += n
                    v2 += v2_ramp[q, n]
                    if outcome == 2:
                        break
                    if outcome == 0:
                        capped = True
                        unmoved = _did_not_move(g_start, gs, t)
                        break
                    direction = -direction
                hit[r, c] = hit_sel
                gw[r, c] = gs
                pulses[r, c] += count
                v2_sum[r, c] += v2
                pulses_per_pass[p] += count
                if unmoved:
                    stuck[r, c] = True
                if capped and (abandon or (unmoved and detect)):
                    abandoned[r, c] = True
            if accumulate:  # the row, back into the column-major conductances and flags
                for j in range(cols):
                    fl[size + j * rows + r] = gw[r, j]
                    hits[size + j * rows + r] = hit[r, j]
            rows_done[0] += 1
        nh = 0
        for i in range(rows):
            for j in range(cols):
                if accumulate:
                    gw[i, j] = fl[size + j * rows + i]
                    hit[i, j] = hits[size + j * rows + i]
                if hit[i, j]:
                    nh += 1
                    ever[i, j] = True
        n_hs[p] = nh / (rows * cols)
        exposures[p] = exposure
        if recorded:
            _record(gw, target, include, tol_frac, history, p + 1)
    ne = 0
    for i in range(rows):
        for j in range(cols):
            if ever[i, j]:
                ne += 1
    n_hs_ever[0] = ne / (rows * cols)
    if accumulate:
        g[:, :] = gw


@njit(cache=_CACHE, parallel=True, nogil=True)
def _tune_batch(g, vset, vrst, unsw, target, law, alg, lengths, tables, fractions, accumulate,
                pulses, abandoned, stuck, pulses_per_pass, ramps_per_pass, n_hs, n_hs_ever, history,
                rows_done, keys, counts, exposures, v2_sum, power, extras):
    for b in prange(g.shape[0]):
        start = g[b].copy()
        _tune_crossbar(g[b], vset[b], vrst[b], unsw[b], target[b], law, alg, lengths, tables,
                       fractions, accumulate, pulses[b], abandoned[b], stuck[b], pulses_per_pass[b],
                       ramps_per_pass[b],
                       n_hs[b], n_hs_ever[b:b + 1], history[b], rows_done[b:b + 1], keys[b],
                       counts[b], exposures[b], v2_sum[b], extras)
        crossbar_pulse_power(v2_sum[b], start, target[b], unsw[b], alg[_LINE], alg[_OTHER],
                             power[b])


def ramp_tables(law: NDArray, alg: NDArray, fractions: NDArray, length: int) -> NDArray:
    """Prefix sums of the grid terms, shape (polarity, fraction, piece, length + 1).

    ``tables[p, f, s, n] = sum_{k<n} exp((fractions[f] * a_k - th_ref) / slope_s)`` with
    the slopes below threshold, above it and of the far piece, on the
    amplitude grid of polarity ``p`` (set, reset). ``th_ref`` is the mean threshold of the
    polarity whose devices the fraction disturbs: ``p`` itself, except for the V/3
    "other" devices, which see the opposite polarity.
    """
    tables = np.zeros((2, 3, 3, length + 1))
    k = np.arange(length)
    for p in range(2):
        step = alg[_STEP_S] if p == 0 else alg[_STEP_R]
        grid = alg[_START] + k * step
        for f in range(3):
            pol = p if f != _F_OTHER else 1 - p
            th_ref = law[_THS] if pol == 0 else law[_THR]
            for s, slope in enumerate((law[_SB], law[_SA], law[_SF])):
                terms = np.exp((fractions[f] * grid - th_ref) / slope)
                tables[p, f, s, 1:] = np.cumsum(terms)
    return tables


def kernel_parameters(xbars: Crossbar, algorithm: WriteVerify) -> dict[str, NDArray]:
    """Flatten the pulse law and the algorithm into the arrays the kernels take (the law's
    ``_C2C`` entry is the log-normal std of the cycle-to-cycle factor, 0 when off)."""
    law = xbars.law
    th = xbars.device.thresholds
    law_arr = np.array(
        [
            law.g_min, law.g_max, law.d0_set, law.d0_reset, law.slope_below, law.slope_above,
            th.set_mean_v, th.reset_mean_v, law.knee, law.slope_far, law.leak_dose,
            log_sigma(xbars.device.cycle_to_cycle),
        ]
    )
    alg_arr = np.array(
        [
            algorithm.tolerance,
            algorithm.ramp_start_v,
            algorithm.step_set_v,
            algorithm.step_reset_v,
            float(algorithm.max_ramps),
            1.0 if algorithm.abandon_at_cap else 0.0,
            algorithm.scheme.line_fraction,
            abs(algorithm.scheme.other_fraction),
            1.0 if algorithm.stuck_detection else 0.0,
        ]
    )
    lengths = np.array(
        [
            [algorithm.ramp_length(1, p), algorithm.ramp_length(-1, p)]
            for p in range(algorithm.passes)
        ],
        dtype=np.int64,
    )
    fractions = np.array([1.0, alg_arr[_LINE], alg_arr[_OTHER]])
    tables = ramp_tables(law_arr, alg_arr, fractions, int(lengths.max()))
    return {
        "law": law_arr,
        "alg": alg_arr,
        "lengths": lengths,
        "tables": tables,
        "fractions": fractions,
    }


def pulse_streams(xbars: Crossbar) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """The cycle-to-cycle keys per crossbar and pulse counts per device before a run; with no
    cycle-to-cycle variation, zero keys and an empty count array (never read)."""
    if xbars.device.cycle_to_cycle == 0.0:
        return np.zeros(xbars.batch, dtype=np.uint64), np.zeros((xbars.batch, 0, 0), np.int64)
    state = xbars.device_state
    return state.pulse_keys, np.ascontiguousarray(state.pulse_count)


@contextmanager
def _restore_chunksize(previous: int) -> Iterator[None]:
    try:
        yield
    finally:
        numba.set_parallel_chunksize(previous)


def program_compiled(
    xbars: Crossbar,
    targets: ArrayLike,
    algorithm: WriteVerify,
    accumulate: bool = True,
    progress: bool = False,
    chunk: int | None = None,
    keep_pulse_v2: bool = True,
    keep_history: bool = True,
    copy_conductance: bool = True,
) -> ProgramResult:
    """Program ``xbars`` in place with the compiled engine.

    Parameters
    ----------
    xbars : Crossbar
    targets : array_like, shape (rows, cols) or (batch, rows, cols)
        Target conductances (S).
    algorithm : WriteVerify
    accumulate : bool
        Closed-form ramps with disturbance applied once per ramp (True), or pulse by
        pulse (False, the "direct" engine).
    progress : bool
        Progress bar over rows x passes x crossbars, counted inside the kernel and polled
        from Python (on a terminal only).
    chunk : int, optional
        Crossbars per kernel call (default: 32 per thread; at the end of a call the
        threads wait for its slowest crossbar).
    keep_pulse_v2 : bool
        Keep the per-device squared-amplitude sums; without them each chunk's sums live in
        one scratch array, reduced per crossbar to ``pulse_power_w`` inside the kernel.
    keep_history : bool
        Record the error statistics after every pass (``history``); without them the
        history's arrays have no columns.
    copy_conductance : bool
        Give the result its own copy of the programmed conductances; False hands it the
        crossbars' array itself (one float64 per device less).
    """
    target = broadcast_targets(xbars, targets)
    batch = xbars.batch
    passes = algorithm.passes
    params = kernel_parameters(xbars, algorithm)
    g = np.ascontiguousarray(xbars.conductance, dtype=np.float64)
    vset = np.ascontiguousarray(xbars.v_set, dtype=np.float64)
    vrst = np.ascontiguousarray(xbars.v_reset, dtype=np.float64)
    unsw = np.ascontiguousarray(xbars.unswitchable, dtype=np.bool_)
    pulses = np.zeros(target.shape, dtype=np.int32)
    abandoned = np.zeros(target.shape, dtype=np.bool_)
    stuck = np.zeros(target.shape, dtype=np.bool_)
    pulses_per_pass = np.zeros((batch, passes), dtype=np.int64)
    ramps_per_pass = np.zeros((batch, passes), dtype=np.int64)
    step = chunk or max(1, 32 * numba.get_num_threads())
    v2_sum = np.zeros(target.shape if keep_pulse_v2 else (min(step, batch), *target.shape[1:]))
    power = np.zeros((batch, len(POWER_PARTS)))
    n_hs = np.zeros((batch, passes))
    n_hs_ever = np.zeros(batch)
    exposures = np.zeros((batch, passes), dtype=np.int64)
    history = np.zeros((batch, len(HISTORY_KEYS), passes + 1 if keep_history else 0))
    keys, counts = pulse_streams(xbars)
    # None: no leak floor, no cycle-to-cycle variation (the kernels' plain compilation)
    extras = None if params["law"][_LEAK] == 0.0 and params["law"][_C2C] == 0.0 else True
    name = "cpu" if accumulate else "cpu-direct"
    # crossbars take very different times (at sigma = 25 % tuning is all-or-nothing per
    # crossbar): hand them to threads one at a time rather than in static blocks
    previous_chunksize = numba.set_parallel_chunksize(1)
    rows_done = np.zeros(batch, dtype=np.int64)
    with (
        polled_progress(rows_done, batch * passes * g.shape[1], f"tuning ({name})", progress),
        _restore_chunksize(previous_chunksize),
    ):
        for lo in range(0, batch, step):
            hi = min(batch, lo + step)
            if keep_pulse_v2:
                v2_chunk = v2_sum[lo:hi]
            else:
                v2_chunk = v2_sum[: hi - lo]
                v2_chunk[...] = 0.0
            _tune_batch(
                g[lo:hi], vset[lo:hi], vrst[lo:hi], unsw[lo:hi], target[lo:hi],
                params["law"], params["alg"], params["lengths"], params["tables"],
                params["fractions"], accumulate, pulses[lo:hi], abandoned[lo:hi], stuck[lo:hi],
                pulses_per_pass[lo:hi], ramps_per_pass[lo:hi], n_hs[lo:hi], n_hs_ever[lo:hi],
                history[lo:hi], rows_done[lo:hi], keys[lo:hi], counts[lo:hi], exposures[lo:hi],
                v2_chunk, power[lo:hi], extras,
            )
    xbars.conductance[...] = g
    if xbars.device.cycle_to_cycle > 0.0:
        xbars.device_state.pulse_count[...] += pulses
    return ProgramResult(
        target=target,
        conductance=g.copy() if copy_conductance else g,
        pulses=pulses,
        abandoned=abandoned,
        stuck=stuck,
        unswitchable=unsw.copy(),
        tolerance=algorithm.tolerance,
        history={key: history[:, k, :] for k, key in enumerate(HISTORY_KEYS)},
        pulses_per_pass=pulses_per_pass,
        ramps_per_pass=ramps_per_pass,
        pulse_v2_sum=v2_sum if keep_pulse_v2 else None,
        pulse_power_w=power,
        n_hs_per_pass=n_hs,
        n_hs_ever=n_hs_ever,
        hs_exposures_per_pass=exposures,
        engine=name,
    )

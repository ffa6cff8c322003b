"""GPU engine (numba-cuda): the compiled engine's closed-form ramps, one block per crossbar.

Optional: importing xbarsim never needs a GPU; this module is imported only when
``engine="gpu"`` is chosen (or ``"auto"`` finds a CUDA device). Each CUDA block tunes one
crossbar: thread 0 walks the devices in raster order and solves each ramp in closed form
(:func:`xbarsim.programming.compiled._solve_ramp`'s algorithm), then all threads of the
block apply the ramp's disturbance to the selected row and column in parallel. Per-device
tables (threshold split indices, dose constants) are computed on the GPU, one thread per
device, with the compiled engine's formulas; disturbed-device counts (n_HS) are reduced
there too. The kernel runs one pass per launch so that the error history is recorded on
the host between passes, with the compiled engine's own statistics routine. With a leak
floor every ramp adds ``n * leak_dose`` to each dose; with cycle-to-cycle variation thread 0
walks the selected device's ramp pulse by pulse, as in the compiled engine.

Tested against the CPU engines in numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)
and, where a GPU is present, on the device.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike

from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.pulse_noise import make_multiplier
from xbarsim.programming.algorithm import STUCK_MOVE_FRACTION, WriteVerify, ramp_square_sum
from xbarsim.programming.compiled import (
    _ABANDON,
    _C2C,
    _D0R,
    _D0S,
    _F_LINE,
    _F_OTHER,
    _F_SEL,
    _GMAX,
    _GMIN,
    _KNEE,
    _LEAK,
    _LINE,
    _OTHER,
    _RAMPS,
    _SA,
    _SB,
    _SF,
    _START,
    _STEP_R,
    _STEP_S,
    _STUCK,
    _THR,
    _THS,
    _TOL,
    _record,
    _split_index,
    kernel_parameters,
    pulse_streams,
)
from xbarsim.programming.cuda_support import load_cuda
from xbarsim.programming.result import HISTORY_KEYS, ProgramResult
from xbarsim.programming.targets import broadcast_targets
from xbarsim.progress import progress_bar

cuda = load_cuda()

THREADS_PER_BLOCK = 64


@cuda.jit(device=True, inline=True)
def _apply_gpu(g, dose, polarity, g_min, g_max):
    if polarity > 0:
        return g - (g_max - g) * math.expm1(-dose)
    return g + (g - g_min) * math.expm1(-dose)


@cuda.jit(device=True, inline=True)
def _cum_dose_gpu(n, split, knee, c_below, c_above, c_far, table, q, f):
    if n <= split:
        return c_below * table[q, f, 0, n]
    if n <= knee:
        return c_below * table[q, f, 0, split] + c_above * (
            table[q, f, 1, n] - table[q, f, 1, split]
        )
    return (
        c_below * table[q, f, 0, split]
        + c_above * (table[q, f, 1, knee] - table[q, f, 1, split])
        + c_far * (table[q, f, 2, n] - table[q, f, 2, knee])
    )


@cuda.jit(device=True, inline=True)
def _settles_gpu(gk, t, tol, direction):
    err = gk - t
    if abs(err) <= tol:
        return 2
    if direction * err > 0.0:
        return 1
    return 0


#: The cycle-to-cycle factors of a pulse pair (:mod:`xbarsim.devices.pulse_noise`), compiled
#: for the device.
_c2c_pair_gpu, _ = make_multiplier(functools.partial(cuda.jit, device=True, inline=True))


@cuda.jit(device=True, inline=True)
def _pulse_dose_gpu(amplitude, th, d0, law):
    """Dose of one pulse with the leak floor (the compiled engine's ``_pulse_dose``)."""
    if not math.isfinite(th):
        return 0.0
    knee = law[_KNEE]
    if amplitude >= th + knee:
        dose = d0 * math.exp(knee / law[_SA]) * math.exp((amplitude - th - knee) / law[_SF])
    else:
        slope = law[_SB] if amplitude < th else law[_SA]
        dose = d0 * math.exp((amplitude - th) / slope)
    return dose + law[_LEAK]


@cuda.jit(device=True, inline=True)
def _leak_gpu(v_set, v_reset, polarity, n, leak):
    """Leak dose of ``n`` pulses on a device disturbed in ``polarity`` (0 set, 1 reset):
    ``n * leak`` where that threshold is finite."""
    return n * leak if math.isfinite(v_set if polarity == 0 else v_reset) else 0.0


@cuda.jit(device=True)
def _walk_ramp_gpu(g0, t, tol, direction, length, th, law, alg, key, device, pulse0, out):
    """The selected device's ramp pulse by pulse (the compiled engine's ``_walk_ramp``);
    writes n, outcome, g into ``out``."""
    step = alg[_STEP_S] if direction > 0 else alg[_STEP_R]
    d0 = law[_D0S] if direction > 0 else law[_D0R]
    s = law[_C2C]
    g = g0
    n = length
    outcome = 0
    even, odd = 1.0, 1.0
    for k in range(length):
        dose = _pulse_dose_gpu(alg[_START] + k * step, th, d0, law)
        if s > 0.0:
            i = pulse0 + k
            if k == 0 or i % 2 == 0:  # one Philox call per pair of pulses
                even, odd = _c2c_pair_gpu(key, device, i // 2, s)
            dose = (odd if i % 2 else even) * dose
        g = _apply_gpu(g, dose, direction, law[_GMIN], law[_GMAX])
        outcome = _settles_gpu(g, t, tol, direction)
        if outcome > 0:
            n = k + 1
            break
    out[0] = n
    out[1] = outcome
    out[2] = g


@cuda.jit(device=True)
def _solve_ramp_gpu(g0, t, tol, direction, length, split, knee, cb, ca, cf, table, q, g_min,
                    g_max, leak, out):
    """Closed-form ramp (see the CPU engine; ``n`` pulses add ``n * leak``); writes n,
    outcome, g into ``out``."""
    if direction > 0:
        needed = math.log((g_max - g0) / (g_max - (t - tol)))
    else:
        needed = math.log((g0 - g_min) / (t + tol - g_min))
    if _cum_dose_gpu(length, split, knee, cb, ca, cf, table, q, 0) + length * leak < needed:
        n = length
    else:
        lo = 1
        hi = length
        while lo < hi:
            mid = (lo + hi) // 2
            if _cum_dose_gpu(mid, split, knee, cb, ca, cf, table, q, 0) + mid * leak >= needed:
                hi = mid
            else:
                lo = mid + 1
        n = lo
    while n > 1:
        dose = _cum_dose_gpu(n - 1, split, knee, cb, ca, cf, table, q, 0) + (n - 1) * leak
        gp = _apply_gpu(g0, dose, direction, g_min, g_max)
        if _settles_gpu(gp, t, tol, direction) == 0:
            break
        n -= 1
    while True:
        dose = _cum_dose_gpu(n, split, knee, cb, ca, cf, table, q, 0) + n * leak
        gn = _apply_gpu(g0, dose, direction, g_min, g_max)
        outcome = _settles_gpu(gn, t, tol, direction)
        if outcome > 0 or n == length:
            break
        n += 1
    out[0] = n
    out[1] = outcome
    out[2] = gn


@cuda.jit
def _pass_kernel(g, unsw, target, splits, knees, consts, law, alg, lengths_pass, table,
                 pulses, abandoned, stuck, pass_pulses, hit, vset, vrst, keys, counts,
                 pass_exposures, v2_sum):
    """One pass of write-verify; block b tunes crossbar b.

    ``vset``, ``vrst`` (thresholds, V), ``keys`` and ``counts`` (pulse counts before the
    run) serve the leak floor and cycle-to-cycle variation only. ``pass_exposures[b]``
    receives the pass's affected (device, pulse) pairs, one atomic add per thread.

    Every thread decides by itself whether the next device needs tuning (the barrier that
    ended the last tuned device made its writes visible to the whole block), so devices
    already within tolerance cost no barrier; a device that needs tuning costs one barrier
    before thread 0 changes it, and each ramp two (after thread 0's solve and after the
    block's line update).
    """
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    rows = g.shape[1]
    cols = g.shape[2]
    g_min = law[_GMIN]
    g_max = law[_GMAX]
    line_f = alg[_LINE]
    other_f = alg[_OTHER]
    tol_frac = alg[_TOL]
    ramps = int(alg[_RAMPS])
    leak = law[_LEAK]
    walk = law[_C2C] > 0.0
    exposure = 0
    shared = cuda.shared.array(2, dtype=np.float64)  # pulses of the ramp, outcome
    solved = cuda.local.array(3, dtype=np.float64)
    for r in range(rows):
        for c in range(cols):
            if unsw[b, r, c] or abandoned[b, r, c]:
                continue
            t = target[b, r, c]
            if abs(g[b, r, c] - t) <= tol_frac * t:
                continue
            direction = 1 if g[b, r, c] < t else -1
            count = 0
            cuda.syncthreads()  # every thread has read the device before thread 0 moves it
            g_start = 0.0
            for _ramp in range(ramps):
                q = 0 if direction > 0 else 1
                if tid == 0 and walk:
                    g_start = g[b, r, c]
                    pulse0 = pulses[b, r, c] + count
                    if law[_C2C] > 0.0:
                        pulse0 += counts[b, r, c]
                    _walk_ramp_gpu(
                        g[b, r, c], t, tol_frac * t, direction, lengths_pass[q],
                        vset[b, r, c] if direction > 0 else vrst[b, r, c], law, alg, keys[b],
                        r * cols + c, pulse0, solved,
                    )
                    g[b, r, c] = solved[2]
                    shared[0] = solved[0]
                    shared[1] = solved[1]
                elif tid == 0:
                    g_start = g[b, r, c]
                    _solve_ramp_gpu(
                        g[b, r, c], t, tol_frac * t, direction, lengths_pass[q],
                        splits[b, q, _F_SEL, r, c], knees[b, q, _F_SEL, r, c],
                        consts[b, q, 0, r, c], consts[b, q, 1, r, c], consts[b, q, 2, r, c],
                        table, q, g_min, g_max,
                        _leak_gpu(vset[b, r, c], vrst[b, r, c], q, 1, leak) if leak > 0.0 else 0.0,
                        solved,
                    )
                    g[b, r, c] = solved[2]
                    v2_sum[b, r, c] += _ramp_v2_gpu(
                        int(solved[0]), alg[_START], alg[_STEP_S] if direction > 0 else alg[_STEP_R]
                    )
                    shared[0] = solved[0]
                    shared[1] = solved[1]
                cuda.syncthreads()
                n = int(shared[0])
                outcome = int(shared[1])
                count += n
                if line_f > 0.0:
                    for j in range(tid, cols, nthreads):
                        if j != c:
                            s = splits[b, q, _F_LINE, r, j]
                            dose = _cum_dose_gpu(n, s, knees[b, q, _F_LINE, r, j],
                                                 consts[b, q, 0, r, j], consts[b, q, 1, r, j],
                                                 consts[b, q, 2, r, j], table, q, _F_LINE)
                            if leak > 0.0:
                                dose += _leak_gpu(vset[b, r, j], vrst[b, r, j], q, n, leak)
                            g[b, r, j] = _apply_gpu(g[b, r, j], dose, direction, g_min, g_max)
                            if s < n:
                                hit[b, r, j] = True
                                exposure += n - s
                    for i in range(tid, rows, nthreads):
                        if i != r:
                            s = splits[b, q, _F_LINE, i, c]
                            dose = _cum_dose_gpu(n, s, knees[b, q, _F_LINE, i, c],
                                                 consts[b, q, 0, i, c], consts[b, q, 1, i, c],
                                                 consts[b, q, 2, i, c], table, q, _F_LINE)
                            if leak > 0.0:
                                dose += _leak_gpu(vset[b, i, c], vrst[b, i, c], q, n, leak)
                            g[b, i, c] = _apply_gpu(g[b, i, c], dose, direction, g_min, g_max)
                            if s < n:
                                hit[b, i, c] = True
                                exposure += n - s
                if other_f > 0.0:
                    o = 1 - q
                    for idx in range(tid, rows * cols, nthreads):
                        i = idx // cols
                        j = idx - i * cols
                        if i != r and j != c:
                            s = splits[b, o, _F_OTHER, i, j]
                            dose = _cum_dose_gpu(n, s, knees[b, o, _F_OTHER, i, j],
                                                 consts[b, o, 0, i, j], consts[b, o, 1, i, j],
                                                 consts[b, o, 2, i, j], table, q, _F_OTHER)
                            if leak > 0.0:
                                dose += _leak_gpu(vset[b, i, j], vrst[b, i, j], o, n, leak)
                            g[b, i, j] = _apply_gpu(g[b, i, j], dose, -direction, g_min,
                                                    g_max)
                            if s < n:
                                hit[b, i, j] = True
                                exposure += n - s
                cuda.syncthreads()
                if outcome != 1:
                    if tid == 0 and outcome == 0:
                        err_start = g_start - t
                        unmoved = (
                            abs((g[b, r, c] - t) - err_start)
                            < STUCK_MOVE_FRACTION * (err_start + t)
                        )
                        if unmoved:
                            stuck[b, r, c] = True
                        if alg[_ABANDON] > 0.0 or (unmoved and alg[_STUCK] > 0.0):
                            abandoned[b, r, c] = True
                    break
                direction = -direction
            if tid == 0:
                pulses[b, r, c] += count
                pass_pulses[b] += count
    cuda.atomic.add(pass_exposures, b, exposure)


@njit(parallel=True, cache=True)
def _record_all(g, target, include, tol_frac, history, column):
    """Per-crossbar error statistics (the compiled engine's), parallel over crossbars."""
    for b in prange(g.shape[0]):
        _record(g[b], target[b], include[b], tol_frac, history[b], column)


# the CPU engine's own function, compiled for the device: one definition of the split index
_split_index_gpu = cuda.jit(device=True, inline=True)(_split_index.py_func)
# and the one closed form of a ramp's squared amplitudes
_ramp_v2_gpu = cuda.jit(device=True, inline=True)(ramp_square_sum)


@cuda.jit
def _tables_kernel(vset, vrst, law, alg, fractions, max_len, splits, knees, consts):
    """Per-device split indices (threshold, knee) and dose constants (the CPU engine's
    ``_crossbar_tables``), one thread per device."""
    batch, rows, cols = vset.shape
    idx = cuda.grid(1)
    if idx >= batch * rows * cols:
        return
    b = idx // (rows * cols)
    rest = idx - b * rows * cols
    i = rest // cols
    j = rest - i * cols
    knee = law[_KNEE]
    sa = law[_SA]
    sf = law[_SF]
    for p in range(2):
        th = vset[b, i, j] if p == 0 else vrst[b, i, j]
        d0 = law[_D0S] if p == 0 else law[_D0R]
        th_ref = law[_THS] if p == 0 else law[_THR]
        if math.isfinite(th):
            consts[b, p, 0, i, j] = d0 * math.exp((th_ref - th) / law[_SB])
            consts[b, p, 1, i, j] = d0 * math.exp((th_ref - th) / sa)
        else:
            consts[b, p, 0, i, j] = 0.0
            consts[b, p, 1, i, j] = 0.0
        if math.isfinite(th) and math.isfinite(knee):
            consts[b, p, 2, i, j] = (
                d0 * math.exp(knee * (1.0 / sa - 1.0 / sf)) * math.exp((th_ref - th) / sf)
            )
        else:
            consts[b, p, 2, i, j] = 0.0
        for f in range(3):
            frac = fractions[f]
            if frac <= 0.0:
                splits[b, p, f, i, j] = max_len[p]
                knees[b, p, f, i, j] = max_len[p]
                continue
            grid = p if f != _F_OTHER else 1 - p
            step = alg[_STEP_S] if grid == 0 else alg[_STEP_R]
            splits[b, p, f, i, j] = _split_index_gpu(alg[_START], step, frac, max_len[grid], th)
            knees[b, p, f, i, j] = _split_index_gpu(
                alg[_START], step, frac, max_len[grid], th + knee
            )


@cuda.jit
def _collect_hits(hit, ever, counts):
    """Count the devices disturbed above threshold in this pass (per crossbar), fold them
    into ``ever`` and clear ``hit`` for the next pass; block b handles crossbar b."""
    b = cuda.blockIdx.x
    rows = hit.shape[1]
    cols = hit.shape[2]
    for idx in range(cuda.threadIdx.x, rows * cols, cuda.blockDim.x):
        i = idx // cols
        j = idx - i * cols
        if hit[b, i, j]:
            cuda.atomic.add(counts, b, 1)
            ever[b, i, j] = True
            hit[b, i, j] = False


def program_gpu(
    xbars: Crossbar, targets: ArrayLike, algorithm: WriteVerify, progress: bool = False,
    keep_history: bool = True,
) -> ProgramResult:
    """Program ``xbars`` in place on a CUDA GPU (one block per crossbar).

    Same parameters and result as :func:`xbarsim.programming.compiled.program_compiled`;
    without ``keep_history`` the conductances are not copied to the host after every pass
    and the history's arrays have no columns.
    """
    target = broadcast_targets(xbars, targets)
    batch = xbars.batch
    passes = algorithm.passes
    params = kernel_parameters(xbars, algorithm)
    lengths = params["lengths"]
    max_len = np.array([lengths[:, 0].max(), lengths[:, 1].max()], dtype=np.int64)
    unsw = np.ascontiguousarray(xbars.unswitchable)
    rows, cols = target.shape[1:]
    d_g = cuda.to_device(np.ascontiguousarray(xbars.conductance, dtype=np.float64))
    d_unsw = cuda.to_device(unsw)
    d_target = cuda.to_device(target)
    d_law = cuda.to_device(params["law"])
    d_alg = cuda.to_device(params["alg"])
    d_splits = cuda.device_array((batch, 2, 3, rows, cols), dtype=np.int64)
    d_knees = cuda.device_array((batch, 2, 3, rows, cols), dtype=np.int64)
    d_consts = cuda.device_array((batch, 2, 3, rows, cols), dtype=np.float64)
    devices = batch * rows * cols
    d_vset = cuda.to_device(np.ascontiguousarray(xbars.v_set, dtype=np.float64))
    d_vrst = cuda.to_device(np.ascontiguousarray(xbars.v_reset, dtype=np.float64))
    keys, counts = pulse_streams(xbars)
    d_keys, d_counts_before = cuda.to_device(keys), cuda.to_device(counts)
    _tables_kernel[(devices + 255) // 256, 256](
        d_vset,
        d_vrst,
        d_law, d_alg, cuda.to_device(params["fractions"]), cuda.to_device(max_len),
        d_splits, d_knees, d_consts,
    )
    d_table = cuda.to_device(params["tables"])
    d_pulses = cuda.to_device(np.zeros(target.shape, dtype=np.int32))
    d_abandoned = cuda.to_device(np.zeros(target.shape, dtype=np.bool_))
    d_stuck = cuda.to_device(np.zeros(target.shape, dtype=np.bool_))
    d_v2_sum = cuda.to_device(np.zeros(target.shape))
    pulses_per_pass = np.zeros((batch, passes), dtype=np.int64)
    n_hs = np.zeros((batch, passes))
    exposures = np.zeros((batch, passes), dtype=np.int64)
    d_hit = cuda.to_device(np.zeros(target.shape, dtype=np.bool_))
    d_ever = cuda.to_device(np.zeros(target.shape, dtype=np.bool_))
    history = np.zeros((batch, len(HISTORY_KEYS), passes + 1 if keep_history else 0))
    tol_frac = float(algorithm.tolerance)
    include = ~unsw  # the one tuning-error exclusion rule: the fault map
    if keep_history:
        _record_all(d_g.copy_to_host(), target, include, tol_frac, history, 0)
    with progress_bar(passes, "tuning (gpu)", progress) as advance:
        for p in range(passes):
            d_pass_pulses = cuda.to_device(np.zeros(batch, dtype=np.int64))
            d_exposures = cuda.to_device(np.zeros(batch, dtype=np.int64))
            d_len = cuda.to_device(np.ascontiguousarray(lengths[p]))
            _pass_kernel[batch, THREADS_PER_BLOCK](
                d_g, d_unsw, d_target, d_splits, d_knees, d_consts, d_law, d_alg, d_len,
                d_table,
                d_pulses, d_abandoned, d_stuck, d_pass_pulses, d_hit, d_vset, d_vrst, d_keys,
                d_counts_before, d_exposures, d_v2_sum,
            )
            d_counts = cuda.to_device(np.zeros(batch, dtype=np.int64))
            _collect_hits[batch, THREADS_PER_BLOCK](d_hit, d_ever, d_counts)
            pulses_per_pass[:, p] = d_pass_pulses.copy_to_host()
            exposures[:, p] = d_exposures.copy_to_host()
            n_hs[:, p] = d_counts.copy_to_host() / (rows * cols)
            if keep_history:
                _record_all(d_g.copy_to_host(), target, include, tol_frac, history, p + 1)
            advance(1)
    g = d_g.copy_to_host()
    xbars.conductance[...] = g
    pulses = d_pulses.copy_to_host()
    if xbars.device.cycle_to_cycle > 0.0:
        xbars.device_state.pulse_count[...] += pulses
    return ProgramResult(
        target=target,
        conductance=g.copy(),
        pulses=pulses,
        abandoned=d_abandoned.copy_to_host(),
        unswitchable=unsw.copy(),
        tolerance=algorithm.tolerance,
        history={key: history[:, k, :] for k, key in enumerate(HISTORY_KEYS)},
        pulses_per_pass=pulses_per_pass,
        n_hs_per_pass=n_hs,
        n_hs_ever=d_ever.copy_to_host().reshape(batch, -1).mean(axis=1),
        hs_exposures_per_pass=exposures,
        engine="gpu",
        stuck=d_stuck.copy_to_host(),
        pulse_v2_sum=d_v2_sum.copy_to_host(),
    )

"""GPU engine (numba-cuda): the compiled engine's closed-form ramps, one block per crossbar.

Optional: importing xbarsim never needs a GPU; this module is imported only when
``engine="gpu"`` is chosen (or ``"auto"`` finds a CUDA device). Each CUDA block tunes one
crossbar: thread 0 walks the devices in raster order and solves each ramp in closed form
(:func:`xbarsim.programming.compiled._solve_ramp`'s algorithm), then all threads of the
block apply the ramp's disturbance to the selected row and column in parallel. Per-device
tables (threshold split indices, dose constants) are computed on the CPU by the compiled
engine's routine and copied over. The kernel runs one pass per launch so that the error
history is recorded on the host between passes, with the same statistics as the other
engines.

Tested against the CPU engines in numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)
and, where a GPU is present, on the device.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike

from xbarsim.crossbar.array import Crossbar
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.compiled import (
    _ABANDON,
    _F_LINE,
    _F_OTHER,
    _F_SEL,
    _GMAX,
    _GMIN,
    _LINE,
    _OTHER,
    _RAMPS,
    _TOL,
    _device_tables,
    kernel_parameters,
)
from xbarsim.programming.cuda_support import load_cuda
from xbarsim.programming.result import HISTORY_KEYS, ProgramResult, error_statistics
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
def _cum_dose_gpu(n, split, c_below, c_above, table, q, f):
    if n <= split:
        return c_below * table[q, f, 0, n]
    return c_below * table[q, f, 0, split] + c_above * (table[q, f, 1, n] - table[q, f, 1, split])


@cuda.jit(device=True, inline=True)
def _settles_gpu(gk, t, tol, direction):
    err = gk - t
    if abs(err) <= tol:
        return 2
    if direction * err > 0.0:
        return 1
    return 0


@cuda.jit(device=True)
def _solve_ramp_gpu(g0, t, tol, direction, length, split, cb, ca, table, q, g_min, g_max, out):
    """Closed-form ramp (see the CPU engine); writes n, outcome, g into ``out``."""
    if direction > 0:
        needed = math.log((g_max - g0) / (g_max - (t - tol)))
    else:
        needed = math.log((g0 - g_min) / (t + tol - g_min))
    if _cum_dose_gpu(length, split, cb, ca, table, q, 0) < needed:
        n = length
    else:
        lo = 1
        hi = length
        while lo < hi:
            mid = (lo + hi) // 2
            if _cum_dose_gpu(mid, split, cb, ca, table, q, 0) >= needed:
                hi = mid
            else:
                lo = mid + 1
        n = lo
    while n > 1:
        gp = _apply_gpu(g0, _cum_dose_gpu(n - 1, split, cb, ca, table, q, 0), direction,
                        g_min, g_max)
        if _settles_gpu(gp, t, tol, direction) == 0:
            break
        n -= 1
    while True:
        gn = _apply_gpu(g0, _cum_dose_gpu(n, split, cb, ca, table, q, 0), direction,
                        g_min, g_max)
        outcome = _settles_gpu(gn, t, tol, direction)
        if outcome > 0 or n == length:
            break
        n += 1
    out[0] = n
    out[1] = outcome
    out[2] = gn


@cuda.jit
def _pass_kernel(g, unsw, target, splits, consts, law, alg, lengths_pass, table,
                 pulses, abandoned, pass_pulses, hit):
    """One pass of write-verify; block b tunes crossbar b."""
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    rows = g.shape[1]
    cols = g.shape[2]
    g_min = law[_GMIN]
    g_max = law[_GMAX]
    line_f = alg[_LINE]
    other_f = alg[_OTHER]
    shared = cuda.shared.array(4, dtype=np.float64)  # n, outcome, direction, active
    solved = cuda.local.array(3, dtype=np.float64)
    for r in range(rows):
        for c in range(cols):
            if tid == 0:
                active = 0.0
                if not (unsw[b, r, c] or abandoned[b, r, c]):
                    t = target[b, r, c]
                    if abs(g[b, r, c] - t) > alg[_TOL] * t:
                        active = 1.0
                shared[3] = active
                shared[2] = 1.0 if g[b, r, c] < target[b, r, c] else -1.0
            cuda.syncthreads()
            if shared[3] > 0.0:
                count = 0
                for _ramp in range(int(alg[_RAMPS])):
                    if tid == 0:
                        t = target[b, r, c]
                        direction = int(shared[2])
                        q = 0 if direction > 0 else 1
                        _solve_ramp_gpu(
                            g[b, r, c], t, alg[_TOL] * t, direction, lengths_pass[q],
                            splits[b, q, _F_SEL, r, c], consts[b, q, 0, r, c],
                            consts[b, q, 1, r, c], table, q, g_min, g_max, solved,
                        )
                        g[b, r, c] = solved[2]
                        shared[0] = solved[0]
                        shared[1] = solved[1]
                    cuda.syncthreads()
                    n = int(shared[0])
                    direction = int(shared[2])
                    q = 0 if direction > 0 else 1
                    count += n
                    if line_f > 0.0:
                        for j in range(tid, cols, nthreads):
                            if j != c:
                                s = splits[b, q, _F_LINE, r, j]
                                dose = _cum_dose_gpu(n, s, consts[b, q, 0, r, j],
                                                     consts[b, q, 1, r, j], table, q, _F_LINE)
                                g[b, r, j] = _apply_gpu(g[b, r, j], dose, direction, g_min, g_max)
                                if s < n:
                                    hit[b, r, j] = True
                        for i in range(tid, rows, nthreads):
                            if i != r:
                                s = splits[b, q, _F_LINE, i, c]
                                dose = _cum_dose_gpu(n, s, consts[b, q, 0, i, c],
                                                     consts[b, q, 1, i, c], table, q, _F_LINE)
                                g[b, i, c] = _apply_gpu(g[b, i, c], dose, direction, g_min, g_max)
                                if s < n:
                                    hit[b, i, c] = True
                    if other_f > 0.0:
                        o = 1 - q
                        for idx in range(tid, rows * cols, nthreads):
                            i = idx // cols
                            j = idx - i * cols
                            if i != r and j != c:
                                s = splits[b, o, _F_OTHER, i, j]
                                dose = _cum_dose_gpu(n, s, consts[b, o, 0, i, j],
                                                     consts[b, o, 1, i, j], table, q, _F_OTHER)
                                g[b, i, j] = _apply_gpu(g[b, i, j], dose, -direction, g_min,
                                                        g_max)
                                if s < n:
                                    hit[b, i, j] = True
                    cuda.syncthreads()
                    outcome = int(shared[1])
                    if outcome != 1:
                        if tid == 0 and outcome == 0 and alg[_ABANDON] > 0.0:
                            abandoned[b, r, c] = True
                        break
                    if tid == 0:
                        shared[2] = -shared[2]
                    cuda.syncthreads()
                if tid == 0:
                    pulses[b, r, c] += count
                    pass_pulses[b] += count
            cuda.syncthreads()


@njit(parallel=True, cache=True)
def _all_device_tables(vset, vrst, law, alg, fractions, max_len):
    batch, rows, cols = vset.shape
    splits = np.empty((batch, 2, 3, rows, cols), dtype=np.int64)
    consts = np.empty((batch, 2, 2, rows, cols))
    for b in prange(batch):
        s, c = _device_tables(vset[b], vrst[b], law, alg, fractions, max_len)
        splits[b] = s
        consts[b] = c
    return splits, consts


def program_gpu(
    xbars: Crossbar, targets: ArrayLike, algorithm: WriteVerify, progress: bool = False
) -> ProgramResult:
    """Program ``xbars`` in place on a CUDA GPU (one block per crossbar).

    Same parameters and result as :func:`xbarsim.programming.compiled.program_compiled`.
    """
    target = broadcast_targets(xbars, targets)
    batch = xbars.batch
    passes = algorithm.passes
    params = kernel_parameters(xbars, algorithm)
    lengths = params["lengths"]
    max_len = np.array([lengths[:, 0].max(), lengths[:, 1].max()], dtype=np.int64)
    splits, consts = _all_device_tables(
        np.ascontiguousarray(xbars.v_set), np.ascontiguousarray(xbars.v_reset),
        params["law"], params["alg"], params["fractions"], max_len,
    )
    unsw = np.ascontiguousarray(xbars.unswitchable)
    d_g = cuda.to_device(np.ascontiguousarray(xbars.conductance, dtype=np.float64))
    d_unsw = cuda.to_device(unsw)
    d_target = cuda.to_device(target)
    d_splits = cuda.to_device(splits)
    d_consts = cuda.to_device(consts)
    d_law = cuda.to_device(params["law"])
    d_alg = cuda.to_device(params["alg"])
    d_table = cuda.to_device(params["tables"])
    d_pulses = cuda.to_device(np.zeros(target.shape, dtype=np.int64))
    d_abandoned = cuda.to_device(np.zeros(target.shape, dtype=np.bool_))
    pulses_per_pass = np.zeros((batch, passes), dtype=np.int64)
    n_hs = np.zeros((batch, passes))
    ever = np.zeros(target.shape, dtype=bool)
    history = {key: np.zeros((batch, passes + 1)) for key in HISTORY_KEYS}

    def record(column: int, g: np.ndarray) -> None:
        stats = error_statistics(np.abs(g - target) / target, algorithm.tolerance, ~unsw)
        for key in HISTORY_KEYS:
            history[key][:, column] = stats[key]

    record(0, d_g.copy_to_host())
    with progress_bar(passes, "tuning (gpu)", progress) as advance:
        for p in range(passes):
            d_hit = cuda.to_device(np.zeros(target.shape, dtype=np.bool_))
            d_pass_pulses = cuda.to_device(np.zeros(batch, dtype=np.int64))
            d_len = cuda.to_device(np.ascontiguousarray(lengths[p]))
            _pass_kernel[batch, THREADS_PER_BLOCK](
                d_g, d_unsw, d_target, d_splits, d_consts, d_law, d_alg, d_len, d_table,
                d_pulses, d_abandoned, d_pass_pulses, d_hit,
            )
            hit = d_hit.copy_to_host()
            pulses_per_pass[:, p] = d_pass_pulses.copy_to_host()
            n_hs[:, p] = hit.reshape(batch, -1).mean(axis=1)
            ever |= hit
            record(p + 1, d_g.copy_to_host())
            advance(1)
    g = d_g.copy_to_host()
    xbars.conductance[...] = g
    return ProgramResult(
        target=target,
        conductance=g.copy(),
        pulses=d_pulses.copy_to_host(),
        abandoned=d_abandoned.copy_to_host(),
        unswitchable=unsw.copy(),
        tolerance=algorithm.tolerance,
        history=history,
        pulses_per_pass=pulses_per_pass,
        n_hs_per_pass=n_hs,
        n_hs_ever=ever.reshape(batch, -1).mean(axis=1),
        engine="gpu",
    )

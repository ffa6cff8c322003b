"""Counter-based per-pulse random numbers for cycle-to-cycle variation (layer 1).

Every write pulse on a selected device multiplies its dose by a log-normal factor of mean 1
and relative std ``c2c`` (:attr:`DeviceConfig.cycle_to_cycle`). The factor is not drawn from
a sequential generator but computed from a counter: Philox-4x32 with 10 rounds (Salmon et
al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) keyed by the crossbar's 64-bit
key, applied to the counter (pulse index low and high words, device index, 0). So the factor
of a pulse depends only on (crossbar, device, that device's pulse count), never on the
engine, the batch or the order devices are tuned in: the reference engine (numpy), the
compiled engine (numba) and the GPU engine (numba-cuda) see the same numbers.

Arithmetic is 32-bit in unsigned 64-bit containers: every product of two 32-bit words fits,
so nothing overflows (no warnings in numpy, same bits in numba and on the GPU).
:func:`philox_words` is plain Python on ``numpy.uint64`` values and works elementwise on
arrays; the engines compile it (:func:`make_multiplier`) with their own decorator.

The four output words give two uniforms in (0, 1] of 53 bits each and, by Box-Muller,
one standard normal ``z``; the factor is ``exp(s z - s^2 / 2)`` with ``s^2 = log(1 + c2c^2)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_ZERO = np.uint64(0)
_HI27 = np.uint64(5)  # 32 - 27 bits dropped from the first word of a uniform
_HI26 = np.uint64(6)  # 32 - 26 bits dropped from the second
_TWO26 = 67108864.0  # 2**26
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53
_ROUNDS = 10


def philox_words(key, device, pulse):
    """Philox-4x32-10 of counter (pulse low, pulse high, device, 0) under ``key``.

    Parameters
    ----------
    key : numpy.uint64 (or array)
        The crossbar's key (both 32-bit halves are used).
    device : numpy.uint64 (or array)
        Device index in its crossbar (row-major, below 2**32).
    pulse : numpy.uint64 (or array)
        The device's pulse count.

    Returns
    -------
    tuple of four numpy.uint64 (or arrays)
        The output words, each below 2**32.
    """
    k0 = key & _MASK32
    k1 = key >> _SHIFT32
    c0 = pulse & _MASK32
    c1 = pulse >> _SHIFT32
    c2 = device & _MASK32
    c3 = _ZERO
    for _ in range(_ROUNDS):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = (
            (p1 >> _SHIFT32) ^ c1 ^ k0,
            p1 & _MASK32,
            (p0 >> _SHIFT32) ^ c3 ^ k1,
            p0 & _MASK32,
        )
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


def log_sigma(c2c: float) -> float:
    """Std ``s`` of the log of a mean-1 log-normal factor of relative std ``c2c``."""
    return math.sqrt(math.log1p(c2c * c2c))


def multipliers(
    key: int | np.uint64, device: ArrayLike, pulse: ArrayLike, c2c: float
) -> NDArray[np.float64]:
    """Cycle-to-cycle dose factors (numpy, vectorized over ``device`` and ``pulse``).

    Parameters
    ----------
    key : int
        The crossbar's 64-bit key (:meth:`xbarsim.crossbar.state.DeviceState.pulse_keys`).
    device, pulse : array_like of int
        Device index (row-major) and that device's pulse count, broadcast together.
    c2c : float
        Relative std of the factor (dimensionless, >= 0).

    Returns
    -------
    ndarray of float64
        Log-normal factors with mean 1 (all 1 when ``c2c`` is 0).
    """
    d, n = np.broadcast_arrays(
        np.atleast_1d(np.asarray(device, dtype=np.uint64)),
        np.atleast_1d(np.asarray(pulse, dtype=np.uint64)),
    )
    if c2c == 0.0:
        return np.ones(d.shape)
    w0, w1, w2, w3 = philox_words(np.full(d.shape, key, dtype=np.uint64), d, n)
    u1 = ((w0 >> _HI27).astype(np.float64) * _TWO26 + (w1 >> _HI26) + 1.0) * _TWO_M53
    u2 = ((w2 >> _HI27).astype(np.float64) * _TWO26 + (w3 >> _HI26) + 1.0) * _TWO_M53
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)
    s = log_sigma(c2c)
    return np.exp(s * z - 0.5 * s * s)


def make_multiplier(jit: Callable[[Callable], Callable]) -> Callable:
    """The scalar dose factor compiled with ``jit`` (numba ``njit`` or a CUDA device jit).

    The returned ``multiplier(key, device, pulse, s)`` takes the key (uint64), device index
    and pulse count (integers) and ``s`` = :func:`log_sigma` and computes what
    :func:`multipliers` does, with ``math`` functions.
    """
    words = jit(philox_words)

    def multiplier(key, device, pulse, s):
        w0, w1, w2, w3 = words(key, np.uint64(device), np.uint64(pulse))
        u1 = (float(w0 >> _HI27) * _TWO26 + float(w1 >> _HI26) + 1.0) * _TWO_M53
        u2 = (float(w2 >> _HI27) * _TWO26 + float(w3 >> _HI26) + 1.0) * _TWO_M53
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        return math.exp(s * z - 0.5 * s * s)

    return jit(multiplier)

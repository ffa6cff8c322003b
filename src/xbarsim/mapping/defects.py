"""Hardware-side stuck-device mitigations on conductance pairs (layer 4; thesis 2.4.2).

Pair retuning (technique 1): when write-verify finds one device of a pair stuck at ``g``,
the partner is retuned so the pair still carries the target difference
``D = G+_target - G-_target``::

    G+ stuck at g  =>  G- := clip(g - D, g_low, g_high)
    G- stuck at g  =>  G+ := clip(g + D, g_low, g_high)

The thesis prints six formulas (stuck at G_max, G_min or G_x, on either side); all
collapse to this rule. Nothing can be done when both devices are stuck.

Compensation column (technique 2): one extra pair per neuron per kernel, driven at the
full input (x = 1), programmed to cancel the mean output shift the remaining defects cause
on calibration data (:func:`compensation_pairs`; the algorithm is the spec's default, an
**assumption**: the thesis does not print it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class RetunedPairs:
    """New targets after pair retuning.

    Attributes
    ----------
    target_plus, target_minus : ndarray (S)
        Targets with the partners of single stuck devices replaced.
    retuned_plus, retuned_minus : ndarray of bool
        Devices whose target changed (partners of a stuck device).
    both_stuck : ndarray of bool
        Pairs with both devices stuck (not correctable).
    """

    target_plus: NDArray[np.float64]
    target_minus: NDArray[np.float64]
    retuned_plus: NDArray[np.bool_]
    retuned_minus: NDArray[np.bool_]
    both_stuck: NDArray[np.bool_]

    @property
    def pairs_retuned(self) -> int:
        """Number of retuned pairs."""
        return int(self.retuned_plus.sum() + self.retuned_minus.sum())


def retune_pairs(
    target_plus: ArrayLike,
    target_minus: ArrayLike,
    value_plus: ArrayLike,
    value_minus: ArrayLike,
    stuck_plus: ArrayLike,
    stuck_minus: ArrayLike,
    g_low: float,
    g_high: float,
) -> RetunedPairs:
    """Apply the pair-retuning rule (module docstring) elementwise.

    Parameters
    ----------
    target_plus, target_minus : array_like
        Target conductances of the pairs (S).
    value_plus, value_minus : array_like
        Conductances the devices hold (S); read where stuck.
    stuck_plus, stuck_minus : array_like of bool
        Devices found stuck by write-verify.
    g_low, g_high : float
        Mapping range (S) the retuned partner is clipped into.

    Returns
    -------
    RetunedPairs
    """
    tp = np.asarray(target_plus, dtype=np.float64)
    tm = np.asarray(target_minus, dtype=np.float64)
    sp = np.asarray(stuck_plus, dtype=bool)
    sm = np.asarray(stuck_minus, dtype=bool)
    d = tp - tm
    only_plus = sp & ~sm
    only_minus = sm & ~sp
    new_minus = np.where(only_plus, np.clip(np.asarray(value_plus) - d, g_low, g_high), tm)
    new_plus = np.where(only_minus, np.clip(np.asarray(value_minus) + d, g_low, g_high), tp)
    return RetunedPairs(new_plus, new_minus, only_minus, only_plus, sp & sm)


def compensation_pairs(
    mean_input: ArrayLike,
    delta_g: ArrayLike,
    kernel: int,
    g_low: float,
    g_high: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Targets of the compensation pairs of one layer (one per output per row kernel).

    For row kernel ``b`` (inputs ``b N ... (b + 1) N - 1``) and output ``j`` the mean
    shift of the partial sum is ``e_bj = sum_i m_i dG_ij`` (S, input-weighted), ``m`` the
    mean normalized input on the calibration data and ``dG = (G+ - G-)_hw - (G+ -
    G-)_ideal``. The pair is set to ``G_c+ - G_c- = -e_bj`` (driven at x = 1), clipped to
    ``+/-(g_high - g_low)``, one-sided: ``G_c+/- = g_low + max(+/-(-e_bj), 0)``.

    Parameters
    ----------
    mean_input : array_like, shape (inputs,)
        Mean normalized row input on the calibration data.
    delta_g : array_like, shape (inputs, outputs)
        Hardware minus ideal pair difference (S).
    kernel : int
        Kernel size N (rows per kernel).
    g_low, g_high : float
        Mapping range (S).

    Returns
    -------
    g_plus, g_minus : ndarray, shape (row_kernels, outputs) (S)
    """
    m = np.asarray(mean_input, dtype=np.float64)
    dg = np.asarray(delta_g, dtype=np.float64)
    blocks = -(-m.size // kernel)
    pad = blocks * kernel - m.size
    weighted = np.pad(m[:, None] * dg, ((0, pad), (0, 0)))
    shift = weighted.reshape(blocks, kernel, -1).sum(axis=1)
    span = g_high - g_low
    want = np.clip(-shift, -span, span)
    return g_low + np.maximum(want, 0.0), g_low + np.maximum(-want, 0.0)

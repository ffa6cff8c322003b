"""Weights <-> conductances (layer 4).

Four mappings, all onto a *mapping range* ``[g_low, g_high]`` (S) that lies inside the
device's physical bounds (e.g. 10-100 uS inside 1-200 uS):

``"differential"`` (thesis 3.3, the VMM study)
    ``G+/- = g_low + (1 +/- W) (g_high - g_low) / 2`` for normalized ``W`` in [-1, 1].
``"mapping1"`` (thesis ch. 2)
    One device of the pair at the minimum, the partner carries ``|W|``:
    ``G+ = g_low + max(W, 0) dG``, ``G- = g_low + max(-W, 0) dG``, ``dG = g_high - g_low``.
``"mapping2"`` (thesis ch. 2, ``I+/- = Ib +/- w dImax / 2``)
    Both devices around a bias conductance: ``G+/- = g_bias +/- W dG / 2``. With the default
    bias (the middle of the range) it coincides with ``"differential"``.
single device (the paper's perceptron, Fig. 4)
    Non-negative weights clipped to [0, 1]: ``G = g_low + W dG``.

For every differential mapping the effective weight is ``(G+ - G-) / dG``
(:func:`pair_to_weights`). The formulas use only arithmetic and ``abs`` so that they also
apply, differentiably, to torch tensors (:func:`pair_formula`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.errors import XbarsimInputError

#: Names of the differential (two-device) mappings.
PAIR_MAPPINGS = ("differential", "mapping1", "mapping2")
PairMapping = Literal["differential", "mapping1", "mapping2"]


def check_mapping_range(g_low: float, g_high: float) -> tuple[float, float]:
    """Validate a mapping range (S): finite, ``0 < g_low < g_high``."""
    g_low, g_high = float(g_low), float(g_high)
    if not (np.isfinite(g_low) and np.isfinite(g_high)) or not 0.0 < g_low < g_high:
        raise XbarsimInputError(
            f"mapping range: need 0 < g_low < g_high (S), got g_low={g_low:g}, g_high={g_high:g}"
        )
    return g_low, g_high


def check_pair_mapping(mapping: str) -> str:
    """Validate the name of a pair mapping (one of :data:`PAIR_MAPPINGS`)."""
    if mapping not in PAIR_MAPPINGS:
        raise XbarsimInputError(
            f"mapping: unknown mapping {mapping!r}; allowed: {', '.join(PAIR_MAPPINGS)}"
        )
    return mapping


def _normalized(weights: ArrayLike, name: str = "weights") -> NDArray[np.float64]:
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise XbarsimInputError(f"{name}: values must be finite (got NaN or inf)")
    if w.size and np.max(np.abs(w)) > 1.0 + 1e-12:
        raise XbarsimInputError(
            f"{name}: normalized weights must lie in [-1, 1], got max |w| = {np.max(np.abs(w)):g}"
        )
    return np.clip(w, -1.0, 1.0)


def pair_formula(
    w: Any, mapping: str, g_low: float, g_high: float, g_bias: float | None = None
) -> tuple[Any, Any]:
    """Conductance pair (S) of normalized weights, without validation.

    Uses only arithmetic and ``abs``, so ``w`` may be a numpy array or a torch tensor
    (gradients flow through it).

    Parameters
    ----------
    w : array or tensor
        Normalized weights in [-1, 1].
    mapping : {"differential", "mapping1", "mapping2"}
    g_low, g_high : float
        Mapping range (S).
    g_bias : float, optional
        Bias conductance of ``"mapping2"`` (S); default the middle of the range.

    Returns
    -------
    (G+, G-) : arrays or tensors like ``w`` (S)
    """
    dg = g_high - g_low
    if mapping == "differential":
        return g_low + (1.0 + w) * (dg / 2.0), g_low + (1.0 - w) * (dg / 2.0)
    if mapping == "mapping1":
        a = abs(w)
        return g_low + (w + a) * (dg / 2.0), g_low + (a - w) * (dg / 2.0)
    bias = (g_low + g_high) / 2.0 if g_bias is None else g_bias
    return bias + w * (dg / 2.0), bias - w * (dg / 2.0)


def weights_to_pair(
    weights: ArrayLike,
    mapping: PairMapping = "differential",
    g_low: float = 10e-6,
    g_high: float = 100e-6,
    g_bias: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Map normalized weights onto a differential pair of conductances.

    Parameters
    ----------
    weights : array_like
        Normalized weights in [-1, 1] (dimensionless).
    mapping : {"differential", "mapping1", "mapping2"}
        See the module docstring.
    g_low, g_high : float
        Mapping range (S).
    g_bias : float, optional
        ``"mapping2"`` only: bias conductance (S), default the middle of the range; both
        devices must stay inside ``[g_low, g_high]`` for the given weights.

    Returns
    -------
    g_plus, g_minus : ndarray (S)

    Raises
    ------
    XbarsimInputError
        Weights outside [-1, 1], bad range or mapping, or a ``g_bias`` that pushes a device
        outside the mapping range.
    """
    check_pair_mapping(mapping)
    g_low, g_high = check_mapping_range(g_low, g_high)
    w = _normalized(weights)
    if g_bias is not None and mapping != "mapping2":
        raise XbarsimInputError("g_bias: only used by mapping='mapping2'")
    g_plus, g_minus = pair_formula(w, mapping, g_low, g_high, g_bias)
    tol = 1e-9 * g_high
    if g_plus.size and (
        min(g_plus.min(), g_minus.min()) < g_low - tol
        or max(g_plus.max(), g_minus.max()) > g_high + tol
    ):
        raise XbarsimInputError(
            f"g_bias: {g_bias:g} S pushes devices outside the mapping range "
            f"[{g_low:g}, {g_high:g}] S for these weights"
        )
    return g_plus, g_minus


def pair_to_weights(
    g_plus: ArrayLike, g_minus: ArrayLike, g_low: float = 10e-6, g_high: float = 100e-6
) -> NDArray[np.float64]:
    """Effective normalized weights ``(G+ - G-) / (g_high - g_low)`` of conductance pairs.

    The inverse of every pair mapping (the bias and the minimum cancel in the difference).

    Parameters
    ----------
    g_plus, g_minus : array_like
        Conductances (S), same shape.
    g_low, g_high : float
        Mapping range (S) used to map them.

    Returns
    -------
    ndarray
        Effective weights (dimensionless; equal to the mapped weights for exact devices).
    """
    g_low, g_high = check_mapping_range(g_low, g_high)
    gp = np.asarray(g_plus, dtype=np.float64)
    gm = np.asarray(g_minus, dtype=np.float64)
    if gp.shape != gm.shape:
        raise XbarsimInputError(f"g_minus: shape {gm.shape} must equal g_plus shape {gp.shape}")
    return (gp - gm) / (g_high - g_low)


def weights_to_single(
    weights: ArrayLike, g_low: float = 10e-6, g_high: float = 100e-6
) -> NDArray[np.float64]:
    """The paper's single-device mapping: ``G = g_low + clip(W, 0, 1) (g_high - g_low)``.

    Parameters
    ----------
    weights : array_like
        Non-negative weights; values outside [0, 1] are clipped (dimensionless).
    g_low, g_high : float
        Mapping range (S); the paper uses 10-100 uS.

    Returns
    -------
    ndarray
        Conductances (S).
    """
    g_low, g_high = check_mapping_range(g_low, g_high)
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise XbarsimInputError("weights: values must be finite (got NaN or inf)")
    return g_low + np.clip(w, 0.0, 1.0) * (g_high - g_low)


def single_to_weights(
    conductance: ArrayLike, g_low: float = 10e-6, g_high: float = 100e-6
) -> NDArray[np.float64]:
    """Effective weights ``(G - g_low) / (g_high - g_low)`` of single devices.

    Parameters
    ----------
    conductance : array_like
        Conductances (S).
    g_low, g_high : float
        Mapping range (S).

    Returns
    -------
    ndarray
        Effective weights (dimensionless; may leave [0, 1] for imprecise devices).
    """
    g_low, g_high = check_mapping_range(g_low, g_high)
    return (np.asarray(conductance, dtype=np.float64) - g_low) / (g_high - g_low)

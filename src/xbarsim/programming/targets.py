"""Validation of target conductances (layer 3)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.crossbar.array import Crossbar
from xbarsim.errors import XbarsimInputError


def broadcast_targets(xbars: Crossbar, targets: ArrayLike) -> NDArray[np.float64]:
    """Check targets (S) and broadcast them to ``(batch, rows, cols)``.

    Parameters
    ----------
    xbars : Crossbar
    targets : array_like, shape (rows, cols) or (batch, rows, cols)
        Target conductances in siemens, strictly inside the device bounds.

    Raises
    ------
    XbarsimInputError
        Wrong shape, non-finite values, or values outside ``(g_min, g_max)``.
    """
    t = np.asarray(targets, dtype=np.float64)
    shape = (xbars.batch, xbars.rows, xbars.cols)
    if t.shape not in (shape, shape[1:]):
        raise XbarsimInputError(f"targets: shape must be {shape[1:]} or {shape}, got {t.shape}")
    if not np.all(np.isfinite(t)):
        raise XbarsimInputError("targets: values must be finite (got NaN or inf)")
    lo, hi = xbars.device.g_min_s, xbars.device.g_max_s
    if np.any(t <= lo) or np.any(t >= hi):
        raise XbarsimInputError(
            f"targets: values must lie in (g_min, g_max) = ({lo * 1e6:g} uS, {hi * 1e6:g} uS), "
            f"got [{t.min() * 1e6:g}, {t.max() * 1e6:g}] uS"
        )
    return np.ascontiguousarray(np.broadcast_to(t, shape), dtype=np.float64)

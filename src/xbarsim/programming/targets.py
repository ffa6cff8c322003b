"""Validation of target conductances and of the devices left without one (layer 3)."""

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


def leave_alone(xbars: Crossbar, skip: ArrayLike | None) -> tuple[Crossbar, NDArray[np.bool_]]:
    """The crossbars as a tuner sees them when the ``skip`` devices get no pulse at all.

    Parameters
    ----------
    xbars : Crossbar
    skip : array_like of bool, shape (rows, cols) or (batch, rows, cols), or None
        Devices to leave as they are (e.g. kernel cells that carry no weight, or devices
        already known to be stuck); None skips none.

    Returns
    -------
    view : Crossbar
        ``xbars`` itself when nothing is skipped; otherwise a crossbar sharing its
        conductance array (programming the view programs ``xbars``) on which the skipped
        devices are marked unswitchable, so that every engine passes over them, leaves them
        out of the error statistics and never selects them (their rows and columns see no
        pulse on their behalf).
    skipped : ndarray of bool, shape (batch, rows, cols)

    Raises
    ------
    XbarsimInputError
        For a mask of the wrong shape.
    """
    shape = (xbars.batch, xbars.rows, xbars.cols)
    if skip is None:
        return xbars, np.zeros(shape, dtype=bool)
    mask = np.asarray(skip)
    if mask.shape not in (shape, shape[1:]) or mask.dtype != np.bool_:
        raise XbarsimInputError(
            f"skip: must be a bool mask of shape {shape[1:]} or {shape}, got "
            f"{mask.dtype} {mask.shape}"
        )
    mask = np.broadcast_to(mask, shape).copy()
    if not mask.any():
        return xbars, mask
    view = Crossbar(
        device=xbars.device,
        conductance=xbars.conductance,
        v_set=xbars.v_set,
        v_reset=xbars.v_reset,
        unswitchable=xbars.unswitchable | mask,
        state=xbars.state,
    )
    return view, mask

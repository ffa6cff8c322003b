"""Fitted-range checks shared by the operating-condition models (layer 1).

Every empirical model (temperature, I-V nonlinearity, retention) declares the range of
its inputs it was fitted on. Evaluating it outside that range is an extrapolation: by
default it is allowed with an :class:`ExtrapolationWarning` that names the field and the
values passed and points at the caller's line; with ``strict=True`` it is refused with a
one-line :class:`~xbarsim.errors.XbarsimInputError`. Values on an edge (to float32
precision) are inside.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike

from xbarsim.errors import XbarsimInputError, user_stacklevel

#: Values within this fraction of the range's larger bound past an edge count as on it
#: (a float32 copy of an edge value, 0.1 V -> 0.10000000149 V, does not warn).
EDGE_RTOL = 1e-6


class ExtrapolationWarning(UserWarning):
    """A model was evaluated outside the range it was fitted on."""


def check_finite(field: str, values: ArrayLike) -> None:
    """Refuse NaN or infinite ``values`` with a one-line error naming ``field``."""
    a = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise XbarsimInputError(f"{field}: values must be finite (got NaN or inf)")


def check_within(
    field: str,
    values: ArrayLike,
    low: float,
    high: float,
    strict: bool,
    unit: str = "",
    model: str = "model",
    slack: float = 0.0,
) -> None:
    """Warn (or, with ``strict``, refuse) when ``values`` leave the fitted range.

    Parameters
    ----------
    field : str
        Name of the quantity (used in the message).
    values : array_like
        Values to check (must be finite).
    low, high : float
        Fitted range, inclusive, in the units of ``values``.
    strict : bool
        Raise :class:`XbarsimInputError` instead of warning.
    unit : str
        Unit printed after the numbers.
    model : str
        Name of the model (used in the message).
    slack : float
        Values up to this relative distance outside ``[low, high]`` are accepted silently.
    """
    check_finite(field, values)
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return
    lo, hi = float(a.min()), float(a.max())
    tol = EDGE_RTOL * max(abs(low), abs(high), 1e-300)
    if lo >= low - abs(low) * slack - tol and hi <= high + abs(high) * slack + tol:
        return
    got = f"{lo:.7g}{unit}" if lo == hi else f"values in [{lo:.7g}, {hi:.7g}]{unit}"
    message = f"{field}: {model} was fitted on [{low:g}, {high:g}]{unit}, got {got}"
    if strict:
        raise XbarsimInputError(message)
    warnings.warn(message + " (extrapolating)", ExtrapolationWarning, stacklevel=user_stacklevel())

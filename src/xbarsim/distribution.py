"""Summaries of a distribution over instances: mean, std and 5/50/95 % quantiles.

Every study reports its per-point results through :func:`describe`, so "a result" is
always a distribution over hardware instances, never one run.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

#: Quantile levels reported for every distribution.
QUANTILES: tuple[float, ...] = (0.05, 0.5, 0.95)
#: Log-spaced bin edges (fraction) of stored error histograms (studies and their figures).
HIST_EDGES = np.logspace(-6, 1, 71)


def describe(values: ArrayLike) -> dict[str, float | list[float]]:
    """Mean, population standard deviation and :data:`QUANTILES` of ``values``.

    Parameters
    ----------
    values : array_like
        One number per instance (any unit; the summary keeps it). NaNs are ignored.

    Returns
    -------
    dict
        ``mean``, ``std`` (ddof 0) and ``quantiles`` (a list matching :data:`QUANTILES`,
        linear interpolation); NaN everywhere when no finite value is given.
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    a = a[~np.isnan(a)]
    if a.size == 0:
        return {"mean": math.nan, "std": math.nan, "quantiles": [math.nan] * len(QUANTILES)}
    return {
        "mean": float(a.mean()),
        "std": float(a.std()),
        "quantiles": [float(q) for q in np.quantile(a, QUANTILES)],
    }

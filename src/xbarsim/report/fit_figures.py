"""Residual plot of a device-model fit (matplotlib Figure API, no pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike


def residual_plot(
    path: Path,
    predictor: ArrayLike,
    residuals: ArrayLike,
    predictor_label: str,
    residual_unit: str,
    title: str,
) -> Path:
    """Residuals against the predictor and their histogram, written as one PNG.

    Parameters
    ----------
    path : Path
        Output PNG.
    predictor, residuals : array_like
        Same length; residuals in ``residual_unit``.
    predictor_label, residual_unit : str
        Axis labels (with units).
    title : str
    """
    x = np.asarray(predictor, dtype=np.float64)
    r = np.asarray(residuals, dtype=np.float64)
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax, hist = fig.subplots(1, 2, width_ratios=(2, 1))
    ax.scatter(x, r, s=6, alpha=0.6)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel(predictor_label)
    ax.set_ylabel(f"residual ({residual_unit})")
    hist.hist(r, bins=40, orientation="horizontal")
    hist.set_xlabel("count")
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    return path

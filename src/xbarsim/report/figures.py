"""PNG figures for the experiments (matplotlib, no GUI backend).

Figures are built with :class:`matplotlib.figure.Figure` directly (not ``pyplot``), which
renders through Agg and leaves the process's global backend alone. Every function writes
one PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

_DPI = 120


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG to ``path`` (folders created) at the reports' resolution."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI)
    return path


def histogram(
    path: Path,
    series: Mapping[str, ArrayLike],
    xlabel: str,
    title: str,
    bins: int | ArrayLike = 40,
) -> Path:
    """Overlaid histograms of one or more data sets (NaNs dropped).

    Parameters
    ----------
    path : Path
        Output PNG.
    series : mapping of label to array
        Data sets, in the unit ``xlabel`` names.
    xlabel, title : str
    bins : int or array
        Bin count or edges, as :func:`numpy.histogram` takes them.
    """
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for label, values in series.items():
        v = np.asarray(values, dtype=np.float64).ravel()
        ax.hist(v[np.isfinite(v)], bins=bins, alpha=0.7, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("devices")
    ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    return save_figure(fig, path)


def heatmap(path: Path, values: ArrayLike, title: str, colorbar_label: str) -> Path:
    """A map over (row, column) of a 2-d array; NaN entries drawn in black.

    Parameters
    ----------
    path : Path
        Output PNG.
    values : array, shape (rows, cols)
        Values in the unit ``colorbar_label`` names.
    title, colorbar_label : str
    """
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    v = np.ma.masked_invalid(np.asarray(values, dtype=np.float64))
    cmap = colormaps["viridis"].with_extremes(bad="black")
    image = ax.imshow(v, cmap=cmap, interpolation="nearest")
    fig.colorbar(image, ax=ax, label=colorbar_label)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title)
    return save_figure(fig, path)


def scatter(path: Path, x: ArrayLike, y: ArrayLike, xlabel: str, ylabel: str, title: str) -> Path:
    """Scatter plot of paired values (pairs with a NaN dropped).

    Parameters
    ----------
    path : Path
        Output PNG.
    x, y : array
        Paired values, in the units the labels name.
    xlabel, ylabel, title : str
    """
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    xv = np.asarray(x, dtype=np.float64).ravel()
    yv = np.asarray(y, dtype=np.float64).ravel()
    keep = np.isfinite(xv) & np.isfinite(yv)
    ax.scatter(xv[keep], yv[keep], s=4, alpha=0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return save_figure(fig, path)


def curves(
    path: Path,
    x: ArrayLike,
    series: Mapping[str, ArrayLike],
    xlabel: str,
    ylabel: str,
    title: str,
    log_y: bool = False,
) -> Path:
    """Line plot of one or more curves over a common x axis.

    Parameters
    ----------
    path : Path
        Output PNG.
    x : array, shape (n,)
        Integer x values get integer ticks.
    series : mapping of label to array of shape (n,)
    xlabel, ylabel, title : str
    log_y : bool
        Logarithmic y axis.
    """
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for label, values in series.items():
        ax.plot(x, values, marker="o", label=label)
    if np.issubdtype(np.asarray(x).dtype, np.integer):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return save_figure(fig, path)

"""PNG figures for the experiments (matplotlib, no GUI backend).

Figures are built with :class:`matplotlib.figure.Figure` directly (not ``pyplot``), which
renders through Agg and leaves the process's global backend alone. Every function writes
one PNG and returns its path.
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

_DPI = 120


#: Widths a saved figure is scaled into (inches, aspect kept): shown at one width on a page,
#: a wider figure's text would shrink below legibility and a narrower one's would swell.
FIGURE_WIDTH_RANGE_IN = (6.0, 10.0)


def _fit_width(fig: Figure) -> None:
    """Scale ``fig`` (aspect kept) so that its width lies in :data:`FIGURE_WIDTH_RANGE_IN`."""
    width, height = fig.get_size_inches()
    lo, hi = FIGURE_WIDTH_RANGE_IN
    target = min(max(width, lo), hi)
    if target != width:
        fig.set_size_inches(target, height * target / width)


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG to ``path`` (folders created) at the reports' resolution, its
    width scaled into :data:`FIGURE_WIDTH_RANGE_IN` so that every figure reads alike."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _fit_width(fig)
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


#: Width of every figure on the reproduce page (inches; pixels = width x :data:`_DPI`).
PAGE_FIGURE_WIDTH_IN = 8.0


@dataclass(frozen=True)
class Distribution:
    """One quantity of a distribution figure: ours over instances beside the published value.

    Attributes
    ----------
    label : str
        What the quantity is (with its unit).
    values : sequence of float
        Ours per instance; empty where only statistics are kept.
    mean, std : float
        Ours over instances (used when ``values`` is empty).
    n : int
        Number of instances.
    published : float or None
        The published value (None: nothing numeric to compare with).
    band : (float, float) or None
        The published band around it (same unit), drawn shaded.
    bound : bool
        ``published`` is an upper bound.
    """

    label: str
    values: Sequence[float]
    mean: float
    std: float
    n: int
    published: float | None = None
    band: tuple[float, float] | None = None
    bound: bool = False


def distributions(panels: Sequence[Distribution], title: str, columns: int = 4) -> Figure:
    """Box plots (quartiles, min-max whiskers, every instance as a point) of each quantity on
    its own axis, the published value (red line) and band (shaded) beside them, ``n`` under
    each box; mean ± std where only statistics are kept.

    Parameters
    ----------
    panels : sequence of Distribution
        One panel per quantity (at least one).
    title : str
    columns : int
        Panels per row; the figure is :data:`PAGE_FIGURE_WIDTH_IN` wide whatever the count.
    """
    cols = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(PAGE_FIGURE_WIDTH_IN, 0.6 + 2.6 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, p in zip(axes, panels, strict=False):
        v = np.asarray(p.values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size:
            ax.boxplot([v], widths=0.45, whis=(0, 100), showfliers=False,
                       medianprops={"color": "#d95f02", "linewidth": 2})
            ax.plot(1.32 + np.linspace(-0.05, 0.05, v.size), v, "o", color="#333", ms=3)
        else:
            ax.errorbar([1], [p.mean], yerr=[p.std], fmt="s", color="#333", capsize=6)
        if p.band is not None:
            ax.axhspan(*p.band, color="red", alpha=0.12, linewidth=0)
        if p.published is not None:
            ax.axhline(p.published, color="red", linestyle="--" if p.bound else "-",
                       linewidth=1.5)
        ax.set_xlim(0.4, 1.7)
        ax.set_xticks([1], [f"ours, n={p.n}"])
        ax.ticklabel_format(axis="y", useOffset=False, style="sci", scilimits=(-3, 4))
        ax.tick_params(labelsize=8)
        ax.set_title(textwrap.fill(p.label, 30), fontsize=8)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    handles = [h for h, used in (
        (Line2D([], [], color="red", label="published value"),
         any(p.published is not None and not p.bound for p in panels)),
        (Line2D([], [], color="red", linestyle="--", label="published bound"),
         any(p.published is not None and p.bound for p in panels)),
        (Patch(color="red", alpha=0.12, label="published band"),
         any(p.band is not None for p in panels))) if used]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8,
                   frameon=False)
    return fig


def png_base64(fig: Figure) -> str:
    """``fig`` rendered as PNG at the reports' resolution, base64 (ASCII) for a data: URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")

"""Figures of a device-model fit (matplotlib Figure API, no pyplot state).

Every fit gets two figures: the fit against the data (:func:`fit_plot`; pulse trains drawn
as conductance against pulse number, other models as fitted against measured) and its
residuals against the variable that matters, with their histogram
(:func:`residual_plot`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray


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


def parity_plot(
    path: Path, observed: ArrayLike, residuals: ArrayLike, unit: str, title: str
) -> Path:
    """Fitted against measured (``fitted = observed + residuals``) with the identity line."""
    y = np.asarray(observed, dtype=np.float64)
    fitted = y + np.asarray(residuals, dtype=np.float64)
    fig = Figure(figsize=(5, 4.6), layout="constrained")
    ax = fig.subplots()
    ax.scatter(y, fitted, s=6, alpha=0.6, label="data points")
    lo, hi = float(min(y.min(), fitted.min())), float(max(y.max(), fitted.max()))
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, label="fitted = measured")
    ax.set_xlabel(f"measured ({unit})")
    ax.set_ylabel(f"fitted ({unit})")
    ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    return path


def pulse_fit_plot(
    path: Path, curves: Mapping[str, NDArray[np.float64]], chosen: str, title: str
) -> Path:
    """Pulse trains: mean measured conductance over devices against pulse number, one colour
    per amplitude, with every fitted law (the chosen one solid, the others dashed).

    Parameters
    ----------
    path : Path
        Output PNG.
    curves : mapping
        ``amplitude_v`` (signed, V), ``pulse``, ``g_s`` (S) and ``fit:<law>`` (S) per row,
        as :attr:`xbarsim.devices.fitting.FitResult.curves` holds them.
    chosen : str
        The law the device file carries.
    title : str
    """
    amp, pulse, g = curves["amplitude_v"], curves["pulse"], curves["g_s"]
    laws = sorted(k.split(":", 1)[1] for k in curves if k.startswith("fit:"))
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, sign, name in ((axes[0], 1.0, "potentiation (set)"),
                           (axes[1], -1.0, "depression (reset)")):
        levels = np.unique(amp[np.sign(amp) == sign])
        cmap = colormaps["viridis"]
        for k, a in enumerate(levels):
            color = cmap(k / max(len(levels) - 1, 1))
            sel = amp == a
            steps = np.unique(pulse[sel])
            mean = [1e6 * g[sel & (pulse == n)].mean() for n in steps]
            ax.plot(steps, mean, "o", ms=3, color=color, label=f"{a:+.2f} V")
            for law in laws:
                fit = curves[f"fit:{law}"]
                ax.plot(steps, [1e6 * fit[sel & (pulse == n)].mean() for n in steps],
                        "-" if law == chosen else "--", lw=1.0, color=color)
        ax.set_title(name)
        ax.set_xlabel("pulse number")
        ax.legend(fontsize=6, ncol=2, title="amplitude", title_fontsize=7)
    axes[0].set_ylabel("conductance (uS), mean over devices")
    styles = ", ".join(f"{law} {'solid' if law == chosen else 'dashed'}" for law in laws)
    fig.suptitle(f"{title}\npoints: data; lines: fits ({styles})")
    fig.savefig(path, dpi=120)
    return path

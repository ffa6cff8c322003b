"""Figures of the VMM study (thesis Figs. 28-30) from a sweep's results frame.

Built on :class:`matplotlib.figure.Figure` (Agg, no pyplot state). Every function writes
PNG files into ``out`` and returns their paths.

* ``error_per_pass_*.png`` (Fig. 28a/c): tuning error (99th percentile and mean over the
  devices of an instance) after every pass, median over instances with the 10-90 % band.
* ``error_distributions_*.png`` (Figs. 28b/d, 29): distributions of the final device
  tuning errors and of the VMM errors, pooled over instances, per sigma.
* ``vmm_worst_case_*.png`` (Fig. 30): box plots over instances of the worst-case VMM error
  against sigma, one panel per N, log y, with the intrinsic bound (dashed) and the mean
  ``n_HS`` printed above each box.
* ``n_hs.png``: mean ``n_HS`` (whole run, solid; final pass, dashed) against sigma per N
  and algorithm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from xbarsim.distribution import HIST_EDGES
from xbarsim.report.figures import save_figure


def _tag(value: float) -> str:
    return f"{value:g}".replace(".", "p")


def error_per_pass(frame: pd.DataFrame, out: Path) -> list[Path]:
    """Tuning error after every pass, one PNG per (N, target, algorithm)."""
    paths = []
    for (size, target, algorithm), g in frame.groupby(["size", "target", "algorithm"]):
        fig = Figure(figsize=(9, 4), layout="constrained")
        axes = fig.subplots(1, 2, sharex=True)
        for sigma, gs in g.groupby("sigma"):
            for ax, column in zip(axes, ("history_p99", "history_mean"), strict=True):
                h = np.stack(gs[column].to_numpy())
                passes = np.arange(h.shape[1])
                line = ax.plot(passes, np.median(h, axis=0), marker="o", label=f"σ={sigma:g}")
                lo, hi = np.percentile(h, [10, 90], axis=0)
                ax.fill_between(passes, lo, hi, color=line[0].get_color(), alpha=0.2)
        for ax, what in zip(axes, ("99th percentile", "mean"), strict=True):
            ax.set_yscale("log")
            ax.set_xlabel("pass (0 = before tuning)")
            ax.set_ylabel(f"tuning error, {what} (fraction)")
            ax.axhline(target, color="k", linestyle=":", linewidth=1)
        axes[0].legend()
        fig.suptitle(f"N={size}, target {target:g}, {algorithm}: error per pass")
        name = f"error_per_pass_N{size}_t{_tag(target)}_{algorithm}.png"
        paths.append(save_figure(fig, out / name))
    return paths


def error_distributions(frame: pd.DataFrame, out: Path) -> list[Path]:
    """Final device-error and VMM-error distributions, one PNG per (N, target, algorithm)."""
    paths = []
    centers = np.sqrt(HIST_EDGES[:-1] * HIST_EDGES[1:])
    for (size, target, algorithm), g in frame.groupby(["size", "target", "algorithm"]):
        fig = Figure(figsize=(9, 4), layout="constrained")
        axes = fig.subplots(1, 2)
        for sigma, gs in g.groupby("sigma"):
            for ax, column in zip(axes, ("tuning_error_hist", "vmm_error_hist"), strict=True):
                counts = np.stack(gs[column].to_numpy()).sum(axis=0)
                ax.step(centers, counts / max(counts.sum(), 1), where="mid", label=f"σ={sigma:g}")
        for ax, what in zip(
            axes, ("device tuning error", "VMM error |I-I_ideal|/I_max"), strict=True
        ):
            ax.set_xscale("log")
            ax.set_xlabel(f"{what} (fraction)")
            ax.set_ylabel("fraction of samples")
        axes[0].axvline(target, color="k", linestyle=":", linewidth=1)
        axes[0].legend()
        fig.suptitle(f"N={size}, target {target:g}, {algorithm}: final error distributions")
        name = f"error_distributions_N{size}_t{_tag(target)}_{algorithm}.png"
        paths.append(save_figure(fig, out / name))
    return paths


def worst_case_boxes(frame: pd.DataFrame, out: Path) -> list[Path]:
    """Fig. 30: worst-case VMM error vs sigma per N, one PNG per (target, algorithm)."""
    paths = []
    sizes = sorted(frame["size"].unique())
    for (target, algorithm), g in frame.groupby(["target", "algorithm"]):
        fig = Figure(figsize=(4 * len(sizes), 4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(sizes), sharey=True))
        for ax, size in zip(axes, sizes, strict=True):
            gn = g[g["size"] == size]
            groups = list(gn.groupby("sigma"))
            if not groups:
                ax.set_visible(False)
                continue
            sigmas = [s for s, _ in groups]
            pos = np.arange(len(groups))
            ax.boxplot([gs["vmm_error_p99"].to_numpy() for _, gs in groups], positions=pos)
            bound = [gs["vmm_error_intrinsic_p99"].median() for _, gs in groups]
            ax.plot(pos, bound, "r--", label="intrinsic bound")
            for x, (_, gs) in zip(pos, groups, strict=True):
                ax.text(
                    x,
                    0.97,
                    f"{gs['n_hs'].mean():.2g}",
                    ha="center",
                    va="top",
                    fontsize=7,
                    transform=ax.get_xaxis_transform(),
                )
            ax.set_xticks(pos, [f"{s:g}" for s in sigmas])
            ax.set_yscale("log")
            ax.set_xlabel("σ (normalized threshold variation)")
            ax.set_title(f"{size}×{size}  (numbers: n_HS)")
        low, high = axes[0].get_ylim()
        axes[0].set_ylim(low, high * 3)  # room for the n_HS labels
        axes[0].set_ylabel("worst-case VMM error (99th pct, fraction)")
        axes[0].legend(loc="lower right")
        fig.suptitle(f"target {target:g}, {algorithm}")
        paths.append(save_figure(fig, out / f"vmm_worst_case_t{_tag(target)}_{algorithm}.png"))
    return paths


def n_hs_plot(frame: pd.DataFrame, out: Path) -> list[Path]:
    """Mean n_HS vs sigma (whole run solid, final pass dashed) per (N, target, algorithm)."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for (size, target, algorithm), g in frame.groupby(["size", "target", "algorithm"]):
        m = g.groupby("sigma")[["n_hs", "n_hs_final_pass"]].mean()
        line = ax.plot(
            m.index, m["n_hs"].to_numpy(), marker="o", label=f"N={size}, {target:g}, {algorithm}"
        )[0]
        ax.plot(m.index, m["n_hs_final_pass"].to_numpy(), ls="--", color=line.get_color())
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set_xlabel("σ (normalized threshold variation)")
    ax.set_ylabel("n_HS (fraction of devices)")
    ax.legend(fontsize=7)
    return [save_figure(fig, out / "n_hs.png")]


def plot_results(frame: pd.DataFrame, out: str | Path) -> list[Path]:
    """Every study figure for a results frame; returns the written paths."""
    out = Path(out)
    return [
        *error_per_pass(frame, out),
        *error_distributions(frame, out),
        *worst_case_boxes(frame, out),
        *n_hs_plot(frame, out),
    ]

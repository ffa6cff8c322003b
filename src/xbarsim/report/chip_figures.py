"""Figures of the chip experiments (thesis Figs. 56, 60, 61), drawn from what the
experiments hand over (matplotlib Figure API, no pyplot state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from xbarsim.report.figures import save_figure


def offset_histograms(
    path: Path, before_v: ArrayLike, after_v: ArrayLike, current_a: ArrayLike
) -> Path:
    """Fig. 60 style: offsets before (mV), after (mV) and the pair's offset current (uA)."""
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    panels = (
        (np.asarray(before_v) * 1e3, "offset before (mV)", "(a) before compensation"),
        (np.asarray(after_v) * 1e3, "offset after (mV)", "(b) after compensation"),
        (np.asarray(current_a) * 1e6, "offset current (uA)", "(c) current from the pair"),
    )
    for k, (values, xlabel, title) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        ax.hist(values, bins=20)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("TIAs")
        ax.set_title(title)
    after_mv = np.asarray(after_v) * 1e3
    outside = int(np.sum(np.abs(after_mv) > 5.0))
    ax_after = fig.axes[1]
    ax_after.clear()
    ax_after.hist(np.clip(after_mv, -5.0, 5.0), bins=np.linspace(-5.0, 5.0, 41))
    ax_after.set_xlabel("offset after (mV; beyond +/-5 mV piled at the edges)")
    ax_after.set_ylabel("TIAs")
    ax_after.set_title(f"(b) after compensation ({outside} beyond 5 mV)")
    ax_after.axvspan(-1.0, 1.0, color="tab:green", alpha=0.15, label="|offset| < 1 mV")
    ax_after.legend()
    return save_figure(fig, path)


def pair_trajectory(
    path: Path, reads: Sequence[tuple[int, int, float]], targets_s: ArrayLike
) -> Path:
    """Fig. 61 style: resistance of the two devices of one pair at every verify read."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    targets = np.asarray(targets_s, dtype=np.float64)
    for row, label in ((0, "G_c1 (to V_cm - dV)"), (1, "G_c2 (to V_cm + dV)")):
        r = [1.0 / g / 1e3 for rr, _, g in reads if rr == row]
        line = ax.plot(r, label=label)[0]
        ax.axhline(1.0 / targets[row] / 1e3, ls="--", color=line.get_color())
    ax.set_xlabel("verify read of the device")
    ax.set_ylabel("resistance (kOhm)")
    ax.set_yscale("log")
    ax.set_title("tuning one compensation pair (dashed: targets)")
    ax.legend()
    return save_figure(fig, path)


def breakdown_pies(path: Path, power_w: Mapping[str, float], area_mm2: Mapping[str, float]) -> Path:
    """Fig. 56 style: power and area breakdowns of a chip."""
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    for k, (data, title) in enumerate(((power_w, "power"), (area_mm2, "area"))):
        ax = fig.add_subplot(1, 2, k + 1)
        keys = [key for key, v in data.items() if v > 0]
        ax.pie([data[key] for key in keys], labels=keys, autopct="%1.1f%%")
        ax.set_title(title)
    return save_figure(fig, path)


def vmm_cost_curves(path: Path, cases: Sequence[Mapping[str, object]]) -> Path:
    """Figs. 51/53 style: energy efficiency (Op/J), throughput (Op/s), area efficiency
    (Op/s/mm^2) and latency (s) against VMM size N, log-log, one line per VMM kind."""
    panels = (
        ("energy_eff_op_per_j", "energy efficiency (Op/J)"),
        ("ops_per_s", "throughput (Op/s)"),
        ("ops_per_s_per_mm2", "area efficiency (Op/s/mm^2)"),
        ("latency_s", "latency, 1 % settling (s)"),
    )
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels))
    kinds = list(dict.fromkeys(str(c["kind"]) for c in cases))
    for ax, (key, label) in zip(axes, panels, strict=True):
        for kind in kinds:
            rows = sorted((c for c in cases if c["kind"] == kind), key=lambda c: c["size"])
            ax.plot([c["size"] for c in rows], [c[key] for c in rows], marker="o", label=kind)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("VMM size N")
        ax.set_ylabel(label)
    axes[0].legend()
    fig.suptitle("VMM cost against size (analog: Fig. 51, mixed-signal: Fig. 53)")
    return save_figure(fig, path)


def offset_current_histogram(path: Path, current_a: ArrayLike, instances: int) -> Path:
    """Fig. 60c style: effective offset currents (uA) that the programmed pairs source into
    the TIAs' summing nodes, pooled over ``instances`` chips."""
    fig = Figure(figsize=(5.5, 4), layout="constrained")
    ax = fig.add_subplot()
    values = np.asarray(current_a, dtype=np.float64) * 1e6
    ax.hist(values, bins=30)
    ax.set_xlabel("effective offset current (uA)")
    ax.set_ylabel("TIAs")
    ax.set_title(f"offset currents of the programmed pairs ({values.size} TIAs, "
                 f"{instances} chips)")
    return save_figure(fig, path)

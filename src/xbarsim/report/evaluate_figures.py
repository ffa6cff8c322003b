"""Figures of ``xbarsim evaluate``: accuracy vs temperature and age, cost breakdown
(matplotlib Figure API, drawn from the result the evaluation hands over)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from xbarsim.report.figures import save_figure


def _accuracy_vs(ax, rows: Sequence[Mapping[str, Any]], x_key: str, group_key: str,
                 group_label: str, software: float) -> None:
    groups = sorted({r[group_key] for r in rows})
    for g in groups:
        sel = sorted((r for r in rows if r[group_key] == g), key=lambda r: r[x_key])
        xs = [r[x_key] for r in sel]
        mean = [100 * r["accuracy_mean"] for r in sel]
        low = [100 * r["accuracy_quantiles"]["5"] for r in sel]
        high = [100 * r["accuracy_quantiles"]["95"] for r in sel]
        ax.plot(xs, mean, marker="o", label=f"{group_label} {g:g}")
        ax.fill_between(xs, low, high, alpha=0.2)
    ax.axhline(100 * software, color="k", linestyle="--", label="software")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize="small")


def accuracy_figures(out: Path, result: Mapping[str, Any]) -> list[Path]:
    """``accuracy_vs_temperature.png`` and ``accuracy_vs_age.png`` (mean, 5-95 % band)."""
    rows = result["conditions"]
    software = result["software_accuracy"]
    paths = []
    for name, x_key, group, label, xlabel in (
        ("accuracy_vs_temperature.png", "temp_c", "age_h", "age (h)", "temperature (degC)"),
        ("accuracy_vs_age.png", "age_h", "temp_c", "degC", "age (h)"),
    ):
        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.add_subplot()
        _accuracy_vs(ax, rows, x_key, group, label, software)
        ax.set_xlabel(xlabel)
        if x_key == "age_h" and min(r["age_h"] for r in rows) > 0:
            ax.set_xscale("log")
        ax.set_title(f"{result['model']} on {result['spec']['name']} ({result['data']})")
        paths.append(save_figure(fig, out / name))
    return paths


def cost_figure(path: Path, cost: Mapping[str, Any]) -> Path:
    """Energy per inference and area per component of the chip (horizontal bars)."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    for k, (key, unit, scale) in enumerate(
        (("energy_breakdown_j", "energy per inference (nJ)", 1e9),
         ("area_breakdown_mm2", "area (mm^2)", 1.0))
    ):
        ax = fig.add_subplot(1, 2, k + 1)
        parts = cost.get(key, {})
        names = list(parts)
        ax.barh(names, [scale * parts[n] for n in names])
        ax.set_xlabel(unit)
    fig.suptitle(
        f"{cost['energy_per_inference_j'] * 1e9:.3g} nJ/inference, "
        f"{cost['latency_s'] * 1e9:.3g} ns, {cost['area_mm2']:.3g} mm^2"
    )
    return save_figure(fig, path)

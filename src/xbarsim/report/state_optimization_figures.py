"""Thesis Fig. 23-style figures of a state-optimization search (layer 7, Figure API)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xbarsim.mapping.currents import CurrentStack
from xbarsim.mapping.state_optimization import StateSearch


def plot_state_search(search: StateSearch, out: str | Path) -> Path:
    """Three panels like one row of thesis Fig. 23; returns the PNG path.

    1. normalized array energy of the cheapest feasible constant design vs ``dI_max``;
    2. heat map of the cost ``C`` over (``dI_max``, ``I_min``/``I_b``), infeasible
       designs shaded, the chosen ``dI_max`` dashed;
    3. heat map of ``max_T |E_r|`` over (normalized weight, parameter) at that
       ``dI_max``, with the best parameter per weight and the fitted rule.

    The file is ``fig23_<stack>_<mapping>.png`` in ``out``.
    """
    from matplotlib.figure import Figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scale, unit = CurrentStack.named(search.stack).unit()
    name = "I_min" if search.mapping == "mapping1" else "I_b"
    deltas = search.delta_grid_a / scale
    params = search.parameter_grid_a / scale
    fig = Figure(figsize=(14, 4))
    ax_e, ax_c, ax_w = fig.subplots(1, 3)
    ax_e.plot(deltas, search.energy, marker=".")
    ax_e.set_xlabel(f"ΔI_max ({unit})")
    ax_e.set_ylabel("normalized array energy")
    ax_e.set_title("energy (cheapest feasible design)")
    for ax, data, x, xlabel, title in (
        (ax_c, search.cost, deltas, f"ΔI_max ({unit})", "cost C"),
        (ax_w, search.worst_error, search.weights, "normalized weight r", "max_T |E_r|"),
    ):
        ax.set_facecolor("0.85")  # shaded: out of range
        mesh = ax.pcolormesh(x, params, np.ma.masked_invalid(data.T), shading="nearest")
        fig.colorbar(mesh, ax=ax)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{name} ({unit})")
        ax.set_title(title)
    ax_c.axvline(search.delta_i_max_a / scale, color="white", linestyle="--")
    ax_w.plot(search.weights, search.best_parameter_a / scale, "w.", label="best per weight")
    ax_w.plot(search.weights, search.design.rule(search.weights) / scale, "r-", label="fitted rule")
    ax_w.legend(fontsize=7)
    delta = search.delta_i_max_a / scale
    fig.suptitle(f"{search.stack}, {search.mapping}: ΔI_max = {delta:g} {unit}")
    fig.tight_layout()
    path = out / f"fig23_{search.stack}_{search.mapping}.png"
    fig.savefig(path, dpi=110)
    return path

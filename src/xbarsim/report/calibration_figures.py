"""Figure and residual table of a pulse-law calibration (layer 7, report).

Draws what :func:`xbarsim.experiments.calibration.calibrate` hands over as a table; does
not import the experiments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def _label(row: pd.Series) -> str:
    label = f"{row['variant']} {row['slope_below_v']:g}/{row['slope_above_v']:g}"
    knee = row.get("knee_v", float("nan"))
    if knee == knee:  # three-piece: knee and far slope
        label += f" +{knee:g}:{row['slope_far_v']:g}"
    return label


def calibration_figure(table: pd.DataFrame, targets: list[str], out: Path) -> Path:
    """Group losses of every candidate (left) and log residuals of the Pareto set (right).

    Parameters
    ----------
    table : DataFrame
        Columns ``variant``, ``slope_below_v``, ``slope_above_v`` (V), ``loss_t28``,
        ``loss_dynamics``, ``loss``, ``pareto`` and ``res_<target>`` for ``targets``.
    targets : list of str
        Target names, in row order of the residual panel.
    out : Path
        PNG file to write.

    Returns
    -------
    Path
    """
    fig = Figure(figsize=(12, 5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.4))
    for variant, marker in zip(sorted(table["variant"].unique()), "os^v", strict=False):
        sub = table[table["variant"] == variant]
        sc = left.scatter(
            sub["loss_t28"],
            sub["loss_dynamics"],
            c=sub["slope_below_v"],
            marker=marker,
            cmap="viridis",
            label=variant,
            edgecolors=np.where(sub["pareto"], "red", "none"),
            linewidths=1.5,
        )
    fig.colorbar(sc, ax=left, label="slope below threshold (V)")
    left.set_xscale("symlog", linthresh=0.1)
    left.set_yscale("symlog", linthresh=0.1)
    left.set_xlabel("loss, T28 targets (sum of squared log residuals)")
    left.set_ylabel("loss, dynamics targets (rounds, n_HS, σ=0 penalty)")
    left.set_title("candidates (red edge: Pareto front over all groups)")
    left.legend(fontsize=8)
    front = table[table["pareto"]].head(12)
    res = front[[f"res_{t}" for t in targets]].to_numpy().T
    im = right.imshow(res, cmap="RdBu_r", vmin=-3.0, vmax=3.0, aspect="auto")
    right.set_yticks(range(len(targets)), targets, fontsize=7)
    right.set_xticks(
        range(len(front)), [_label(r) for _, r in front.iterrows()], rotation=60, fontsize=7,
        ha="right",
    )
    right.set_title("log(ours / published), Pareto candidates (blank: undefined)")
    fig.colorbar(im, ax=right, label="log residual (colours clipped at ±3)")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def residual_markdown(table: pd.DataFrame, targets: list[str], published: dict[str, float]) -> str:
    """Markdown table: published value and each Pareto candidate's value per target."""
    front = table[table["pareto"]].head(8)
    head = "| target | published | " + " | ".join(_label(r) for _, r in front.iterrows()) + " |"
    rule = "|---|---|" + "---|" * len(front)
    lines = [head, rule]
    for t in targets:
        cells = [f"{v:.4g}" for v in front[t]]
        lines.append(f"| {t} | {published[t]:.4g} | " + " | ".join(cells) + " |")
    lines.append("| **loss** | 0 | " + " | ".join(f"{v:.3g}" for v in front["loss"]) + " |")
    return "\n".join(lines) + "\n"

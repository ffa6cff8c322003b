"""Figure and residual table of a calibration fit (layer 7, report).

Draws what :func:`xbarsim.experiments.calibration_fit.fit` hands over as tables; does not
import the experiments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def calibration_figure(
    trials: pd.DataFrame, targets: pd.DataFrame, default: pd.DataFrame, out: Path
) -> Path:
    """Pareto front of the group losses, the search's progress, and residuals per target.

    Parameters
    ----------
    trials : DataFrame
        Search trials: ``trial``, ``loss``, ``loss_t28``, ``loss_dynamics``, ``loss_p3``
        (sums of squared residuals) and ``pareto``.
    targets, default : DataFrame
        Per target (index) of the best point and of the default: ``residual`` (log ratio,
        or relative difference for a target that can be <= 0) and ``tolerance`` (tolerated
        |residual|).
    out : Path
        PNG file to write.

    Returns
    -------
    Path
    """
    fig = Figure(figsize=(15, 5), layout="constrained")
    front, progress, bars = fig.subplots(1, 3, width_ratios=(1.1, 1, 1.3))
    sc = front.scatter(trials["loss_t28"], trials["loss_dynamics"], c=trials["loss_p3"],
                       cmap="viridis", s=18,
                       edgecolors=np.where(trials["pareto"], "red", "none"), linewidths=1.2)
    fig.colorbar(sc, ax=front, label="loss, Fig. 3 targets")
    front.set_xscale("symlog", linthresh=0.1)
    front.set_yscale("symlog", linthresh=0.1)
    front.set_xlabel("loss, T28 targets (sum of squared residuals)")
    front.set_ylabel("loss, dynamics targets (rounds, n_HS, σ=0 penalty)")
    front.set_title("trials (red edge: Pareto front over all groups)")
    progress.plot(trials["trial"], trials["loss"], ".", color="0.6", label="trial")
    progress.plot(trials["trial"], trials["loss"].cummin(), "-", color="C3", label="best so far")
    progress.set_yscale("log")
    progress.set_xlabel("trial")
    progress.set_ylabel("aggregate loss")
    progress.set_title("search")
    progress.legend(fontsize=8)
    y = np.arange(len(targets))
    bars.barh(y + 0.2, targets["residual"].clip(-4, 4), height=0.4, label="best", color="C0")
    bars.barh(y - 0.2, default.loc[targets.index, "residual"].clip(-4, 4), height=0.4,
              label="default", color="0.6")
    for i, tol in enumerate(targets["tolerance"]):
        bars.plot([-tol, tol], [i, i], "|-", color="C3", lw=1)
    bars.set_yticks(y, targets.index, fontsize=7)
    bars.axvline(0.0, color="k", lw=0.5)
    bars.set_xlabel("log(ours / published); σ=0 penalty: ours / published - 1\n"
                    "(clipped at ±4; red: tolerance)")
    bars.set_title("residual per target")
    bars.legend(fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def _log(residual: float) -> str:
    """A residual, or why there is none (a log-scored value that is not positive)."""
    return f"{residual:+.2f}" if np.isfinite(residual) else "undefined (ours <= 0)"


def residual_markdown(targets: pd.DataFrame, default: pd.DataFrame) -> str:
    """Markdown table per target: published, ours (best point, replicate mean) and the
    default's value, residuals (log ratios, undefined where ours is not positive; relative
    differences for targets that can be <= 0), the tolerance and
    whether the best point is within."""
    lines = [
        "| target | published | best | residual | tolerance | within | default "
        "| default residual |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in targets.iterrows():
        d = default.loc[name]
        lines.append(
            f"| {name} | {row['published']:.4g} | {row['ours']:.4g} | {_log(row['residual'])} "
            f"| {row['tolerance']:.2f} | {'yes' if row['within'] else 'no'} | {d['ours']:.4g} "
            f"| {_log(d['residual'])} |"
        )
    return "\n".join(lines) + "\n"

"""Thesis Figs. 51 and 53: power, latency and efficiencies of analog and mixed-signal VMMs
versus size (layer 7), with fitted log-log slopes beside the published trends."""

from __future__ import annotations

from pathlib import Path

from xbarsim.chip.cost import CostParameters, check_kind, loglog_slope, vmm_cost
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.published import published_value
from xbarsim.report.tables import ComparisonRow

#: Metric -> (published trend, the log-log slope band we accept as that trend).
TRENDS: dict[str, tuple[str, tuple[float, float]]] = {
    "energy_eff_op_per_j": ("~linear in N", (0.8, 1.4)),
    "ops_per_s": ("quadratic in N", (1.8, 2.4)),
    "ops_per_s_per_mm2": ("~linear in N", (0.8, 1.4)),
}


def run_vmm_cost(
    sizes: list[int], kinds: list[str], params: CostParameters | None = None
) -> dict[str, object]:
    """Cost of every (size, kind) VMM and the log-log slopes of the efficiencies per kind.

    Returns
    -------
    dict
        ``cases`` (one dict per size and kind, :func:`xbarsim.chip.cost.vmm_cost`),
        ``slopes`` (kind -> metric -> slope), ``published_trends``, ``mixed_below_analog``
        (metric -> bool over every size, when both kinds ran) and ``parameters``.
    """
    if not sizes:
        raise XbarsimInputError("sizes: give at least one size")
    if not kinds:
        raise XbarsimInputError("kind: give at least one VMM kind")
    for kind in kinds:
        check_kind(kind)
    p = CostParameters() if params is None else params
    cases = [vmm_cost(n, kind, p) for kind in kinds for n in sizes]
    slopes: dict[str, dict[str, float | None]] = {}
    for kind in kinds:
        rows = [c for c in cases if c["kind"] == kind]
        ns = [c["size"] for c in rows]
        slopes[kind] = {
            m: loglog_slope(ns, [c[m] for c in rows]) if len(set(ns)) > 1 else None for m in TRENDS
        }
    below: dict[str, bool] = {}
    if set(kinds) >= {"analog", "mixed"}:
        by = {(c["kind"], c["size"]): c for c in cases}
        for m in TRENDS:
            below[m] = all(by["mixed", n][m] < by["analog", n][m] for n in sizes)
    return {
        "cases": cases,
        "slopes": slopes,
        "published_trends": {m: t for m, (t, _) in TRENDS.items()},
        "slope_bands": {m: list(b) for m, (_, b) in TRENDS.items()},
        "mixed_below_analog": below,
        "parameters": {name: value for name, value, _, _ in p.report()},
        "parameter_sources": {name: f"[{s}] {src}" for name, _, s, src in p.report()},
    }


def comparison_rows(run: dict[str, object]) -> list[ComparisonRow]:
    """Published trends beside the fitted slopes."""
    trends = published_value("F51_53_vmm_trends", "analog_trends")
    names = {
        "energy_eff_op_per_j": "energy_efficiency",
        "ops_per_s": "throughput",
        "ops_per_s_per_mm2": "area_efficiency",
    }
    rows = []
    for kind, slopes in run["slopes"].items():
        for metric, slope in slopes.items():
            text = "-" if slope is None else f"slope {slope:.2f}"
            rows.append(ComparisonRow(f"{kind}: {metric}", trends[names[metric]], text))
    for metric, ok in run["mixed_below_analog"].items():
        rows.append(
            ComparisonRow(f"mixed < analog: {metric}", "yes (Fig. 53)", "yes" if ok else "no")
        )
    return rows


def write_figures(run: dict[str, object], out: Path) -> list[Path]:
    """Figs. 51/53 style efficiency, throughput and latency curves against N."""
    from xbarsim.report.chip_figures import vmm_cost_curves

    return [vmm_cost_curves(out / "fig51_53_vmm_cost.png", run["cases"])]

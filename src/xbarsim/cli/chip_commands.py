"""Chip commands (thesis ch. 4): ``vmm-cost`` (Figs. 51, 53), ``offset-compensation``
(Figs. 59-61) and ``mlp-chip`` (Figs. 54-56).

Each prints published beside xbarsim (to stderr when ``--json -`` puts one JSON object on
stdout), lists the assumed (unpublished) parameters, and writes figures with ``--out``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from xbarsim.cli import app
from xbarsim.cli.device_commands import JsonOpt, _write_text
from xbarsim.errors import XbarsimInputError
from xbarsim.report.tables import ComparisonRow, comparison_table, print_table


def _int_list(name: str, text: str, minimum: int) -> list[int]:
    """Comma-separated integers >= ``minimum``."""
    try:
        values = [int(x, 10) for x in text.split(",") if x.strip()]
    except ValueError:
        raise XbarsimInputError(f"{name}: must be comma-separated integers, got {text!r}") from None
    bad = [v for v in values if v < minimum]
    if bad or not values:
        raise XbarsimInputError(
            f"{name}: every value must be an integer >= {minimum}, got {text!r}"
        )
    return values


def _clean(value: Any) -> Any:
    """NaN/inf to None, recursively, for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _emit(title: str, rows: list[ComparisonRow], data: dict, json_path: str | None) -> None:
    """Print the comparison and the assumptions; write JSON as asked."""
    to_stdout = json_path == "-"
    print_table(comparison_table(title, rows), stderr=to_stdout)
    sources = data.get("parameter_sources")
    if sources:
        table = Table(title="model parameters (P published, D derived, U assumed, E erratum)")
        for col in ("parameter", "value", "source"):
            table.add_column(col)
        for name, src in sources.items():
            table.add_row(name, f"{data['parameters'][name]}", src)
        Console(stderr=to_stdout).print(table)
    text = json.dumps(_clean(data), indent=2)
    if to_stdout:
        typer.echo(text)
    elif json_path is not None:
        _write_text(Path(json_path), text + "\n", "json")


@app.command("vmm-cost")
def vmm_cost_command(
    sizes: Annotated[str, typer.Option("--sizes", help="Comma-separated VMM sizes N.")] = (
        "4,8,16,32,64"
    ),
    kind: Annotated[str, typer.Option("--kind", help="analog, mixed or both (comma).")] = (
        "analog,mixed"
    ),
    json_path: JsonOpt = None,
) -> None:
    """Thesis Figs. 51/53: power, latency, energy/area efficiency and throughput vs N."""
    from xbarsim.experiments import vmm_cost as experiment

    ns = _int_list("sizes", sizes, 1)
    kinds = [k.strip() for k in kind.split(",") if k.strip()]
    run = experiment.run_vmm_cost(ns, kinds)
    _emit("VMM cost vs size (thesis Figs. 51, 53)", experiment.comparison_rows(run), run, json_path)

"""Circuit-level commands: ``ir-drop`` (exact line-resistance currents of a random array)
and ``irdrop-study`` (VMM error and network accuracy vs size and wire resistance).

A thin shell over :mod:`xbarsim.experiments.irdrop`: build :class:`~xbarsim.crossbar.Lines`
from the options, run, print the table (to stderr with ``--json -``) and write the JSON
record (``-`` for stdout: exactly one JSON object).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from xbarsim.cli import app
from xbarsim.cli.device_commands import (
    JsonOpt,
    OutOpt,
    ProgressOpt,
    SeedOpt,
    _parse_int,
    _write_text,
)
from xbarsim.cli.options import MaxTimeOpt, check_run
from xbarsim.cli.output import with_provenance
from xbarsim.crossbar.lines import lines_from_dict
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.resources import (
    MAX_INPUTS,
    MAX_INSTANCES,
    irdrop_study_bytes,
    irdrop_study_seconds,
)
from xbarsim.report.tables import ComparisonRow, comparison_table, print_table
from xbarsim.validation import check_count

RRowOpt = Annotated[
    str, typer.Option("--r-row", metavar="OHM", help="Row segment between crosspoints (>= 0).")
]
RColOpt = Annotated[
    str, typer.Option("--r-col", metavar="OHM", help="Column segment between crosspoints (>= 0).")
]
RSourceOpt = Annotated[
    str, typer.Option("--r-source", metavar="OHM", help="Input driver resistance (>= 0).")
]
RSinkOpt = Annotated[
    str, typer.Option("--r-sink", metavar="OHM", help="Resistance into virtual ground (>= 0).")
]
RTiaOpt = Annotated[
    str,
    typer.Option("--r-tia-in", metavar="OHM", help="TIA input resistance R_f/(1+A) (>= 0)."),
]


@app.command("ir-drop")
def ir_drop(
    rows: Annotated[str, typer.Option("--rows", metavar="N", help="Rows (inputs), >= 1.")] = "64",
    cols: Annotated[str, typer.Option("--cols", metavar="M", help="Columns (outputs), >= 1.")]
    = "64",
    r_row: RRowOpt = "1.2",
    r_col: RColOpt = "0.93",
    r_source: RSourceOpt = "0",
    r_sink: RSinkOpt = "0",
    r_tia_in: RTiaOpt = "0",
    row_drive: Annotated[
        str, typer.Option("--row-drive", help="Row end driven: first (column 0), last, both.")
    ] = "first",
    col_sense: Annotated[
        str, typer.Option("--col-sense", help="Column end sensed: last (row N-1), first, both.")
    ] = "last",
    seed: SeedOpt = "0",
    json_path: JsonOpt = None,
) -> None:
    """Exact column currents of a random crossbar with line resistance vs the ideal VMM.

    Conductances uniform 10-100 uS, inputs uniform 0-0.1 V. Row i is driven at its
    column-0 end through r_source; column j is sensed at its row-(N-1) end through r_sink
    into a virtual ground at 0 V.
    """
    from xbarsim.experiments import irdrop as experiment

    n_rows = _parse_int("rows", rows, 1)
    n_cols = _parse_int("cols", cols, 1)
    s = _parse_int("seed", seed, 0)
    values = {}
    for field, text in (("r_row_ohm", r_row), ("r_col_ohm", r_col), ("r_source_ohm", r_source),
                         ("r_sink_ohm", r_sink), ("r_tia_in_ohm", r_tia_in)):
        try:
            values[field] = float(text)
        except ValueError:
            values[field] = text  # reported by the validation below, naming the field
    lines = lines_from_dict({**values, "row_drive": row_drive, "col_sense": col_sense})
    start = time.perf_counter()
    run = experiment.run_ir_drop(n_rows, n_cols, lines, seed=s)
    rows_out = [
        *experiment.comparison_rows(run),
        ComparisonRow("run time (s)", "-", f"{time.perf_counter() - start:.2f}"),
    ]
    to_stdout = json_path == "-"
    print_table(
        comparison_table(f"IR drop, {n_rows}x{n_cols}, seed {s}", rows_out), stderr=to_stdout
    )
    size = {"rows": n_rows, "cols": n_cols}
    text = json.dumps(with_provenance(run.summary(), s, {"lines": lines, "size": size}))
    if to_stdout:
        typer.echo(text)
    elif json_path is not None:
        _write_text(Path(json_path), text + "\n", "json")


def _parse_list(name: str, text: str, kind: type) -> list:
    """Comma-separated numbers, with a one-line error naming the option."""
    try:
        return [kind(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise XbarsimInputError(f"{name}: must be comma-separated numbers, got {text!r}") from None


@app.command("irdrop-study")
def irdrop_study(
    sizes: Annotated[str, typer.Option("--sizes", help="Array sizes N, comma-separated.")]
    = "16,32,64,128",
    r_wire: Annotated[
        str, typer.Option("--r-wire", metavar="OHM,...", help="Segment resistances (ohm).")
    ] = "0.5,1,2",
    instances: Annotated[
        str, typer.Option("--instances", help="Random crossbars per VMM point (>= 1).")
    ] = "8",
    inputs: Annotated[str, typer.Option("--inputs", help="Input vectors per crossbar.")] = "200",
    network: Annotated[
        bool, typer.Option("--network/--no-network", help="Include the digits perceptron.")
    ] = True,
    through_lines: Annotated[
        bool,
        typer.Option(
            "--through-lines/--no-through-lines",
            help="Also program with verify reads through the lines (IR drop in programming).",
        ),
    ] = True,
    seed: SeedOpt = "0",
    out: OutOpt = None,
    json_path: JsonOpt = None,
    progress: ProgressOpt = True,
    max_time: MaxTimeOpt = None,
) -> None:
    """VMM error and perceptron accuracy vs array size and wire resistance (exact IR drop)."""
    from xbarsim.experiments import irdrop_study as experiment

    size_list = _parse_list("sizes", sizes, int)
    r_list = _parse_list("r_wire", r_wire, float)
    n_inst = check_count("instances", _parse_int("instances", instances, 1), MAX_INSTANCES)
    n_inputs = check_count("inputs", _parse_int("inputs", inputs, 1), MAX_INPUTS)
    s = _parse_int("seed", seed, 0)
    seconds = irdrop_study_seconds(size_list, len(r_list), n_inst, n_inputs, network,
                                   through_lines)
    check_run(irdrop_study_bytes(size_list, n_inputs),
              f"irdrop-study of N up to {max(size_list, default=0)} with {n_inputs} inputs", None,
              out, json_path, seconds=seconds, max_time=max_time)
    start = time.perf_counter()
    study = experiment.run_irdrop_study(
        size_list, r_list, n_inst, n_inputs, s, network, through_lines, progress
    )
    rows = [
        *experiment.comparison_rows(study),
        ComparisonRow("run time (s)", "-", f"{time.perf_counter() - start:.1f}"),
    ]
    to_stdout = json_path == "-"
    title = "IR drop vs size and wire resistance (published: none; our first-order estimate)"
    print_table(comparison_table(title, rows), stderr=to_stdout)
    settings = {"sizes": size_list, "r_wire_ohm": r_list, "instances": n_inst,
                "inputs": n_inputs, "network": network, "through_lines": through_lines}
    text = json.dumps(with_provenance(study.to_json(), s, {"irdrop_study": settings}))
    if out is not None:
        experiment.write_figures(study, out)
        _write_text(out / "results.json", text + "\n", "out")
    if to_stdout:
        typer.echo(text)
    elif json_path is not None:
        _write_text(Path(json_path), text + "\n", "json")

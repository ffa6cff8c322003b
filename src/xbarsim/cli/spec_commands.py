"""Chip-spec commands: ``spec`` writes a named chip or checks a spec file.

``xbarsim spec --preset NAME --out FILE`` writes a preset as YAML (JSON for a ``.json``
file); ``xbarsim spec --check FILE`` validates a file and prints its one-line summary.
Refusals are one line and exit code 2, with nothing written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xbarsim.chip.spec import SPEC_PRESETS, load_spec, spec_preset
from xbarsim.cli import app
from xbarsim.errors import XbarsimInputError
from xbarsim.validation import check_output_file, write_text


@app.command("spec")
def spec_command(
    preset: Annotated[
        str | None,
        typer.Option("--preset", metavar="NAME", help=f"Chip preset: {', '.join(SPEC_PRESETS)}."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Write the preset (YAML; JSON for .json)."),
    ] = None,
    check: Annotated[
        Path | None,
        typer.Option("--check", metavar="FILE", help="Validate a spec file (YAML or JSON)."),
    ] = None,
) -> None:
    """Write a named chip spec, or check a spec file."""
    if (preset is None) == (check is None):
        raise XbarsimInputError("spec: give exactly one of --preset NAME or --check FILE")
    if check is not None:
        if out is not None:
            raise XbarsimInputError("out: --check writes nothing; leave --out out")
        typer.echo(load_spec(check).summary())
        return
    spec = spec_preset(str(preset))
    text = spec.to_json() if out is not None and out.suffix == ".json" else spec.to_yaml()
    if out is None:
        typer.echo(text, nl=False)
        return
    check_output_file(out, "out")
    write_text(out, text, "out")
    typer.echo(spec.summary())

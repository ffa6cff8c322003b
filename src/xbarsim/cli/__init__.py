"""The ``xbarsim`` command line: thin shells over layer-7 library calls.

Each group of commands lives in its own module and registers itself on :data:`app`.
Every invalid input ends in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
import warnings

import click
import typer

try:  # typer >= 0.29 ships its own copy of click
    from typer._click import exceptions as _typer_click
except ImportError:  # pragma: no cover - older typer uses click itself
    _typer_click = click.exceptions

from xbarsim.errors import XbarsimInputError, format_validation_error, one_line

app = typer.Typer(
    name="xbarsim",
    help="Digital twin of passive memristor crossbars (devices, programming, networks).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        from xbarsim import __version__

        typer.echo(f"xbarsim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_version_callback,
        is_eager=True,
    ),
) -> None:
    """Digital twin of passive memristor crossbars (devices, programming, networks)."""


def _register_commands() -> None:
    from xbarsim.cli import (  # noqa: F401  (each module registers its commands on app)
        calibration_commands,
        chip_commands,
        circuit_commands,
        device_commands,
        device_model_commands,
        evaluate_commands,
        mitigation_commands,
        network_commands,
        reproduce_commands,
        spec_commands,
        study_commands,
    )


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one ``warning: ...`` line on stderr (no source location)."""
    print(f"warning: {one_line(str(message))}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    _register_commands()
    command = typer.main.get_command(app)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run(command, argv)


def _run(command: click.Command, argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from xbarsim.provenance import set_command

    set_command(list(args))
    bad = next((a for a in args if "\x00" in a), None)
    if bad is not None:  # no file name can hold one; the OS calls would raise ValueError
        print(f"error: arguments must not contain NUL bytes, got {bad!r}", file=sys.stderr)
        return 2
    try:
        command.main(args=argv, prog_name="xbarsim", standalone_mode=False)
    except XbarsimInputError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except (click.exceptions.UsageError, _typer_click.UsageError) as exc:
        print(f"error: {one_line(exc.format_message())}", file=sys.stderr)
        return 2
    except (click.exceptions.Abort, typer.Abort):
        print("error: aborted", file=sys.stderr)
        return 130
    except (click.exceptions.Exit, typer.Exit) as exc:
        return exc.exit_code
    except Exception as exc:
        if type(exc).__name__ == "ValidationError":
            print(f"error: {one_line(format_validation_error(exc))}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

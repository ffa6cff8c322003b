"""Tables that put a published number beside the one xbarsim obtains (rich)."""

from __future__ import annotations

from typing import NamedTuple

from rich.console import Console
from rich.table import Table


class ComparisonRow(NamedTuple):
    """One line of a comparison: a quantity, its published value and ours, as text."""

    quantity: str
    published: str
    xbarsim: str


def comparison_table(title: str, rows: list[ComparisonRow]) -> Table:
    """A rich table with columns ``quantity | published | xbarsim``.

    Parameters
    ----------
    title : str
        Caption above the table.
    rows : list of ComparisonRow
    """
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("published", justify="right")
    table.add_column("xbarsim", justify="right")
    for row in rows:
        table.add_row(*row)
    return table


def print_table(table: Table, stderr: bool = False) -> None:
    """Print ``table`` to stdout, or to stderr when stdout carries machine output."""
    Console(stderr=stderr).print(table)

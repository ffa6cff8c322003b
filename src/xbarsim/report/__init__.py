"""Layer 7: figures (PNG, matplotlib) and "published vs xbarsim" tables (rich)."""

from xbarsim.report.tables import ComparisonRow, comparison_table, print_table

__all__ = ["ComparisonRow", "comparison_table", "print_table"]

"""Layer 2: batches of crossbars, bias schemes, reads, ideal VMM and VMM with IR drop."""

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.crossbar.irdrop import effective_matrix
from xbarsim.crossbar.lines import Lines, LinesPreset, lines_from_dict, lines_preset

__all__ = [
    "BiasScheme",
    "Crossbar",
    "Lines",
    "LinesPreset",
    "effective_matrix",
    "lines_from_dict",
    "lines_preset",
]

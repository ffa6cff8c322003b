"""Layer 2: batches of crossbars, bias schemes, reads, ideal VMM and VMM with IR drop."""

from xbarsim.crossbar.array import Crossbar, check_positive_int, check_seed
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.crossbar.irdrop import effective_matrix
from xbarsim.crossbar.lines import Lines, LinesPreset, lines_from_dict, lines_preset

__all__ = [
    "BiasScheme",
    "Crossbar",
    "Lines",
    "LinesPreset",
    "check_positive_int",
    "check_seed",
    "effective_matrix",
    "lines_from_dict",
    "lines_preset",
]

"""Layer 2: batches of crossbars, bias schemes, reads and ideal VMM."""

from xbarsim.crossbar.array import Crossbar, check_positive_int, check_seed
from xbarsim.crossbar.bias import BiasScheme

__all__ = ["BiasScheme", "Crossbar", "check_positive_int", "check_seed"]

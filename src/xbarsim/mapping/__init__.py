"""Layer 4: weights <-> conductances, tiling into N x N kernels, chip config (numpy only)."""

from xbarsim.mapping.config import ChipConfig
from xbarsim.mapping.differential import (
    PAIR_MAPPINGS,
    PairMapping,
    check_mapping_range,
    check_pair_mapping,
    pair_formula,
    pair_to_weights,
    single_to_weights,
    weights_to_pair,
    weights_to_single,
)
from xbarsim.mapping.stacks import StackMapping
from xbarsim.mapping.tiling import TileLayout, tile, untile

__all__ = [
    "PAIR_MAPPINGS",
    "ChipConfig",
    "PairMapping",
    "StackMapping",
    "TileLayout",
    "check_mapping_range",
    "check_pair_mapping",
    "pair_formula",
    "pair_to_weights",
    "single_to_weights",
    "tile",
    "untile",
    "weights_to_pair",
    "weights_to_single",
]

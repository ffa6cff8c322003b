"""Layer 4: weights <-> conductances, tiling into N x N kernels, chip config (numpy only)."""

from xbarsim.mapping.config import ChipConfig
from xbarsim.mapping.currents import CurrentStack, ParameterRule
from xbarsim.mapping.defects import compensation_pairs, retune_pairs
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
from xbarsim.mapping.state_optimization import StateOptimization, search
from xbarsim.mapping.tiling import TileLayout, tile, untile

__all__ = [
    "PAIR_MAPPINGS",
    "ChipConfig",
    "CurrentStack",
    "PairMapping",
    "ParameterRule",
    "StackMapping",
    "StateOptimization",
    "TileLayout",
    "check_mapping_range",
    "check_pair_mapping",
    "compensation_pairs",
    "pair_formula",
    "pair_to_weights",
    "retune_pairs",
    "search",
    "single_to_weights",
    "tile",
    "untile",
    "weights_to_pair",
    "weights_to_single",
]

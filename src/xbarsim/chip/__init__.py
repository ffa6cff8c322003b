"""Layer 5: the chip around the crossbar — X-block control logic (Table III), TIA offset
compensation with memristor pairs, the MLP chip, and energy, area and latency computed
from simulated activity."""

from xbarsim.chip.activity_cost import LayerActivity, activity_cost
from xbarsim.chip.cost import (
    ArrayGroup,
    CostParameters,
    array_supply_power_w,
    chip_cost,
    estimate_programming_cost,
    logged_programming_cost,
    programming_cost,
    vmm_cost,
)
from xbarsim.chip.mlp import map_mlp, program_mlp, run_mlp
from xbarsim.chip.offset import OffsetComp, draw_offsets
from xbarsim.chip.spec import SPEC_PRESETS, ChipSpec, load_spec, spec_from_dict, spec_preset
from xbarsim.chip.xblock import TABLE_III, ShiftRegister, XBlock, bus_voltages, decode

__all__ = [
    "SPEC_PRESETS",
    "TABLE_III",
    "ArrayGroup",
    "ChipSpec",
    "CostParameters",
    "LayerActivity",
    "OffsetComp",
    "ShiftRegister",
    "XBlock",
    "activity_cost",
    "array_supply_power_w",
    "bus_voltages",
    "chip_cost",
    "decode",
    "draw_offsets",
    "estimate_programming_cost",
    "load_spec",
    "logged_programming_cost",
    "map_mlp",
    "program_mlp",
    "programming_cost",
    "run_mlp",
    "spec_from_dict",
    "spec_preset",
    "vmm_cost",
]

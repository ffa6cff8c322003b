"""Layer 5: the chip around the crossbar — X-block control logic (Table III), TIA offset
compensation with memristor pairs, and energy, area and latency from simulated activity."""

from xbarsim.chip.xblock import TABLE_III, ShiftRegister, XBlock, bus_voltages, decode

__all__ = ["TABLE_III", "ShiftRegister", "XBlock", "bus_voltages", "decode"]

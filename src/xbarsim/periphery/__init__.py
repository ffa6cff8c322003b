"""Layer 5: the CMOS periphery around a crossbar (DAC, TIA, ADC) in physical units."""

from xbarsim.periphery.converters import ADC, DAC, Conversion
from xbarsim.periphery.read_path import ReadOut, ReadPath
from xbarsim.periphery.tia import TIA, TiaOutput

__all__ = ["ADC", "DAC", "TIA", "Conversion", "ReadOut", "ReadPath", "TiaOutput"]

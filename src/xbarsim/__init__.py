"""xbarsim: a digital twin of passive (0T1R) memristor crossbars.

Layers present (DESIGN.md section 1): devices -> crossbar -> programming -> mapping -> nn ->
experiments/sweeps/report, with the CLI on top. Units: volts, siemens, seconds, degrees C.
"""

from xbarsim import devices
from xbarsim.crossbar import BiasScheme, Crossbar
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping import ChipConfig
from xbarsim.programming import ProgramResult, WriteVerify, program

__version__ = "0.1.0"

__all__ = [
    "BiasScheme",
    "ChipConfig",
    "Crossbar",
    "ProgramResult",
    "WriteVerify",
    "XbarsimInputError",
    "__version__",
    "devices",
    "program",
]

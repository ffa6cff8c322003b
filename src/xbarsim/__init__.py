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

#: Subpackages loaded on first attribute access (``xbarsim.nn`` imports torch).
_LAZY = ("chip", "crossbar", "experiments", "mapping", "nn", "periphery", "programming",
         "report", "sweeps")


def __getattr__(name: str) -> object:
    """``xbarsim.nn``, ``xbarsim.chip``, ... without importing them up front."""
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"xbarsim.{name}")
    raise AttributeError(f"module 'xbarsim' has no attribute {name!r}")

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

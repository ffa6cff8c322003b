"""xbarsim: a digital twin of passive (0T1R) memristor crossbars.

Layers, bottom-up (each imports only the ones below it): devices -> crossbar ->
programming -> mapping -> periphery/chip -> nn (PyTorch) -> experiments/sweeps/report, with
the ``xbarsim`` command line on top (see ``docs/architecture.md``). Units: volts, siemens,
seconds, degrees C.

It reproduces the experiments of H. Kim, H. Nili, M. R. Mahmoodi, D. B. Strukov,
"4K-Memristor Analog-Grade Passive Crossbar Circuit" (UC Santa Barbara), and of Z. Fahimi,
"Energy-Efficient Neuromorphic Computing with CMOS-Integrated Memristive Crossbars", PhD
dissertation, UC Santa Barbara, 2021, https://escholarship.org/uc/item/4jp0w0jc.
"""

from xbarsim import devices
from xbarsim.crossbar import BiasScheme, Crossbar
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping import ChipConfig
from xbarsim.programming import ProgramResult, WriteVerify, program

#: The package version, written only here (pyproject.toml reads it).
__version__ = "0.1.0"

#: Subpackages not imported above, loaded on first attribute access (``xbarsim.nn`` imports
#: torch).
_LAZY = ("chip", "experiments", "nn", "periphery", "report", "reproduce", "sweeps")


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

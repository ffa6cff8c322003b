"""Layer 3: tuning algorithms and the engines that run them."""

from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import (
    ENGINES,
    StuckDevicesWarning,
    gpu_available,
    program,
    resolve_engine,
)
from xbarsim.programming.result import ProgramResult

__all__ = [
    "ENGINES",
    "ProgramResult",
    "StuckDevicesWarning",
    "WriteVerify",
    "gpu_available",
    "program",
    "resolve_engine",
]

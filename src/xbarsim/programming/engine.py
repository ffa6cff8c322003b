"""Engine selection: one entry point, :func:`program`, for every engine (layer 3).

Engines
-------
``"reference"``
    Plain pulse-by-pulse engine (:mod:`xbarsim.programming.reference`).
``"cpu"``
    Compiled numba engine, parallel over crossbars, ramp-level disturbance accumulation.
``"cpu-direct"``
    The compiled engine with accumulation switched off (every disturbance applied at
    every pulse); for benchmarking.
``"gpu"``
    numba-cuda engine; needs a CUDA GPU.
``"auto"``
    ``"gpu"`` when a CUDA GPU is usable, else ``"cpu"``.
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from xbarsim.crossbar.array import Crossbar
from xbarsim.errors import XbarsimInputError
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.cuda_support import load_cuda
from xbarsim.programming.reference import program_reference
from xbarsim.programming.refresh import refresh_outliers
from xbarsim.programming.result import ProgramResult
from xbarsim.programming.targets import broadcast_targets

ENGINES = ("auto", "reference", "cpu", "cpu-direct", "gpu")


def gpu_available() -> bool:
    """True when numba-cuda is installed and a CUDA device answers."""
    try:
        cuda = load_cuda()
    except ImportError:
        return False
    try:
        return bool(cuda.is_available())
    except Exception:
        return False


def resolve_engine(engine: str) -> str:
    """Map ``"auto"`` to a concrete engine and validate the name."""
    if engine not in ENGINES:
        raise XbarsimInputError(f"engine: unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    if engine == "auto":
        return "gpu" if gpu_available() else "cpu"
    if engine == "gpu" and not gpu_available():
        raise XbarsimInputError("engine: 'gpu' needs a CUDA GPU and numba-cuda; none found")
    return engine


def program(
    xbars: Crossbar,
    targets: ArrayLike,
    algorithm: WriteVerify | None = None,
    engine: str = "auto",
    progress: bool = False,
) -> ProgramResult:
    """Program ``xbars`` (in place) toward ``targets`` (S) with write-verify.

    Parameters
    ----------
    xbars : Crossbar
        Batch of crossbars; their conductances are updated in place.
    targets : array_like, shape (rows, cols) or (batch, rows, cols)
        Target conductances (S), strictly inside the device bounds.
    algorithm : WriteVerify, optional
        Defaults to :meth:`WriteVerify.thesis`.
    engine : str
        One of :data:`ENGINES`.
    progress : bool
        Show a progress bar.

    Returns
    -------
    ProgramResult
    """
    algorithm = WriteVerify.thesis() if algorithm is None else algorithm
    name = resolve_engine(engine)
    refreshed = None
    if algorithm.refresh is not None:
        broadcast_targets(xbars, targets)  # validate before changing the crossbars
        refreshed = refresh_outliers(xbars, algorithm.refresh)
    if name == "reference":
        result = program_reference(xbars, targets, algorithm, progress=progress)
    elif name in ("cpu", "cpu-direct"):
        from xbarsim.programming.compiled import program_compiled

        result = program_compiled(
            xbars, targets, algorithm, accumulate=(name == "cpu"), progress=progress
        )
    else:
        from xbarsim.programming.gpu import program_gpu

        result = program_gpu(xbars, targets, algorithm, progress=progress)
    result.refreshed = refreshed
    return result

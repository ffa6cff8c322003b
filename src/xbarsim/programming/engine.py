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
    ``"gpu"`` when a CUDA GPU is usable, else ``"cpu"``; if the GPU engine cannot
    import, compile or launch, ``"cpu"`` with a one-line :class:`EngineFallbackWarning`.
"""

from __future__ import annotations

import functools
import warnings
from typing import Annotated

from numpy.typing import ArrayLike
from pydantic import AfterValidator

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.lines import Lines
from xbarsim.errors import XbarsimInputError, user_stacklevel, warn_user
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.cuda_support import load_cuda
from xbarsim.programming.pulse_power import pulse_power
from xbarsim.programming.reference import program_reference
from xbarsim.programming.refresh import refresh_outliers
from xbarsim.programming.result import ProgramResult
from xbarsim.programming.targets import broadcast_targets, leave_alone
from xbarsim.programming.verify_read import VerifyRead

ENGINES = ("auto", "reference", "cpu", "cpu-direct", "gpu")


def _known_engine(value: str) -> str:
    if value not in ENGINES:
        raise ValueError(f"unknown engine {value!r}; allowed: {', '.join(ENGINES)}")
    return value


#: A programming engine name as a validated config field (one of :data:`ENGINES`).
EngineName = Annotated[str, AfterValidator(_known_engine)]


#: The probe's answer on a machine without a CUDA device: the normal case, no warning.
NO_DEVICE = "no CUDA device answers"


class EngineFallbackWarning(UserWarning):
    """``engine="auto"`` found a GPU but could not use the GPU engine; it runs ``cpu``."""


class StuckDevicesWarning(UserWarning):
    """Programming met devices that did not move at the amplitude cap while neither the
    algorithm's ``stuck_detection`` nor ``abandon_at_cap`` was on: they were retried in
    every pass."""


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


@functools.cache
def gpu_problem() -> str | None:
    """Why the GPU engine cannot run in this process, or None when it can.

    Probes, once per process: numba-cuda imports, a CUDA device answers, and the GPU
    engine module imports. :data:`NO_DEVICE` is the answer on a machine without a GPU.
    """
    try:
        cuda = load_cuda()
    except Exception as exc:  # ImportError, or numba-cuda breaking on a newer numpy
        return f"numba-cuda does not import ({_brief(exc)})"
    try:
        if not cuda.is_available():
            return NO_DEVICE
    except Exception as exc:
        return f"the CUDA driver does not answer ({_brief(exc)})"
    try:
        import xbarsim.programming.gpu  # noqa: F401  (compiles nothing yet; checks imports)
    except Exception as exc:
        return f"the GPU engine does not import ({_brief(exc)})"
    return None


#: Why the GPU engine failed to compile or launch in this process (set on first failure).
_launch_failure: list[str] = []
#: Fallback reasons already warned about in this process (each is said once).
_warned: set[str] = set()


def _gpu_unusable() -> str | None:
    return _launch_failure[0] if _launch_failure else gpu_problem()


def gpu_available() -> bool:
    """True when numba-cuda works, a CUDA device answers and the GPU engine has not failed."""
    return _gpu_unusable() is None


def _warn_fallback(reason: str) -> None:
    if reason in _warned:
        return
    _warned.add(reason)
    warnings.warn(
        f"engine auto: GPU engine unavailable, using cpu: {reason}",
        EngineFallbackWarning,
        stacklevel=user_stacklevel(),
    )


def resolve_engine(engine: str) -> str:
    """Map ``"auto"`` to a concrete engine and validate the name.

    ``"auto"`` is ``"gpu"`` when the GPU engine is usable, else ``"cpu"`` (with an
    :class:`EngineFallbackWarning` when a GPU setup exists but fails); an explicit
    ``"gpu"`` that cannot run raises a one-line :class:`XbarsimInputError` saying why.
    """
    if engine not in ENGINES:
        raise XbarsimInputError(f"engine: unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    if engine not in ("auto", "gpu"):
        return engine
    problem = _gpu_unusable()
    if problem is None:
        return "gpu"
    if engine == "gpu":
        raise XbarsimInputError(f"engine: 'gpu' cannot run here: {problem}")
    if problem != NO_DEVICE:
        _warn_fallback(problem)
    return "cpu"


def program(
    xbars: Crossbar,
    targets: ArrayLike,
    algorithm: WriteVerify | None = None,
    engine: str = "auto",
    progress: bool = False,
    verify_read: VerifyRead | None = None,
    write_lines: Lines | None = None,
    skip: ArrayLike | None = None,
    keep_pulse_v2: bool = True,
    keep_history: bool = True,
    copy_conductance: bool = True,
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
    verify_read : VerifyRead, optional
        How a device is read after each pulse. An exact read (None, or ``exact``) keeps
        the closed-form engines; a quantized or noisy one is stepped pulse by pulse in the
        reference engine (``engine`` must then be ``"auto"`` or ``"reference"``).
    write_lines : Lines, optional
        Write pulses through these line resistances (V and V/2 reduced by the line drop
        at every device), stepped pulse by pulse in the reference engine like a
        non-exact ``verify_read``.
    skip : array_like of bool, shape (rows, cols) or (batch, rows, cols), optional
        Devices left alone: never selected, so no pulse is applied on their behalf (e.g.
        kernel cells that carry no weight, devices known to be stuck). Their targets are
        ignored; they still feel their neighbours' half-selects.
    keep_pulse_v2 : bool
        Keep the per-device squared-amplitude sums (``pulse_v2_sum``, one float per
        device); the per-crossbar write power ``pulse_power_w`` is recorded either way.
        Large deployments pass False (with the compiled engine the run then holds no
        per-device sums or starting conductances beyond its current chunk).
    keep_history : bool
        Record the error statistics after every pass (``history``). False lets the compiled
        and GPU engines skip them (about 5 % of a 64 x 64 crossbar's time on the CPU, a copy
        of every conductance to the host per pass on the GPU; the history's arrays then
        have no columns); the reference engine records them anyway.
    copy_conductance : bool
        Give the result its own copy of the programmed conductances. False makes
        ``result.conductance`` the crossbars' own array (no copy, one float64 per device
        less at the end of the run; a later write to the crossbars changes the result).

    Returns
    -------
    ProgramResult
        ``unswitchable`` is the crossbars' fault map; ``skipped`` the devices left alone.
    """
    algorithm = WriteVerify.thesis() if algorithm is None else algorithm
    stepped = verify_read is not None and not verify_read.exact
    if (stepped or write_lines is not None) and engine not in ("auto", "reference"):
        raise XbarsimInputError(
            f"engine: a quantized or noisy verify read or a write through lines is stepped "
            f"per pulse by the 'reference' engine, got {engine!r}"
        )
    stepped = stepped or write_lines is not None
    name = "reference" if stepped else resolve_engine(engine)
    fault_map = xbars.unswitchable.copy()
    xbars, skipped = leave_alone(xbars, skip)
    refreshed = None
    if algorithm.refresh is not None:
        broadcast_targets(xbars, targets)  # validate before changing the crossbars
        refreshed = refresh_outliers(xbars, algorithm.refresh)
    compiled = name in ("cpu", "cpu-direct")
    # the compiled engine reduces the write power per crossbar inside its kernel
    start = None if compiled else xbars.conductance.copy()
    if name == "reference":
        result = program_reference(
            xbars, targets, algorithm, progress=progress,
            verify_read=None if verify_read is None or verify_read.exact else verify_read,
            write_lines=write_lines,
        )
    elif compiled:
        from xbarsim.programming.compiled import program_compiled

        result = program_compiled(
            xbars, targets, algorithm, accumulate=(name == "cpu"), progress=progress,
            keep_pulse_v2=keep_pulse_v2, keep_history=keep_history,
            copy_conductance=copy_conductance,
        )
    else:
        result = _program_gpu(xbars, targets, algorithm, engine, progress, keep_history)
    if result.pulse_power_w is None and start is not None and result.pulse_v2_sum is not None:
        result.pulse_power_w = pulse_power(
            result.pulse_v2_sum, start, result.target, xbars.unswitchable, algorithm.scheme
        )
    if not keep_pulse_v2:
        result.pulse_v2_sum = None
    if not copy_conductance:
        result.conductance = xbars.conductance
    result.refreshed = refreshed
    if skipped.any():
        result.unswitchable = fault_map
        result.skipped = skipped
    retried = not (algorithm.stuck_detection or algorithm.abandon_at_cap)
    if retried and result.stuck is not None and result.stuck.any():
        warn_user(
            f"programming met {int(result.stuck.sum())} device(s) that did not move at the "
            f"{algorithm.max_amplitude_v:g} V amplitude cap with stuck_detection off; they were "
            "retried in every pass, disturbing their rows and columns (set "
            "WriteVerify(stuck_detection=True) to abandon them)",
            StuckDevicesWarning,
        )
    return result


def _program_gpu(
    xbars: Crossbar, targets: ArrayLike, algorithm: WriteVerify, engine: str, progress: bool,
    keep_history: bool,
) -> ProgramResult:
    """The GPU engine; on a compile or launch failure ``cpu`` (``engine="auto"``) or a
    one-line error (``engine="gpu"``). The crossbars are restored before falling back."""
    saved = xbars.conductance.copy()
    try:
        from xbarsim.programming.gpu import program_gpu

        return program_gpu(xbars, targets, algorithm, progress=progress,
                           keep_history=keep_history)
    except XbarsimInputError:
        raise
    except Exception as exc:  # compile or launch failure (numba, driver, out of memory)
        xbars.conductance[...] = saved
        _launch_failure.append(f"compiling or launching the kernel failed ({_brief(exc)})")
        if engine == "gpu":
            raise XbarsimInputError(f"engine: 'gpu' failed: {_launch_failure[0]}") from None
        _warn_fallback(_launch_failure[0])
    from xbarsim.programming.compiled import program_compiled

    return program_compiled(xbars, targets, algorithm, accumulate=True, progress=progress,
                            keep_history=keep_history)

"""What write-verify learned about faulty devices (layer 3).

Engines pulse a stuck device like any other: it takes its ramps, never moves, disturbs its
half-selected neighbours, and ends abandoned at the amplitude cap (or out of tolerance).
The stuck-device rule (``WriteVerify.stuck_detection``) declares a device stuck when a ramp
reaches the cap without moving it; :attr:`FaultReport.declared` holds those devices.
:func:`fault_report` reads that back from a :class:`ProgramResult` and the crossbars'
fault map, for mitigations (pair retuning, compensation) that act on the run result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.stuck import FaultCode
from xbarsim.programming.result import ProgramResult


@dataclass(frozen=True)
class FaultReport:
    """Stuck devices as programming saw them.

    Attributes
    ----------
    fault : ndarray of int8, shape (batch, rows, cols)
        Fault codes (:class:`~xbarsim.devices.stuck.FaultCode`).
    detected : ndarray of bool, shape (batch, rows, cols)
        Stuck devices that write-verify flagged: abandoned at the cap or left out of
        tolerance. A stuck device whose value happens to lie within tolerance of its target
        is not detected (and needs no mitigation), nor is one the run skipped.
    pulses_on_stuck : ndarray of int64, shape (batch,)
        Write pulses spent on stuck devices per crossbar.
    declared : ndarray of bool, shape (batch, rows, cols)
        Devices the run declared stuck by the stuck-device rule (a ramp reached the
        amplitude cap without moving them; :attr:`ProgramResult.stuck`), whatever their
        fault code.
    """

    fault: NDArray[np.int8]
    detected: NDArray[np.bool_]
    pulses_on_stuck: NDArray[np.int64]
    declared: NDArray[np.bool_]

    @property
    def stuck(self) -> NDArray[np.bool_]:
        """Stuck devices (high, low or random)."""
        return self.fault >= FaultCode.STUCK_HIGH

    def counts(self) -> dict[str, NDArray[np.int64]]:
        """Per-crossbar counts of every fault code, of detected stuck devices and of
        devices declared stuck by the rule (``"declared_stuck"``)."""
        out = {
            code.name.lower(): (self.fault == code).sum(axis=(1, 2)).astype(np.int64)
            for code in FaultCode
        }
        out["detected"] = self.detected.sum(axis=(1, 2)).astype(np.int64)
        out["declared_stuck"] = self.declared.sum(axis=(1, 2)).astype(np.int64)
        return out


def fault_report(xbars: Crossbar, result: ProgramResult) -> FaultReport:
    """Fault report of a programming run on ``xbars`` (the crossbars it programmed)."""
    fault = xbars.fault.copy()
    stuck = fault >= FaultCode.STUCK_HIGH
    out_of_tolerance = result.error > result.tolerance
    detected = stuck & (result.abandoned | out_of_tolerance)
    if result.skipped is not None:  # never selected, so never seen
        detected &= ~result.skipped
    pulses = np.where(stuck, result.pulses, 0).sum(axis=(1, 2)).astype(np.int64)
    declared = np.zeros_like(stuck) if result.stuck is None else result.stuck.copy()
    return FaultReport(fault=fault, detected=detected, pulses_on_stuck=pulses, declared=declared)

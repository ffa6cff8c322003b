"""How write-verify reads a device after each pulse (layer 3).

The closed-form engines assume the verify read returns the device's conductance exactly;
that is what lets them jump from pulse to pulse in one step. A real read goes through the
periphery (a quantizing ADC, a TIA with finite gain, noise), so the algorithm decides on a
*measured* conductance and the sequence of pulses depends on every read: such reads are
stepped pulse by pulse in the reference engine
(:func:`xbarsim.programming.reference.program_reference` with ``verify_read``).

:class:`VerifyRead` is what the engine needs from a read: a conductance estimate (S) of one
device, given its true conductance and a random generator. Layer 5 builds physical ones
(:meth:`xbarsim.periphery.ReadPath.verify_read`); :class:`ExactRead` is the closed-form
engines' read, stepped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class VerifyRead(Protocol):
    """A verify read: conductance estimates (S) of single devices.

    Attributes
    ----------
    exact : bool
        True when :meth:`read_conductance` returns its input unchanged (the closed-form
        engines then apply).
    seed : int
        Root seed of the read noise; crossbar ``b`` of a batch reads with child ``b`` of
        ``numpy.random.SeedSequence(seed)``.
    """

    exact: bool
    seed: int

    def read_conductance(self, g_s: float, rng: np.random.Generator) -> float:
        """The conductance (S) a read of a device of true conductance ``g_s`` (S) reports."""
        ...


@dataclass(frozen=True)
class ExactRead:
    """The read of the closed-form engines: the conductance itself (no noise, no steps)."""

    exact: bool = True
    seed: int = 0

    def read_conductance(self, g_s: float, rng: np.random.Generator) -> float:
        """Return ``g_s`` (S) unchanged."""
        return g_s


def read_generators(read: VerifyRead, batch: int) -> list[np.random.Generator]:
    """One generator per crossbar of a batch: child ``b`` of ``SeedSequence(read.seed)``,
    so crossbar ``b`` reads the same noise whatever the batch size."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(read.seed).spawn(batch)]

"""Stuck devices: defect kinds, rates and the fault-code map (layer 1; thesis 2.4.2).

Each device is independently defective with probability ``ppm * 1e-6`` per kind
(independence is an **assumption**; the paper reports scattered single devices). A stuck
device sits at ``g_high_s``, at ``g_low_s``, or at a value uniform on
``(g_low_s, g_high_s)``; programming sees it as a device whose switching thresholds are
infinite: it takes its ramps, never moves, and is reported.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator


class FaultCode(IntEnum):
    """Per-device fault codes stored on the crossbar (``int8``)."""

    OK = 0
    UNSWITCHABLE = 1
    STUCK_HIGH = 2
    STUCK_LOW = 3
    STUCK_RANDOM = 4


class StuckFaults(BaseModel):
    """Rates (ppm of devices) and values of the three stuck-at defect kinds.

    Attributes
    ----------
    high_ppm, low_ppm, random_ppm : float
        Probability per device (parts per million, each in [0, 1e6], sum <= 1e6) of being
        stuck at ``g_high_s``, at ``g_low_s``, or at a uniform random value between them.
    g_low_s, g_high_s : float
        Stuck conductances (S); defaults 10 and 100 uS (the memristor range, an
        **assumption**, our reading of the thesis).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    high_ppm: float = Field(0.0, ge=0.0, le=1e6)
    low_ppm: float = Field(0.0, ge=0.0, le=1e6)
    random_ppm: float = Field(0.0, ge=0.0, le=1e6)
    g_low_s: float = Field(10e-6, gt=0.0, lt=1.0)
    g_high_s: float = Field(100e-6, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check(self) -> StuckFaults:
        total = self.high_ppm + self.low_ppm + self.random_ppm
        if total > 1e6:
            raise ValueError(f"high_ppm + low_ppm + random_ppm must be <= 1e6, got {total:g}")
        if self.g_high_s <= self.g_low_s:
            raise ValueError("g_high_s must exceed g_low_s")
        return self

    @classmethod
    def mixed(cls, ppm: float, **overrides: object) -> StuckFaults:
        """The three kinds with equal probability, ``ppm`` in total (thesis Fig. 25)."""
        third = ppm / 3.0
        return cls(high_ppm=third, low_ppm=third, random_ppm=third, **overrides)

    @property
    def total_ppm(self) -> float:
        """Total defect rate (ppm)."""
        return self.high_ppm + self.low_ppm + self.random_ppm

    def draw(
        self, shape: tuple[int, ...], rng: np.random.Generator
    ) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
        """Fault codes and stuck conductances (S; NaN where not stuck) of one array.

        Always draws two uniforms per device, so the stream does not depend on the rates.
        """
        u = rng.random(shape)
        value = rng.uniform(self.g_low_s, self.g_high_s, shape)
        p_high = self.high_ppm * 1e-6
        p_low = p_high + self.low_ppm * 1e-6
        p_rand = p_low + self.random_ppm * 1e-6
        code = np.full(shape, FaultCode.OK, dtype=np.int8)
        code[u < p_rand] = FaultCode.STUCK_RANDOM
        code[u < p_low] = FaultCode.STUCK_LOW
        code[u < p_high] = FaultCode.STUCK_HIGH
        stuck = np.full(shape, np.nan)
        stuck[code == FaultCode.STUCK_HIGH] = self.g_high_s
        stuck[code == FaultCode.STUCK_LOW] = self.g_low_s
        random = code == FaultCode.STUCK_RANDOM
        stuck[random] = value[random]
        return code, stuck

"""Device stack x weight mapping: RM1, RM2, FM1, FM2 (layer 4; thesis ch. 2).

A signed weight ``w`` (normalized, ``r = |w|`` in [0, 1]) is carried by a device pair whose
**currents** follow the mapping:

mapping 1 (one-sided)
    ``I+ = I_min + dI_max max(w, 0)``, ``I- = I_min + dI_max max(-w, 0)``.
mapping 2 (balanced)
    ``I+/- = I_b +/- w dI_max / 2`` (needs ``I_b >= dI_max / 2``).

and the effective weight read back is ``(I+ - I-) / dI_max``. The stacks:

``RM`` (memristor)
    Currents at the largest input ``V_max`` counted above the device floor:
    ``G = G_min + I / V_max`` (the spec's ``current_reference = "above_floor"``), each
    device then follows the memristor temperature model.
``FM`` (eFlash gate-coupled)
    Currents are absolute state currents, ``w0 = I / I_max``; each cell follows the eFlash
    synapse's temperature model (:class:`~xbarsim.devices.eflash.EflashSynapse`).

The design points of :meth:`StackMapping.preset` are the spec's baseline (unmitigated)
choices, **assumptions** (the thesis does not print them): RM1 ``I_min`` = 0,
``dI_max`` = 9 uA; RM2 ``I_b`` = 4.5 uA, 9 uA; FM1 ``I_min`` = 0, 30 nA; FM2 ``I_b`` = 15 nA,
30 nA.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.devices.eflash import EflashSynapse
from xbarsim.devices.temperature import MemristorTemperature
from xbarsim.errors import XbarsimInputError

StackLabel = Literal["RM1", "RM2", "FM1", "FM2"]


class StackMapping(BaseModel):
    """A device technology with a weight mapping and its design point.

    Attributes
    ----------
    stack : {"RM", "FM"}
        Memristor (RRAM) or eFlash.
    mapping : {1, 2}
        One-sided (1) or balanced (2).
    delta_i_max_a : float
        Weight-independent dynamic range ``dI_max`` (A).
    i_min_a : float
        Minimum current of mapping 1 (A).
    i_bias_a : float
        Bias current of mapping 2 (A).
    v_max_v, g_min_s, g_max_s : float
        Memristor read-out: currents at ``v_max_v`` above the floor ``g_min_s`` (S),
        conductances clipped at ``g_max_s``.
    memristor : MemristorTemperature
    eflash : EflashSynapse
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    stack: Literal["RM", "FM"]
    mapping: Literal[1, 2]
    delta_i_max_a: float = Field(gt=0.0, lt=1.0)
    i_min_a: float = Field(0.0, ge=0.0, lt=1.0)
    i_bias_a: float = Field(0.0, ge=0.0, lt=1.0)
    v_max_v: float = Field(0.1, gt=0.0, le=10.0)
    g_min_s: float = Field(10e-6, gt=0.0, lt=1.0)
    g_max_s: float = Field(100e-6, gt=0.0, lt=1.0)
    memristor: MemristorTemperature = MemristorTemperature()
    eflash: EflashSynapse = EflashSynapse()

    @model_validator(mode="after")
    def _check(self) -> StackMapping:
        if self.mapping == 2 and self.i_bias_a < self.delta_i_max_a / 2 * (1 - 1e-12):
            raise ValueError("i_bias_a must be >= delta_i_max_a / 2 for mapping 2")
        top = self.i_max_a()
        high = (
            self.i_min_a + self.delta_i_max_a
            if self.mapping == 1
            else (self.i_bias_a + self.delta_i_max_a / 2)
        )
        if high > top * (1 + 1e-12):
            raise ValueError(f"the largest device current {high:g} A exceeds the stack's {top:g} A")
        return self

    def i_max_a(self) -> float:
        """Largest current a device of the stack carries (A)."""
        if self.stack == "FM":
            return self.eflash.i_max_a
        return (self.g_max_s - self.g_min_s) * self.v_max_v

    @classmethod
    def preset(cls, label: str) -> StackMapping:
        """Baseline design point of ``RM1``, ``RM2``, ``FM1`` or ``FM2`` (assumptions)."""
        points = {
            "RM1": {"stack": "RM", "mapping": 1, "delta_i_max_a": 9e-6, "i_min_a": 0.0},
            "RM2": {"stack": "RM", "mapping": 2, "delta_i_max_a": 9e-6, "i_bias_a": 4.5e-6},
            "FM1": {"stack": "FM", "mapping": 1, "delta_i_max_a": 30e-9, "i_min_a": 0.0},
            "FM2": {"stack": "FM", "mapping": 2, "delta_i_max_a": 30e-9, "i_bias_a": 15e-9},
        }
        if label not in points:
            raise XbarsimInputError(f"stack: unknown label {label!r}; allowed: RM1, RM2, FM1, FM2")
        return cls.model_validate(points[label])

    def currents(self, weights: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Device currents ``(I+, I-)`` (A) of normalized weights in [-1, 1]."""
        w = np.asarray(weights, dtype=np.float64)
        if not np.all(np.isfinite(w)) or (w.size and np.max(np.abs(w)) > 1.0 + 1e-12):
            raise XbarsimInputError("weights: must be finite and normalized to [-1, 1]")
        if self.mapping == 1:
            return (
                self.i_min_a + self.delta_i_max_a * np.maximum(w, 0.0),
                self.i_min_a + self.delta_i_max_a * np.maximum(-w, 0.0),
            )
        half = w * self.delta_i_max_a / 2
        return self.i_bias_a + half, self.i_bias_a - half

    def device_current_at(
        self, current_a: NDArray[np.float64], temp_c: float, strict: bool = False
    ) -> NDArray[np.float64]:
        """Current (A) at ``temp_c`` (degrees C) of devices tuned to ``current_a`` at T0."""
        if self.stack == "FM":
            w0 = current_a / self.eflash.i_max_a
            return self.eflash.weight_at(w0, temp_c, strict) * self.eflash.i_max_a
        g0 = np.minimum(self.g_min_s + current_a / self.v_max_v, self.g_max_s)
        return self.memristor.conductance_at(g0, temp_c, strict) * self.v_max_v

    def effective_weights(
        self, weights: ArrayLike, temp_c: float = 25.0, strict: bool = False
    ) -> NDArray[np.float64]:
        """Weights read back at die temperature ``temp_c``: ``(I+(T) - I-(T)) / dI_max``.

        Each device of the pair follows its stack's temperature model separately (thesis
        2.4.1); at the tuning temperature the result equals ``weights``.
        """
        plus, minus = self.currents(weights)
        hot_plus = self.device_current_at(plus, temp_c, strict)
        hot_minus = self.device_current_at(minus, temp_c, strict)
        return (hot_plus - hot_minus) / self.delta_i_max_a

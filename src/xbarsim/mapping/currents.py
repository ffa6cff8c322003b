"""Chapter-2 weight mappings as device currents, for memristor and eFlash stacks (layer 4).

Each weight ``w`` of a layer is carried by a device pair; ``r = |w| / w_max`` in [0, 1] and
``s = w / w_max`` in [-1, 1] (our reconstruction from the thesis):

mapping 1 (one-sided, "minimum synaptic current")
    ``I+ = I_min + dI_max max(s, 0)``, ``I- = I_min + dI_max max(-s, 0)``
mapping 2 (balanced, "bias current")
    ``I+/- = I_b +/- s dI_max / 2``

``I_min`` / ``I_b`` may depend on ``r`` (state optimization, thesis approach 3) through a
clipped-linear :class:`ParameterRule`. The effective weight read back at die temperature
``T`` is ``s_eff(T) = (I+(T) - I-(T)) / dI_max``.

Stacks (:class:`CurrentStack`):

memristor
    Currents at the largest inference input ``V_max`` = 0.1 V. With the default
    ``current_reference="above_floor"`` a current ``I`` means the conductance
    ``G = G_min + I / V_max`` (``G_min`` = 10 uS), so the usable currents are 0 ... 9 uA
    (``(G_max - G_min) V_max``); ``"absolute"`` means ``G = clip(I / V_max, G_min, G_max)``.
    Both readings are **assumptions** (our reading of the thesis). Temperature acts on ``G``
    (:class:`~xbarsim.devices.temperature.MemristorTemperature`).
eFlash
    Absolute state currents 0 ... ``I_max`` = 30 nA of gate-coupled cells; the temperature
    model acts on the cell weight ``I / I_max``
    (:data:`~xbarsim.devices.temperature.EflashTemperature`). States below the model's
    fitted range take the relative change of its lower end (an **assumption**: the model is
    not fitted there, and such currents carry little of the weight).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.devices.temperature import (
    EflashSubthresholdTemperature,
    EflashTemperature,
    MemristorTemperature,
)
from xbarsim.errors import XbarsimInputError

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

Stack = Literal["memristor", "eflash"]
CurrentMapping = Literal["mapping1", "mapping2"]
STACKS = ("memristor", "eflash")
CURRENT_MAPPINGS = ("mapping1", "mapping2")
#: Labels of the thesis's stack/mapping cases (Fig. 21 caption).
CASES = {
    "rm1": ("memristor", "mapping1"),
    "rm2": ("memristor", "mapping2"),
    "fm1": ("eflash", "mapping1"),
    "fm2": ("eflash", "mapping2"),
}


def check_case(name: str) -> tuple[str, str]:
    """(stack, mapping) of a case label ``rm1``, ``rm2``, ``fm1`` or ``fm2``."""
    key = str(name).lower()
    if key not in CASES:
        raise XbarsimInputError(f"mapping: unknown case {name!r}; allowed: {', '.join(CASES)}")
    return CASES[key]


class CurrentStack(BaseModel):
    """A device stack seen through currents, with its temperature model.

    Attributes
    ----------
    kind : {"memristor", "eflash"}
    i_cap_a : float
        Largest usable mapping current (A): 9 uA (memristor, 10-100 uS at 0.1 V above the
        floor) or ``I_max`` = 30 nA (eFlash).
    v_max_v : float
        Memristor only: inference input the currents are counted at (V).
    g_min_s, g_max_s : float
        Memristor only: conductance range (S).
    current_reference : {"above_floor", "absolute"}
        Memristor only: how a mapping current becomes a conductance (module docstring).
    memristor_temperature : MemristorTemperature
    eflash_temperature : EflashPolyTemperature or EflashSubthresholdTemperature
    """

    model_config = _STRICT

    kind: Stack
    i_cap_a: float = Field(gt=0.0, lt=1.0)
    v_max_v: float = Field(0.1, gt=0.0, le=10.0)
    g_min_s: float = Field(10e-6, gt=0.0, lt=1.0)
    g_max_s: float = Field(100e-6, gt=0.0, lt=1.0)
    current_reference: Literal["above_floor", "absolute"] = "above_floor"
    memristor_temperature: MemristorTemperature = MemristorTemperature()
    eflash_temperature: EflashTemperature = EflashSubthresholdTemperature()

    @model_validator(mode="after")
    def _check(self) -> CurrentStack:
        if self.g_max_s <= self.g_min_s:
            raise ValueError("g_max_s must exceed g_min_s")
        return self

    @classmethod
    def memristor(cls, **overrides: object) -> CurrentStack:
        """The TiO2 memristor stack: 10-100 uS at 0.1 V, currents above the floor (0-9 uA)."""
        fields: dict[str, object] = {"kind": "memristor", "i_cap_a": 9e-6}
        fields.update(overrides)
        return cls(**fields)

    @classmethod
    def eflash(cls, **overrides: object) -> CurrentStack:
        """The 55 nm gate-coupled eFlash stack: state currents 0-30 nA (``I_max``)."""
        fields: dict[str, object] = {"kind": "eflash", "i_cap_a": 30e-9}
        fields.update(overrides)
        return cls(**fields)

    @classmethod
    def named(cls, kind: str, **overrides: object) -> CurrentStack:
        """The preset stack ``"memristor"`` or ``"eflash"``."""
        if kind == "memristor":
            return cls.memristor(**overrides)
        if kind == "eflash":
            return cls.eflash(**overrides)
        raise XbarsimInputError(f"stack: unknown {kind!r}; allowed: {', '.join(STACKS)}")

    @property
    def t0_c(self) -> float:
        """Tuning temperature of the stack's temperature model (degrees C)."""
        model = self.memristor_temperature if self.kind == "memristor" else self.eflash_temperature
        return model.t0_c

    def conductance(self, current_a: ArrayLike) -> NDArray[np.float64]:
        """Memristor conductance (S) of mapping currents (A), per ``current_reference``."""
        i = np.asarray(current_a, dtype=np.float64)
        if self.current_reference == "above_floor":
            g = self.g_min_s + i / self.v_max_v
        else:
            g = i / self.v_max_v
        return np.clip(g, self.g_min_s, self.g_max_s)

    def currents_at(self, current_a: ArrayLike, temps_c: ArrayLike) -> NDArray[np.float64]:
        """Device currents (A) at every die temperature, shape ``(len(temps), *current.shape)``.

        Memristor: the full current ``G(T) V_max`` (floor included, so that at ``T0`` the
        result exceeds the mapping current by ``G_min V_max`` when counted above the floor;
        it cancels in a pair's difference). eFlash: ``I (1 + dw/w0)``.
        """
        i = np.asarray(current_a, dtype=np.float64)
        t = np.atleast_1d(np.asarray(temps_c, dtype=np.float64)).reshape((-1,) + (1,) * i.ndim)
        if self.kind == "memristor":
            model = self.memristor_temperature
            g0 = self.conductance(i)
            w0 = np.clip(model.w0_of(g0), *model.fit_w0)
            change = model.relative_change(w0[None], t)
            return g0[None] * (1.0 + change) * self.v_max_v
        model_e = self.eflash_temperature
        w0 = np.clip(i / self.i_cap_a, *model_e.fit_w0)
        return i[None] * (1.0 + model_e.relative_change(w0[None], t))

    def unit(self) -> tuple[float, str]:
        """Display unit of currents: (A per unit, name)."""
        return (1e-6, "µA") if self.kind == "memristor" else (1e-9, "nA")


class ParameterRule(BaseModel):
    """Clipped-linear rule ``p(r) = max(floor, intercept + slope r)`` (A), ``r`` in [0, 1].

    ``p`` is ``I_min`` (mapping 1) or ``I_b`` (mapping 2). A constant parameter has
    ``slope = 0``; the thesis's four published rules have this form (thesis Fig. 23).
    """

    model_config = _STRICT

    intercept_a: float
    slope_a: float = 0.0
    floor_a: float = Field(0.0, ge=0.0)

    @classmethod
    def constant(cls, value_a: float) -> ParameterRule:
        """A weight-independent parameter (A)."""
        return cls(intercept_a=value_a, slope_a=0.0, floor_a=0.0)

    def __call__(self, r: ArrayLike) -> NDArray[np.float64]:
        """Parameter (A) at normalized weight magnitudes ``r``."""
        rr = np.asarray(r, dtype=np.float64)
        return np.maximum(self.floor_a, self.intercept_a + self.slope_a * rr)


def feasible_bounds(
    mapping: str, r: ArrayLike, delta_i_max_a: float, i_cap_a: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Feasible range (A) of ``I_min`` / ``I_b`` at weight magnitudes ``r``.

    mapping 1: ``0 <= I_min <= cap - dI r``; mapping 2: ``dI r / 2 <= I_b <= cap - dI r / 2``
    (both devices inside ``[0, cap]``).
    """
    rr = np.asarray(r, dtype=np.float64)
    if mapping == "mapping1":
        return np.zeros_like(rr), i_cap_a - delta_i_max_a * rr
    half = delta_i_max_a * rr / 2.0
    return half, i_cap_a - half


def pair_currents(
    weights: ArrayLike,
    mapping: str,
    delta_i_max_a: float,
    parameter_a: ArrayLike,
    i_cap_a: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mapping currents (A) of the pair carrying normalized signed weights ``s``.

    Parameters
    ----------
    weights : array_like
        ``s = w / w_max`` in [-1, 1].
    mapping : {"mapping1", "mapping2"}
    delta_i_max_a : float
        Dynamic range ``dI_max`` (A).
    parameter_a : array_like
        ``I_min`` (mapping 1) or ``I_b`` (mapping 2) per weight (A), broadcast; clipped into
        the feasible range (:func:`feasible_bounds`).
    i_cap_a : float
        Largest usable current (A).

    Returns
    -------
    (I+, I-) : ndarrays (A)
    """
    s = np.clip(np.asarray(weights, dtype=np.float64), -1.0, 1.0)
    r = np.abs(s)
    lo, hi = feasible_bounds(mapping, r, delta_i_max_a, i_cap_a)
    p = np.clip(np.broadcast_to(np.asarray(parameter_a, dtype=np.float64), s.shape), lo, hi)
    if mapping == "mapping1":
        return p + delta_i_max_a * np.maximum(s, 0.0), p + delta_i_max_a * np.maximum(-s, 0.0)
    half = s * delta_i_max_a / 2.0
    return p + half, p - half

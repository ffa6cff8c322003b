"""Retention: drift of programmed states with Arrhenius-accelerated time (layer 1).

Thesis section 2.2 (Figs. 10-11): a 100 degree C bake of > 25 h projects, with activation
energy E_a = 1.1 eV, to > 14 years at room temperature; most devices shift < 2 % after
years; mid-range states drift both ways, high states down, low states up.

Time is one clock: every stress (``age_h`` hours at ``bake_c``) is converted to
equivalent hours at the room temperature ``room_temp_c``::

    t_eq = t * exp[(E_a / k_B) (1 / T_room - 1 / T_stress)]      (kelvin)

so a bake and years at room temperature are interchangeable. The drift model is an
**assumption** (the thesis prints no equation): the relative change of a device is

    eps(t) = f(t) * (mu(w0) + sigma_ref * z),   f(t) = ln(1 + t/tau) / ln(1 + t_ref/tau)

with ``z`` ~ Normal(0, 1) drawn **once** per device (so a device has one trajectory and
``|eps|`` grows monotonically with equivalent time), ``mu`` = +``bias`` below w0 = 0.1,
ramping to 0 at ``low_break_w0``, 0 up to ``high_break_w0``, ramping to -``bias`` at 1.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.devices.validity import check_finite
from xbarsim.errors import XbarsimInputError

BOLTZMANN_EV_PER_K = 8.617333262e-5
KELVIN_OFFSET = 273.15
HOURS_PER_YEAR = 365.25 * 24.0


class ArrheniusRetention(BaseModel):
    """Arrhenius-clocked, state-dependent retention drift.

    Attributes
    ----------
    activation_energy_ev : float
        E_a (eV); thesis: 1.1 eV.
    room_temp_c : float
        Temperature (degrees C) the equivalent clock counts in; 25 degrees C is an
        **assumption** (the thesis does not state it).
    sigma_ref : float
        Standard deviation of the relative drift at ``t_ref_years`` (fraction); 1 % is an
        **assumption** chosen so that ~95 % of mid-range devices stay within 2 %.
    t_ref_years : float
        Reference time of ``sigma_ref`` and ``bias`` (years of 365.25 days).
    tau_h : float
        Onset time of the logarithmic growth (h), an **assumption**.
    bias : float
        Mean relative drift of the extreme states at ``t_ref_years`` (fraction; low states
        up, high states down), an **assumption**.
    low_break_w0, high_break_w0 : float
        Normalized states between which the mean drift is zero.
    g_ref_s : float
        Conductance of w0 = 1 (S).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    activation_energy_ev: float = Field(1.1, gt=0.0, le=10.0)
    room_temp_c: float = Field(25.0, gt=-273.15, le=500.0)
    sigma_ref: float = Field(0.01, ge=0.0, le=1.0)
    t_ref_years: float = Field(14.0, gt=0.0, le=1e6)
    tau_h: float = Field(1.0, gt=0.0, le=1e9)
    bias: float = Field(0.01, ge=0.0, le=1.0)
    low_break_w0: float = Field(0.2, gt=0.1, lt=1.0)
    high_break_w0: float = Field(0.8, gt=0.1, lt=1.0)
    g_ref_s: float = Field(100e-6, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check_breaks(self) -> ArrheniusRetention:
        if self.high_break_w0 <= self.low_break_w0:
            raise ValueError(
                f"high_break_w0 ({self.high_break_w0}) must exceed low_break_w0 "
                f"({self.low_break_w0})"
            )
        return self

    def acceleration(self, stress_c: float, use_c: float | None = None) -> float:
        """Arrhenius acceleration factor of ``stress_c`` over ``use_c`` (degrees C).

        ``use_c`` defaults to ``room_temp_c``; 1.1 eV, 100 over 25 degrees C gives 5460.
        """
        use = self.room_temp_c if use_c is None else use_c
        for name, value in (("bake_c", stress_c), ("use temperature", use)):
            if not (math.isfinite(value) and value > -KELVIN_OFFSET):
                raise XbarsimInputError(f"{name}: must be a finite temperature above -273.15 degC")
        inv = 1.0 / (use + KELVIN_OFFSET) - 1.0 / (stress_c + KELVIN_OFFSET)
        return math.exp(self.activation_energy_ev / BOLTZMANN_EV_PER_K * inv)

    def equivalent_hours(self, age_h: float, bake_c: float | None = None) -> float:
        """Hours at ``room_temp_c`` equivalent to ``age_h`` hours at ``bake_c`` (degrees C).

        ``bake_c`` defaults to ``room_temp_c`` (plain ageing).
        """
        if not (math.isfinite(age_h) and age_h >= 0.0):
            raise XbarsimInputError(f"age_h: must be a finite number of hours >= 0, got {age_h}")
        if bake_c is None:
            return float(age_h)
        return float(age_h) * self.acceleration(bake_c)

    def time_factor(self, t_eq_h: float) -> float:
        """Growth factor f(t) (1 at ``t_ref_years``, 0 at t = 0) of equivalent time (h)."""
        if not (math.isfinite(t_eq_h) and t_eq_h >= 0.0):
            raise XbarsimInputError(f"age_h: equivalent time must be finite and >= 0, got {t_eq_h}")
        t_ref = self.t_ref_years * HOURS_PER_YEAR
        return math.log1p(t_eq_h / self.tau_h) / math.log1p(t_ref / self.tau_h)

    def mean_drift(self, w0: ArrayLike) -> NDArray[np.float64]:
        """Mean relative drift at ``t_ref_years`` by normalized state (fraction)."""
        w = np.asarray(w0, dtype=np.float64)
        knots = [0.1, self.low_break_w0, self.high_break_w0, 1.0]
        return np.interp(w, knots, [self.bias, 0.0, 0.0, -self.bias])

    def relative_change(self, g0_s: ArrayLike, z: ArrayLike, t_eq_h: float) -> NDArray[np.float64]:
        """Relative drift ``dG/G0`` (fraction) of devices programmed to ``g0_s`` (S).

        Parameters
        ----------
        g0_s : array_like
            Conductances when programmed (S).
        z : array_like
            The devices' standard-normal drift variables (drawn once per device).
        t_eq_h : float
            Equivalent hours at ``room_temp_c`` since programming.
        """
        g0 = np.asarray(g0_s, dtype=np.float64)
        check_finite("conductance", g0)
        w0 = g0 / self.g_ref_s
        return self.time_factor(t_eq_h) * (
            self.mean_drift(w0) + self.sigma_ref * np.asarray(z, dtype=np.float64)
        )

    def equivalent_years(self, hours: float, bake_c: float) -> float:
        """Years at ``room_temp_c`` equivalent to ``hours`` at ``bake_c`` (degrees C)."""
        return self.equivalent_hours(hours, bake_c) / HOURS_PER_YEAR

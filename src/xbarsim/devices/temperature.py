"""Temperature dependence of programmed states (layer 1; thesis section 2.3.1).

Both models give the relative change of a device's weight between the tuning temperature
``T0`` and the die temperature ``T`` (degrees C), **in percent** as in the thesis, and are
deterministic: they describe the average device (thesis ch. 2).

Memristor (Fig. 17a)::

    100 * dw / w0 = (T - T0) * (p00 + p10 / w0 + p20 * w0**2 + p30 * w0**3)

with ``w0 = G0 / g_ref`` (``g_ref`` = 100 uS, so w0 = 0.1 is 10 uS). The conductance rises
with ``T`` in low states (PTAT) and falls in high states (CTAT), crossing near 70 uS
(Fig. 8).

eFlash gate-coupled weight (Fig. 17b), ``w0 = I_state / I_max``::

    100 * dw / w0 = (T - T0) * (p00 + p10 w0 + p01 T + p20 w0**2 + p11 T w0 + p21 w0**2 T)

(the thesis prints ``p10 T`` for the third term; read as an independent ``p01``), or the
ideal subthreshold ratio law ``w(T) = w0 ** (T0_K / T_K)`` (temperatures in kelvin).

The thesis's fitted coefficients are figure insets, not text. The defaults here are
**assumptions** (our reading of the thesis): placeholders with the published shape, not the
thesis's numbers; ``xbarsim fit-device --model temperature`` fits your own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Annotated, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.devices.validity import check_finite, check_within

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
KELVIN_OFFSET = 273.15


class _TemperatureBase(BaseModel, ABC):
    """Fields shared by every temperature model.

    Attributes
    ----------
    t0_c : float
        Tuning (reference) temperature (degrees C); the change is zero there.
    temp_scale : float
        Global factor on the relative change (1 = the coefficients as given); calibrates the
        magnitude of placeholder coefficients against published accuracy drops.
    fit_temp_c : (float, float)
        Temperature range the coefficients were fitted on (degrees C).
    fit_w0 : (float, float)
        Normalized-weight range the coefficients were fitted on.
    w0_slack : float
        States up to this relative distance outside ``fit_w0`` are clamped without a
        warning (programming error and drift scatter states around the range ends).
    """

    model_config = _STRICT

    t0_c: float = Field(25.0, ge=-273.15, le=500.0)
    temp_scale: float = Field(1.0, ge=0.0, le=1e3)
    fit_temp_c: tuple[float, float] = (25.0, 100.0)
    fit_w0: tuple[float, float] = (0.1, 1.0)
    w0_slack: float = Field(0.05, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check_ranges(self) -> _TemperatureBase:
        lo, hi = self.fit_temp_c
        if not -273.15 < lo < hi:
            raise ValueError(f"fit_temp_c: need -273.15 < low < high, got ({lo}, {hi})")
        wlo, whi = self.fit_w0
        if not 0.0 < wlo < whi:
            raise ValueError(f"fit_w0: need 0 < low < high, got ({wlo}, {whi})")
        return self

    @abstractmethod
    def percent_per_c(self, w0: ArrayLike, temp_c: ArrayLike) -> NDArray[np.float64]:
        """Bracket of the model: ``100 dw/w0 / (T - T0)`` (%/degree C), before ``temp_scale``."""

    def relative_change(
        self, w0: ArrayLike, temp_c: ArrayLike, strict: bool = False
    ) -> NDArray[np.float64]:
        """Relative change ``dw / w0`` (fraction) at die temperature ``temp_c`` (degrees C).

        ``w0`` outside ``fit_w0`` is clamped into it (and warned about, or refused with
        ``strict``); so is a temperature outside ``fit_temp_c``, which is not clamped.
        """
        w = np.asarray(w0, dtype=np.float64)
        t = np.asarray(temp_c, dtype=np.float64)
        check_within("temp_c", t, *self.fit_temp_c, strict, " degC", "temperature model")
        check_within("w0", w, *self.fit_w0, strict, "", "temperature model", self.w0_slack)
        wc = np.clip(w, *self.fit_w0)
        return self.temp_scale * (t - self.t0_c) * self.percent_per_c(wc, t) / 100.0


class MemristorTemperature(_TemperatureBase):
    """Memristor temperature model (thesis Fig. 17a): basis {1, 1/w0, w0^2, w0^3}.

    Attributes
    ----------
    p00, p10, p20, p30 : float
        Coefficients (%/degree C). Defaults: placeholders solved from the anchors
        f(0.1) = +0.60, f(0.4) = +0.15, f(0.7) = 0, f(1.0) = -0.107 %/degree C
        (our reading of the thesis) -- an **assumption**, not the thesis's inset values.
    g_ref_s : float
        Conductance of w0 = 1 (S); w0 = G0 / g_ref_s.
    """

    kind: Literal["memristor-poly"] = "memristor-poly"
    p00: float = 0.08502
    p10: float = 0.05199
    p20: float = -0.51421
    p30: float = 0.27021
    g_ref_s: float = Field(100e-6, gt=0.0, lt=1.0)

    def percent_per_c(self, w0: ArrayLike, temp_c: ArrayLike = 0.0) -> NDArray[np.float64]:
        w = np.asarray(w0, dtype=np.float64)
        return self.p00 + self.p10 / w + self.p20 * w**2 + self.p30 * w**3

    def w0_of(self, g_s: ArrayLike) -> NDArray[np.float64]:
        """Normalized state ``G / g_ref_s`` of conductances ``g_s`` (S)."""
        return np.asarray(g_s, dtype=np.float64) / self.g_ref_s

    def conductance_at(
        self, g0_s: ArrayLike, temp_c: float, strict: bool = False
    ) -> NDArray[np.float64]:
        """Conductance (S) at ``temp_c`` of devices tuned to ``g0_s`` (S) at ``t0_c``."""
        g0 = np.asarray(g0_s, dtype=np.float64)
        check_finite("conductance", g0)
        return g0 * (1.0 + self.relative_change(self.w0_of(g0), temp_c, strict))

    def crossover_s(self) -> float:
        """Conductance (S) where the change flips sign (PTAT below, CTAT above).

        The root of the bracket inside ``fit_w0``; NaN when it has none there.
        """
        from scipy.optimize import brentq

        lo, hi = self.fit_w0
        grid = np.linspace(lo, hi, 1001)
        f = self.percent_per_c(grid)
        flips = np.nonzero(np.sign(f[:-1]) * np.sign(f[1:]) <= 0)[0]
        if flips.size == 0:
            return float("nan")
        k = int(flips[0])
        root = brentq(lambda w: float(self.percent_per_c(w)), grid[k], grid[k + 1], xtol=1e-14)
        return float(root) * self.g_ref_s


class EflashPolyTemperature(_TemperatureBase):
    """eFlash weight temperature model (thesis Fig. 17b), six coefficients.

    Attributes
    ----------
    p00, p10, p01, p20, p11, p21 : float
        Coefficients (%/degree C; the ``T`` terms per degree C more). Defaults: a
        least-squares fit of this form to the ideal subthreshold law on w0 in [0.1, 1],
        T in [25, 100] degrees C (our reading of the thesis) -- an **assumption**, not data.
    """

    kind: Literal["eflash-poly"] = "eflash-poly"
    p00: float = 0.86687
    p10: float = -1.66629
    p01: float = -1.09014e-4
    p20: float = 0.82892
    p11: float = -1.49027e-3
    p21: float = 1.70093e-3

    def percent_per_c(self, w0: ArrayLike, temp_c: ArrayLike) -> NDArray[np.float64]:
        w = np.asarray(w0, dtype=np.float64)
        t = np.asarray(temp_c, dtype=np.float64)
        return (
            self.p00
            + self.p10 * w
            + self.p01 * t
            + self.p20 * w**2
            + self.p11 * t * w
            + self.p21 * w**2 * t
        )


class EflashSubthresholdTemperature(_TemperatureBase):
    """Ideal subthreshold ratio law ``w(T) = w0 ** (T0_K / T_K)`` (the eFlash default).

    Weights below 1 drift up with temperature (w0 = 0.1: +58.9 % at 100 degrees C), w0 = 1
    does not move. An **assumption** standing in for the unpublished inset coefficients.
    """

    kind: Literal["eflash-subthreshold"] = "eflash-subthreshold"

    def percent_per_c(self, w0: ArrayLike, temp_c: ArrayLike) -> NDArray[np.float64]:
        w = np.asarray(w0, dtype=np.float64)
        t = np.asarray(temp_c, dtype=np.float64)
        exponent = (self.t0_c + KELVIN_OFFSET) / (t + KELVIN_OFFSET) - 1.0
        change = 100.0 * (w**exponent - 1.0)
        dt = t - self.t0_c
        safe = np.where(dt == 0.0, 1.0, dt)
        # d/dT at T0 where dt = 0 (the change itself is 0 there)
        slope_at_t0 = -100.0 * np.log(w) / (self.t0_c + KELVIN_OFFSET)
        return np.where(dt == 0.0, slope_at_t0, change / safe)


EflashTemperature = Annotated[
    EflashPolyTemperature | EflashSubthresholdTemperature, Field(discriminator="kind")
]

"""Pulse-driven conductance dynamics (layer 1).

Soft-bounded exponential-rate law. One pulse of amplitude ``v`` on a
device whose switching threshold for that polarity is ``v_th`` gives it a *dose*

    d = d0 * exp((|v| - v_th) / s),   s = slope_below if |v| < v_th else slope_above

and moves the conductance toward the bound of that polarity:

    set   (v > 0):  G' = Gmax - (Gmax - G) * exp(-d)
    reset (v < 0):  G' = Gmin + (G - Gmin) * exp(-d)

(evaluated as ``G - (Gmax - G) * expm1(-d)``, accurate for the tiny doses of
half-selected devices and never moving a device the wrong way).

The three-piece law continues the dose from ``|v| >= v_th + knee`` on with a third slope,
continuously at the knee:

    d = d0 * exp(knee / slope_above) * exp((|v| - v_th - knee) / slope_far)

(a gentler ``slope_far`` makes the dose saturate with amplitude).

An optional sub-threshold leak floor ``leak_dose`` is added to the dose of every pulse of
nonzero amplitude on a switchable device (finite threshold), selected or disturbed:
``d = d0 * exp(...) + leak_dose``; it keeps doses additive (``n`` pulses add
``n * leak_dose``), and the default 0 leaves the law unchanged.

With ``slope_below == slope_above`` this is the single-slope exponential model; with a
steeper slope below threshold it is the two-slope law; with an infinite knee (the default)
the three-piece law is exactly the two-slope law. Same-polarity updates compose
exactly: two doses ``d1`` then ``d2`` equal one dose ``d1 + d2``. The compiled engines
rely on that. ``d0`` follows from the operational threshold definition: a pulse exactly at
threshold changes a device sitting at the reference conductance by ``threshold_change``
(20 % in the paper).

All functions work elementwise on numpy arrays or on floats. Units: volts, siemens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class PulseLaw:
    """Numeric parameters of the soft-bounded (two- or three-piece) pulse law.

    Attributes
    ----------
    g_min, g_max : float
        Soft conductance bounds (S).
    d0_set, d0_reset : float
        Dose of a pulse exactly at the set (reset) threshold (dimensionless).
    slope_below, slope_above : float
        Exponential slopes of the dose below and above threshold (V).
    knee : float
        Distance above threshold (V, > 0) where the far slope takes over; ``inf``: never
        (two-slope law).
    slope_far : float
        Exponential slope of the dose from ``v_th + knee`` on (V).
    leak_dose : float
        Dose added to every pulse of nonzero amplitude on a switchable device
        (dimensionless, >= 0; 0: no leak).
    """

    g_min: float
    g_max: float
    d0_set: float
    d0_reset: float
    slope_below: float
    slope_above: float
    knee: float = math.inf
    slope_far: float = 1.0
    leak_dose: float = 0.0

    @classmethod
    def from_threshold_definition(
        cls,
        g_min: float,
        g_max: float,
        slope_below: float,
        slope_above: float,
        threshold_change: float,
        set_reference_s: float,
        reset_reference_s: float,
        knee: float = math.inf,
        slope_far: float = 1.0,
        leak_dose: float = 0.0,
    ) -> PulseLaw:
        """Fix ``d0`` so that a pulse at threshold changes a reference device by the criterion.

        Parameters
        ----------
        g_min, g_max : float
            Conductance bounds (S).
        slope_below, slope_above : float
            Dose slopes below / above threshold (V).
        threshold_change : float
            Relative change that defines the operational threshold (0.2 in the paper).
        set_reference_s, reset_reference_s : float
            Conductance a set (reset) threshold is measured from (S): 14 uS and 50 uS in the
            paper's Fig. 2 protocol.
        knee, slope_far : float
            Start of the far piece above threshold and its slope (V); see the class.
        leak_dose : float
            Sub-threshold leak floor per pulse (dimensionless); see the class.
        """
        up = threshold_change * set_reference_s / (g_max - set_reference_s)
        down = threshold_change * reset_reference_s / (reset_reference_s - g_min)
        if not (0.0 < up < 1.0 and 0.0 < down < 1.0):
            raise ValueError(
                "threshold reference conductances cannot change by threshold_change "
                "within [g_min, g_max]"
            )
        return cls(
            g_min=g_min,
            g_max=g_max,
            d0_set=-math.log1p(-up),
            d0_reset=-math.log1p(-down),
            slope_below=slope_below,
            slope_above=slope_above,
            knee=knee,
            slope_far=slope_far,
            leak_dose=leak_dose,
        )

    def dose(self, amplitude: ArrayLike, v_th: ArrayLike, d0: float) -> NDArray[np.float64]:
        """Dose of pulses of magnitude ``amplitude`` (V) on devices with threshold ``v_th`` (V).

        A zero amplitude gives a zero dose; an infinite threshold (unswitchable device)
        gives a zero dose. Every other pulse includes the leak floor ``leak_dose``.
        """
        a = np.abs(np.asarray(amplitude, dtype=np.float64))
        th = np.asarray(v_th, dtype=np.float64)
        slope = np.where(a < th, self.slope_below, self.slope_above)
        with np.errstate(invalid="ignore", over="ignore"):
            d = d0 * np.exp((a - th) / slope)
            if math.isfinite(self.knee):
                scale = d0 * math.exp(self.knee / self.slope_above)
                far = scale * np.exp((a - th - self.knee) / self.slope_far)
                d = np.where(a >= th + self.knee, far, d)
            if self.leak_dose > 0.0:
                d = d + self.leak_dose
        return np.where((a > 0.0) & np.isfinite(th), d, 0.0)

    def apply_set(self, g: ArrayLike, dose: ArrayLike) -> NDArray[np.float64]:
        """Conductance after a set dose: move toward ``g_max`` (S)."""
        g = np.asarray(g)
        return g - (self.g_max - g) * np.expm1(-np.asarray(dose))

    def apply_reset(self, g: ArrayLike, dose: ArrayLike) -> NDArray[np.float64]:
        """Conductance after a reset dose: move toward ``g_min`` (S)."""
        g = np.asarray(g)
        return g + (g - self.g_min) * np.expm1(-np.asarray(dose))

    def pulse(
        self,
        g: ArrayLike,
        voltage: float,
        v_set: ArrayLike,
        v_reset: ArrayLike,
        multiplier: ArrayLike = 1.0,
    ) -> NDArray[np.float64]:
        """Apply one pulse of signed ``voltage`` (V) to devices at conductance ``g`` (S).

        ``v_set`` and ``v_reset`` are threshold magnitudes (V, positive); every dose is
        multiplied by ``multiplier`` (cycle-to-cycle variation; 1: none).
        """
        if voltage > 0.0:
            return self.apply_set(g, multiplier * self.dose(voltage, v_set, self.d0_set))
        if voltage < 0.0:
            return self.apply_reset(g, multiplier * self.dose(voltage, v_reset, self.d0_reset))
        return np.array(g, dtype=np.float64, copy=True)

"""Transimpedance amplifier that senses a bit line (layer 5).

Behavioural model of thesis §4.1.2a / §4.1.3 (its design equations), in absolute
volts. The op-amp's non-inverting input sits at ``V_cm`` and carries the input-referred
offset ``V_os``; with open-loop gain ``A`` the summing node is not an ideal virtual ground
but an input resistance ``R_in = R_f / (1 + A)`` above ``V_p = V_cm + V_os``:

    V_n   = V_p + R_in · I
    V_out = V_n − R_f · I = V_p − R_f · A / (1 + A) · I,  clipped to [V_lo, V_hi]

where ``I`` is the current flowing *into* the summing node (positive current lowers the
output). Design equations (thesis 4.1.2a): ``I_max = (N/2)·G_avg·V_max``,
``R_f = V_out,d / I_max`` and ``A ≈ 100·R_f·N·G_avg`` (input resistance below 1 % of the
bit line's ``1/(N·G_avg)``), which gives ``A ≈ 2200`` for every N.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.errors import XbarsimInputError

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

#: Thesis design point (4.1.2a): largest word-line input (V) and average device conductance (S).
DESIGN_V_MAX_V = 0.1
DESIGN_G_AVG_S = 50.0e-6
#: Designed output swing 0.1-1.2 V (V).
DESIGN_V_OUT_RANGE_V = 1.1


class TiaOutput(NamedTuple):
    """Output of a TIA for given input currents.

    Attributes
    ----------
    v_out : ndarray
        Output voltage after saturation (V).
    saturated : ndarray of bool
        True where the linear output left ``[v_low_v, v_high_v]`` and was clipped.
    """

    v_out: NDArray[np.float64]
    saturated: NDArray[np.bool_]


def _check_design_inputs(n: int, g_avg_s: float, v_max_v: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise XbarsimInputError(f"n: must be an integer >= 1, got {n!r}")
    for name, value in (("g_avg_s", g_avg_s), ("v_max_v", v_max_v)):
        if not (np.isfinite(value) and value > 0.0):
            raise XbarsimInputError(f"{name}: must be a finite number > 0, got {value!r}")


class TIA(BaseModel):
    """Inverting transimpedance amplifier on one bit line.

    Attributes
    ----------
    r_f_ohm : float
        Feedback resistance (Ω, > 0). Measured 8×8-VMM TIA: 18.4 kΩ.
    open_loop_gain : float
        Op-amp open-loop gain A (dimensionless, > 0). Default 2200 (derived from the design
        rule; not measured).
    offset_v : float
        Input-referred offset V_os (V); the design allows about ±100 mV.
    v_cm_v : float
        Common-mode / virtual-ground reference (V). Measured: 1.2 V.
    v_low_v, v_high_v : float
        Output saturation levels (V), ``v_low_v < v_high_v``. Measured low level about
        0.1 V; the high level 1.7 V is an assumption (1.8 V supply; the design range tops
        at 1.2 V for currents into the node, the offset lifts the zero-current output above
        it).
    """

    model_config = _STRICT

    r_f_ohm: float = Field(18.4e3, gt=0.0, le=1.0e9)
    open_loop_gain: float = Field(2200.0, gt=0.0, le=1.0e12)
    offset_v: float = Field(0.0, ge=-1.0, le=1.0)
    v_cm_v: float = Field(1.2, ge=-10.0, le=10.0)
    v_low_v: float = Field(0.1, ge=-10.0, le=10.0)
    v_high_v: float = Field(1.7, ge=-10.0, le=10.0)

    @model_validator(mode="after")
    def _check_range(self) -> TIA:
        if not self.v_low_v < self.v_high_v:
            raise ValueError(
                f"v_high_v: the output range must satisfy v_low_v < v_high_v, got "
                f"[{self.v_low_v:g}, {self.v_high_v:g}] V"
            )
        return self

    # --- presets and design equations --------------------------------------------------

    @classmethod
    def measured(cls) -> TIA:
        """The measured TIA of the 8×8 VMM (thesis Fig. 58): R_f = 18.4 kΩ, V_cm = 1.2 V,
        output 0.1 V at saturation; gain 2200 from the design rule; zero offset."""
        return cls(r_f_ohm=18.4e3, open_loop_gain=2200.0, v_cm_v=1.2, v_low_v=0.1)

    @classmethod
    def max_current_a(
        cls, n: int, g_avg_s: float = DESIGN_G_AVG_S, v_max_v: float = DESIGN_V_MAX_V
    ) -> float:
        """Design input current ``I_max = (N/2)·G_avg·V_max`` (A).

        Parameters
        ----------
        n : int
            Devices on the bit line (VMM size N).
        g_avg_s : float
            Average device conductance (S); thesis 50 µS.
        v_max_v : float
            Largest word-line input (V); thesis 0.1 V.
        """
        _check_design_inputs(n, g_avg_s, v_max_v)
        return 0.5 * n * g_avg_s * v_max_v

    @classmethod
    def feedback_resistance_ohm(
        cls,
        n: int,
        g_avg_s: float = DESIGN_G_AVG_S,
        v_max_v: float = DESIGN_V_MAX_V,
        v_out_range_v: float = DESIGN_V_OUT_RANGE_V,
    ) -> float:
        """Design feedback resistance ``R_f = V_out,d / I_max`` (Ω).

        Parameters
        ----------
        n, g_avg_s, v_max_v
            As in :meth:`max_current_a`.
        v_out_range_v : float
            Usable output swing V_out,d (V); thesis 1.1 V (0.1-1.2 V).
        """
        if not (np.isfinite(v_out_range_v) and v_out_range_v > 0.0):
            raise XbarsimInputError(
                f"v_out_range_v: must be a finite number > 0, got {v_out_range_v!r}"
            )
        return v_out_range_v / cls.max_current_a(n, g_avg_s, v_max_v)

    @classmethod
    def required_gain(cls, n: int, r_f_ohm: float, g_avg_s: float = DESIGN_G_AVG_S) -> float:
        """Open-loop gain for an input resistance of 1 % of the bit line's:
        ``A ≈ 100·R_f·N·G_avg`` (dimensionless).

        Parameters
        ----------
        n : int
            Devices on the bit line.
        r_f_ohm : float
            Feedback resistance (Ω).
        g_avg_s : float
            Average device conductance (S).
        """
        _check_design_inputs(n, g_avg_s, 1.0)
        if not (np.isfinite(r_f_ohm) and r_f_ohm > 0.0):
            raise XbarsimInputError(f"r_f_ohm: must be a finite number > 0, got {r_f_ohm!r}")
        return 100.0 * r_f_ohm * n * g_avg_s

    @classmethod
    def design(
        cls,
        n: int,
        g_avg_s: float = DESIGN_G_AVG_S,
        v_max_v: float = DESIGN_V_MAX_V,
        v_out_range_v: float = DESIGN_V_OUT_RANGE_V,
        v_cm_v: float = 1.2,
    ) -> TIA:
        """A TIA sized by the thesis's design equations for an N-device bit line.

        The output range is ``[v_cm_v − v_out_range_v, v_cm_v + 0.5 V]`` (the 0.1-1.7 V
        default for the thesis values).
        """
        r_f = cls.feedback_resistance_ohm(n, g_avg_s, v_max_v, v_out_range_v)
        return cls(
            r_f_ohm=r_f,
            open_loop_gain=cls.required_gain(n, r_f, g_avg_s),
            v_cm_v=v_cm_v,
            v_low_v=v_cm_v - v_out_range_v,
            v_high_v=v_cm_v + 0.5,
        )

    # --- behaviour -----------------------------------------------------------------------

    @property
    def input_resistance_ohm(self) -> float:
        """Resistance seen looking into the summing node, ``R_f / (1 + A)`` (Ω)."""
        return self.r_f_ohm / (1.0 + self.open_loop_gain)

    @property
    def transimpedance_ohm(self) -> float:
        """Linear gain ``−dV_out/dI = R_f·A/(1 + A)`` (Ω)."""
        return self.r_f_ohm * self.open_loop_gain / (1.0 + self.open_loop_gain)

    @property
    def reference_v(self) -> float:
        """Non-inverting input including the offset, ``V_cm + V_os`` (V)."""
        return self.v_cm_v + self.offset_v

    @property
    def linear_current_range_a(self) -> tuple[float, float]:
        """Input currents (A) that keep the output inside ``[v_low_v, v_high_v]``."""
        z = self.transimpedance_ohm
        return (self.reference_v - self.v_high_v) / z, (self.reference_v - self.v_low_v) / z

    def output(self, current_a: ArrayLike) -> TiaOutput:
        """Output voltage for currents flowing into the summing node.

        Parameters
        ----------
        current_a : array_like
            Input currents (A).

        Returns
        -------
        TiaOutput
            ``V_out = V_cm + V_os − R_f·A/(1 + A)·I`` clipped to the output range (V), and
            the saturation mask.
        """
        i = np.asarray(current_a, dtype=np.float64)
        linear = self.reference_v - self.transimpedance_ohm * i
        saturated = (linear < self.v_low_v) | (linear > self.v_high_v)
        return TiaOutput(np.clip(linear, self.v_low_v, self.v_high_v), saturated)

    def current_estimate(self, v_out_v: ArrayLike) -> NDArray[np.float64]:
        """Current (A) a read-out infers from an output voltage, knowing only the nominal
        ``V_cm`` (not the offset): ``(V_cm − V_out) / (R_f·A/(1 + A))``."""
        v = np.asarray(v_out_v, dtype=np.float64)
        return (self.v_cm_v - v) / self.transimpedance_ohm

    def column_current(self, conductance_s: ArrayLike, v_in_v: ArrayLike) -> NDArray[np.float64]:
        """Current into the summing node from devices with ideal (zero-resistance) lines.

        ``I_j = Σ_i G_ij (V_i − V_p) / (1 + R_in Σ_i G_ij)`` with ``V_p = V_cm + V_os``: the
        finite-gain node voltage and the offset both act through the array (thesis eq. 1).

        Parameters
        ----------
        conductance_s : array_like, shape (..., rows, cols)
            Devices of each bit line (S).
        v_in_v : array_like, shape (..., rows)
            Absolute word-line voltages (V).

        Returns
        -------
        ndarray, shape (..., cols)
            Currents into each column's summing node (A).
        """
        g = np.asarray(conductance_s, dtype=np.float64)
        v = np.asarray(v_in_v, dtype=np.float64)
        if g.ndim < 2 or v.shape[-1] != g.shape[-2]:
            raise XbarsimInputError(
                f"v_in_v: last axis must match the conductance rows, got {v.shape} for "
                f"conductances {g.shape}"
            )
        drive = np.einsum("...r,...rc->...c", v - self.reference_v, g)
        return drive / (1.0 + self.input_resistance_ohm * g.sum(axis=-2))

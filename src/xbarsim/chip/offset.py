"""TIA offset compensation with a memristor pair (layer 5, thesis 4.1.3, Figs. 59-61).

Two extra devices sit on each TIA's summing node: ``G_c2`` from an input held at
``V_cm + dV`` and ``G_c1`` from one at ``V_cm - dV`` (dV = 400 mV, published). With the TIA's
input-referred offset ``V_os`` the pair sources the net current

    dI = G_c2 (dV - V_os) - G_c1 (dV + V_os)

into the node. The compensated TIA equals an offset-free one, ``V_out = V_cm - R_f sum
G_i (V_i - V_cm)``, when (our corrected reading of the thesis's eqs. 4-5, which as printed keep
V_cm in and give negative conductances)

    R_f [G_c2 (dV - V_os) - G_c1 (dV + V_os)] = V_os (1 + R_f sum G_i).

For V_os > 0 the device to V_cm - dV stays at the minimum conductance (~6 uS, published) and G_c2
carries the compensation; for V_os < 0 the roles swap. With the finite-gain TIA of
:class:`xbarsim.periphery.TIA` (transimpedance ``Z = R_f A/(1+A)``, input resistance
``R_in = R_f/(1+A)``) the exact condition is ``V_os (1 + R_in S) = Z D`` with ``S`` the
node's total conductance and ``D = dI - V_os sum G_i``; :meth:`OffsetComp.pair` solves it,
so ideal programming leaves exactly zero offset.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from xbarsim.errors import XbarsimInputError
from xbarsim.periphery import TIA


class OffsetComp(BaseModel):
    """Parameters of the memristor-pair offset compensation.

    Attributes
    ----------
    delta_v : float
        dV: the pair's inputs sit at V_cm +/- dV (V); published 0.4 V.
    g_min_s : float
        Conductance of the device left at its minimum (S); published ~6 uS.
    g_max_s : float
        Largest conductance the tuned device may be programmed to (S) [U: 100 uS, the top
        of the paper's 10-100 uS programming range].
    sum_g_s : float
        Total conductance of the array devices on the bit line, inputs at V_cm (S); the
        experiment solved with 0 (no array attached; published).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    delta_v: float = Field(0.4, gt=0.0, le=5.0)
    g_min_s: float = Field(6e-6, gt=0.0, lt=1.0)
    g_max_s: float = Field(100e-6, gt=0.0, lt=1.0)
    sum_g_s: float = Field(0.0, ge=0.0, lt=1.0)

    def pair(self, offset_v: ArrayLike, tia: TIA) -> tuple[NDArray, NDArray]:
        """Compensation pair (G_c1, G_c2) in S for each offset (V), exact for ``tia``'s gain.

        Raises
        ------
        XbarsimInputError
            Naming the first TIA (index into ``offset_v``) whose offset cannot be cancelled
            within ``[g_min_s, g_max_s]``, and why.
        """
        v = np.atleast_1d(np.asarray(offset_v, dtype=np.float64))
        z, r_in = tia.transimpedance_ohm, tia.input_resistance_ohm
        dv, gmin, sg = self.delta_v, self.g_min_s, self.sum_g_s
        pos = v >= 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            g2 = (v * (1 + r_in * (gmin + sg)) + z * (gmin * (dv + v) + v * sg)) / (
                z * (dv - v) - r_in * v
            )
            g1 = (z * (gmin * (dv - v) - v * sg) - v * (1 + r_in * (gmin + sg))) / (
                z * (dv + v) + r_in * v
            )
        tuned = np.where(pos, g2, g1)
        below = tuned < gmin * (1.0 - 1e-9)  # analytically >= g_min; allow rounding
        bad = ~np.isfinite(tuned) | below | (tuned > self.g_max_s) | (np.abs(v) >= dv)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            name = "G_c2" if pos[k] else "G_c1"
            if abs(v[k]) >= dv:
                why = f"|offset| reaches delta_v = {dv:g} V"
            else:
                why = (
                    f"needs {name} = {tuned[k]:.3g} S outside the available "
                    f"[{gmin:.3g}, {self.g_max_s:.3g}] S (R_f {tia.r_f_ohm:g} Ohm, "
                    f"delta_v {dv:g} V)"
                )
            raise XbarsimInputError(
                f"tia {k}: offset {v[k] * 1e3:+.2f} mV cannot be compensated: {why}"
            )
        tuned = np.maximum(tuned, gmin)
        g_c1 = np.where(pos, gmin, tuned)
        g_c2 = np.where(pos, tuned, gmin)
        return g_c1, g_c2

    def thesis_literal(self, offset_v: ArrayLike, tia: TIA) -> NDArray:
        """G_c1 (S) from the printed eq. 5 with G_c2 = g_min (documentation only).

        Keeps V_cm in the condition, so it comes out negative for V_cm = 1.2 V (the reason
        for the corrected condition of the module docstring).
        """
        v = np.asarray(offset_v, dtype=np.float64)
        r_f, dv = tia.r_f_ohm, self.delta_v
        num = r_f * self.g_min_s * (dv - v) - (tia.v_cm_v + v) - r_f * self.sum_g_s * v
        return num / (r_f * (dv + v))

    def offset_current_a(self, offset_v: ArrayLike, g_c1: ArrayLike, g_c2: ArrayLike) -> NDArray:
        """Net current dI (A) the pair sources into the summing node (ideal virtual ground)."""
        v = np.asarray(offset_v, dtype=np.float64)
        return np.asarray(g_c2) * (self.delta_v - v) - np.asarray(g_c1) * (self.delta_v + v)

    def cancelled_offset_v(self, g_c1: ArrayLike, g_c2: ArrayLike, r_f_ohm: float) -> NDArray:
        """Offset (V) a pair cancels with an ideal op-amp: the corrected condition solved
        for V_os, ``R_f dV (G_c2 - G_c1) / (1 + R_f (G_c1 + G_c2 + sum G))``."""
        g1, g2 = np.asarray(g_c1, dtype=np.float64), np.asarray(g_c2, dtype=np.float64)
        return r_f_ohm * self.delta_v * (g2 - g1) / (1.0 + r_f_ohm * (g1 + g2 + self.sum_g_s))

    def node_current_a(self, tia: TIA, g_c1: float, g_c2: float) -> float:
        """Current (A) into ``tia``'s summing node from the pair and the array (inputs at
        V_cm), through the finite-gain node of :meth:`TIA.column_current`."""
        g = np.array([[g_c1], [g_c2], [self.sum_g_s]])
        v = np.array([tia.v_cm_v - self.delta_v, tia.v_cm_v + self.delta_v, tia.v_cm_v])
        return float(tia.column_current(g, v)[0])


def draw_offsets(
    count: int, sigma_v: float, limit_v: float, seed_sequence: np.random.SeedSequence
) -> NDArray[np.float64]:
    """Input-referred offsets (V): Normal(0, ``sigma_v``) truncated to +/- ``limit_v``
    (our assumption).

    TIA ``k`` draws from child ``k`` of ``seed_sequence`` (same offset whatever the count).
    """
    if sigma_v < 0.0 or not limit_v > 0.0:
        raise XbarsimInputError(
            f"sigma_v, limit_v: need sigma_v >= 0 and limit_v > 0 V, got {sigma_v}, {limit_v}"
        )
    out = np.empty(count)
    for k, child in enumerate(seed_sequence.spawn(count)):
        rng = np.random.default_rng(child)
        value = rng.normal(0.0, sigma_v)
        while abs(value) > limit_v:
            value = rng.normal(0.0, sigma_v)
        out[k] = value
    return out

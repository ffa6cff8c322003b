"""State optimization: temperature-robust mapping parameters (layer 4; thesis approach 3).

A design is a stack, a mapping, a dynamic range ``dI_max`` and a rule for ``I_min`` /
``I_b`` (:class:`StateOptimization`). Its cost, as the thesis defines it::

    C = max_{T in [T0, T_max]}  integral_{eps}^{1} |E_r(W, T)| dW

with ``E_r(W, T) = (W_eff(T) - W) / W`` the relative error of a pair carrying the
normalized weight ``W``, ``T0`` = 25 degrees C, ``T_max`` = 100 degrees C, ``eps`` = 0.01.
Numerics (**assumptions**, our reading of the thesis): 100 weights on [0.01, 1], 1 degree C steps,
trapezoid rule.

:func:`search` reproduces the thesis's procedure (Fig. 23): a heat map of ``C`` over
constant ``(dI_max, I_min or I_b)``; at the chosen ``dI_max`` a heat map over (weight,
parameter) of ``max_T |E_r|``; the best parameter per weight; a clipped-linear fit of it
(:class:`~xbarsim.mapping.currents.ParameterRule`). :meth:`StateOptimization.thesis`
returns the four published rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.currents import (
    CurrentMapping,
    CurrentStack,
    ParameterRule,
    check_case,
    feasible_bounds,
    pair_currents,
)

T0_C = 25.0
T_MAX_C = 100.0
EPSILON = 0.01


def default_temps(t0_c: float = T0_C, t_max_c: float = T_MAX_C) -> NDArray[np.float64]:
    """Cost-function temperature grid: ``t0_c`` ... ``t_max_c`` in 1 degree C steps."""
    return np.arange(t0_c, t_max_c + 0.5, 1.0)


def default_weights(epsilon: float = EPSILON, points: int = 100) -> NDArray[np.float64]:
    """Cost-function weight grid: ``points`` values on [``epsilon``, 1]."""
    return np.linspace(epsilon, 1.0, points)


class StateOptimization(BaseModel):
    """Mapping design of one stack: ``dI_max`` and a weight-dependent ``I_min`` / ``I_b``.

    Attributes
    ----------
    stack : CurrentStack
    mapping : {"mapping1", "mapping2"}
    delta_i_max_a : float
        Dynamic range ``dI_max`` (A), at most the stack's ``i_cap_a``.
    rule : ParameterRule
        ``I_min(r)`` (mapping 1) or ``I_b(r)`` (mapping 2), A.
    label : str
        Where the design comes from ("baseline", "thesis", "search", ...).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    stack: CurrentStack
    mapping: CurrentMapping
    delta_i_max_a: float = Field(gt=0.0, lt=1.0)
    rule: ParameterRule
    label: str = "custom"

    @model_validator(mode="after")
    def _check(self) -> StateOptimization:
        if self.delta_i_max_a > self.stack.i_cap_a * (1 + 1e-12):
            raise ValueError(
                f"delta_i_max_a: {self.delta_i_max_a:g} A exceeds the stack's usable current "
                f"{self.stack.i_cap_a:g} A"
            )
        return self

    @classmethod
    def baseline(cls, stack: str | CurrentStack, mapping: str) -> StateOptimization:
        """The conventional design point ("red star", values **assumed**).

        Memristor: full range ``dI_max`` = 9 uA with ``I_min`` = 0 (mapping 1) or
        ``I_b`` = 4.5 uA (mapping 2). eFlash: ``dI_max`` = 30 nA with ``I_min`` = 0 or
        ``I_b`` = 15 nA (lowest energy).
        """
        st = stack if isinstance(stack, CurrentStack) else CurrentStack.named(stack)
        _check_mapping(mapping)
        cap = st.i_cap_a
        value = 0.0 if mapping == "mapping1" else cap / 2.0
        return cls(
            stack=st,
            mapping=mapping,
            delta_i_max_a=cap,
            rule=ParameterRule.constant(value),
            label="baseline",
        )

    @classmethod
    def thesis(cls, stack: str | CurrentStack, mapping: str) -> StateOptimization:
        """The published weight-dependent rules (thesis Fig. 23), ``r = |w| / w_max``.

        * eFlash mapping 1: ``dI_max`` = 30 nA, ``I_min = max(0, 3 - 3.75 r)`` nA;
        * eFlash mapping 2: ``dI_max`` = 30 nA, ``I_b = 2.35 r + 12.65`` nA;
        * memristor mapping 1: ``dI_max`` = 6.5 uA, ``I_min = max(0, 3.1 - 3.23 r)`` uA;
        * memristor mapping 2: ``dI_max`` = 6.5 uA, ``I_b = max(3.1, 1.48 + 2.76 r)`` uA
          (printed "nA", read as uA: our reading of the thesis).

        The thesis derived them with its own (unpublished) temperature coefficients.
        """
        st = stack if isinstance(stack, CurrentStack) else CurrentStack.named(stack)
        _check_mapping(mapping)
        if st.kind == "eflash":
            delta, unit = 30.0, 1e-9
            a, b, floor = (3.0, -3.75, 0.0) if mapping == "mapping1" else (12.65, 2.35, 0.0)
        else:
            delta, unit = 6.5, 1e-6
            a, b, floor = (3.1, -3.23, 0.0) if mapping == "mapping1" else (1.48, 2.76, 3.1)
        rule = ParameterRule(intercept_a=a * unit, slope_a=b * unit, floor_a=floor * unit)
        return cls(stack=st, mapping=mapping, delta_i_max_a=delta * unit, rule=rule, label="thesis")

    @classmethod
    def for_case(cls, case: str, design: str = "baseline") -> StateOptimization:
        """Design ``"baseline"`` or ``"thesis"`` of a case label (``rm1`` ... ``fm2``)."""
        stack, mapping = check_case(case)
        if design == "baseline":
            return cls.baseline(stack, mapping)
        if design == "thesis":
            return cls.thesis(stack, mapping)
        raise XbarsimInputError(f"design: unknown {design!r}; allowed: baseline, thesis")

    def currents(self, weights: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Mapping currents (A) of the pairs carrying normalized weights ``s`` in [-1, 1]."""
        s = np.asarray(weights, dtype=np.float64)
        parameter = self.rule(np.abs(s))
        return pair_currents(s, self.mapping, self.delta_i_max_a, parameter, self.stack.i_cap_a)

    def effective_weights(self, weights: ArrayLike, temps_c: ArrayLike) -> NDArray[np.float64]:
        """Normalized weights read back at each die temperature.

        Parameters
        ----------
        weights : array_like
            ``s = w / w_max`` in [-1, 1].
        temps_c : array_like
            Die temperatures (degrees C).

        Returns
        -------
        ndarray, shape ``(len(temps_c), *weights.shape)``
            ``(I+(T) - I-(T)) / dI_max`` (equal to ``s`` at the tuning temperature).
        """
        i_plus, i_minus = self.currents(weights)
        both = self.stack.currents_at(np.stack([i_plus, i_minus]), temps_c)
        return (both[:, 0] - both[:, 1]) / self.delta_i_max_a

    def relative_error(self, weights: ArrayLike, temps_c: ArrayLike) -> NDArray[np.float64]:
        """``E_r = (W_eff(T) - W) / W`` for positive weights ``W``, shape (temps, weights)."""
        w = np.asarray(weights, dtype=np.float64)
        if np.any(w <= 0):
            raise XbarsimInputError("weights: relative errors need weights > 0")
        return (self.effective_weights(w, temps_c) - w) / w

    def cost(self, weights: ArrayLike | None = None, temps_c: ArrayLike | None = None) -> float:
        """Cost ``C = max_T integral |E_r(W, T)| dW`` (dimensionless; module docstring)."""
        w = default_weights() if weights is None else np.asarray(weights, dtype=np.float64)
        t = default_temps(self.stack.t0_c) if temps_c is None else temps_c
        return float(cost_of_errors(self.relative_error(w, t), w))

    def energy(self, weights: ArrayLike) -> float:
        """Array energy per inference ``sum(I+ + I-)`` (A, x input x time)."""
        i_plus, i_minus = self.currents(weights)
        return float(np.sum(i_plus + i_minus))


def _check_mapping(mapping: str) -> None:
    if mapping not in ("mapping1", "mapping2"):
        raise XbarsimInputError(f"mapping: unknown {mapping!r}; allowed: mapping1, mapping2")


def cost_of_errors(errors: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """``max_T integral |E_r| dW`` of errors ``(..., temps, weights)`` (trapezoid rule)."""
    e = np.abs(np.asarray(errors, dtype=np.float64))
    return np.trapezoid(e, np.asarray(weights, dtype=np.float64), axis=-1).max(axis=-1)


@dataclass(frozen=True)
class StateSearch:
    """Outcome of the thesis's state-optimization procedure (Fig. 23).

    Attributes
    ----------
    stack : str
    mapping : str
    delta_grid_a, parameter_grid_a : ndarray
        Axes (A) of the cost heat map.
    cost : ndarray, shape (deltas, parameters)
        ``C`` of the constant design; NaN where a device leaves ``[0, cap]``.
    delta_i_max_a : float
        The chosen dynamic range (A).
    weights : ndarray
        Normalized weight grid of the second map.
    worst_error : ndarray, shape (weights, parameters)
        ``max_T |E_r|`` at ``delta_i_max_a``; NaN where infeasible.
    best_parameter_a : ndarray, shape (weights,)
        Parameter (A) minimizing ``worst_error`` per weight.
    design : StateOptimization
        The fitted clipped-linear rule at ``delta_i_max_a``.
    energy : ndarray, shape (deltas,)
        Energy of the cheapest feasible constant design per ``dI_max``, normalized to the
        baseline design (NaN where none is feasible).
    """

    stack: str
    mapping: str
    delta_grid_a: NDArray[np.float64]
    parameter_grid_a: NDArray[np.float64]
    cost: NDArray[np.float64]
    delta_i_max_a: float
    weights: NDArray[np.float64]
    worst_error: NDArray[np.float64]
    best_parameter_a: NDArray[np.float64]
    design: StateOptimization
    energy: NDArray[np.float64]


def fit_rule(r: ArrayLike, parameter_a: ArrayLike, tolerance: float = 0.02) -> ParameterRule:
    """Clipped-linear fit ``max(floor, a + b r)`` of per-weight optimal parameters (A).

    The floor is the smallest optimal value; points within ``tolerance`` of the parameter
    span above it count as on the floor; a line is fitted (least squares) to the rest
    (a constant when fewer than two remain).
    """
    rr = np.asarray(r, dtype=np.float64)
    p = np.asarray(parameter_a, dtype=np.float64)
    ok = np.isfinite(p)
    rr, p = rr[ok], p[ok]
    if p.size == 0:
        raise XbarsimInputError("parameter: no feasible optimum to fit a rule to")
    floor = float(p.min())
    span = float(p.max() - floor)
    above = p > floor + tolerance * span
    if span == 0.0 or above.sum() < 2:
        return ParameterRule.constant(floor)
    slope, intercept = np.polyfit(rr[above], p[above], 1)
    return ParameterRule(intercept_a=float(intercept), slope_a=float(slope), floor_a=floor)


def search(
    stack: str | CurrentStack,
    mapping: str,
    delta_grid_a: ArrayLike | None = None,
    parameter_grid_a: ArrayLike | None = None,
    delta_i_max_a: float | None = None,
    weights: ArrayLike | None = None,
    temps_c: ArrayLike | None = None,
    energy_weights: int = 100_000,
    seed: int = 0,
) -> StateSearch:
    """The state-optimization search of the thesis (Fig. 23, module docstring).

    Parameters
    ----------
    stack : "memristor", "eflash" or CurrentStack
    mapping : {"mapping1", "mapping2"}
    delta_grid_a, parameter_grid_a : array_like, optional
        Heat-map axes (A); default 40 x 40 points on (0, cap].
    delta_i_max_a : float, optional
        Dynamic range of the weight-dependent rule (A); default the ``C`` minimum over
        ``delta_grid_a``. The thesis picks 6.5 uA for memristors (a practical range, the
        minimum lies at an impractically small one).
    weights, temps_c : array_like, optional
        Cost-function grids (default :func:`default_weights`, :func:`default_temps`).
    energy_weights : int
        Normally distributed weights of the energy column (thesis: 10 M; default 1e5).
    seed : int
        Seed of those weights.

    Returns
    -------
    StateSearch
    """
    st = stack if isinstance(stack, CurrentStack) else CurrentStack.named(stack)
    _check_mapping(mapping)
    cap = st.i_cap_a
    deltas = (
        np.linspace(cap / 40, cap, 40) if delta_grid_a is None else np.asarray(delta_grid_a, float)
    )
    params = (
        np.linspace(0.0, cap, 41)[:-1]
        if parameter_grid_a is None
        else np.asarray(parameter_grid_a, float)
    )
    too_big = np.any(deltas > cap * (1 + 1e-12))
    if deltas.size == 0 or params.size == 0 or np.any(deltas <= 0) or too_big:
        raise XbarsimInputError(f"delta_grid_a: values must lie in (0, {cap:g}] A")
    w = default_weights() if weights is None else np.asarray(weights, dtype=np.float64)
    t = default_temps(st.t0_c) if temps_c is None else np.asarray(temps_c, dtype=np.float64)
    cost = np.full((deltas.size, params.size), np.nan)
    for i, delta in enumerate(deltas):
        lo, hi = feasible_bounds(mapping, 1.0, delta, cap)
        for j, p in enumerate(params):
            if lo - 1e-15 <= p <= hi + 1e-15:
                design = StateOptimization(
                    stack=st,
                    mapping=mapping,
                    delta_i_max_a=delta,
                    rule=ParameterRule.constant(p),
                )
                cost[i, j] = design.cost(w, t)
    if delta_i_max_a is None:
        if not np.isfinite(cost).any():
            raise XbarsimInputError("parameter_grid_a: no feasible design on the grid")
        delta_i_max_a = float(deltas[np.nanargmin(np.nanmin(cost, axis=1))])
    worst = np.full((w.size, params.size), np.nan)
    lo_w, hi_w = feasible_bounds(mapping, w, delta_i_max_a, cap)
    for j, p in enumerate(params):
        design = StateOptimization(
            stack=st,
            mapping=mapping,
            delta_i_max_a=delta_i_max_a,
            rule=ParameterRule.constant(p),
        )
        err = np.abs(design.relative_error(w, t)).max(axis=0)
        ok = (p >= lo_w - 1e-15) & (p <= hi_w + 1e-15)
        worst[ok, j] = err[ok]
    best = np.full(w.size, np.nan)
    has = np.isfinite(worst).any(axis=1)
    best[has] = params[np.nanargmin(worst[has], axis=1)]
    rule = fit_rule(w, best)
    design = StateOptimization(
        stack=st, mapping=mapping, delta_i_max_a=delta_i_max_a, rule=rule, label="search"
    )
    sample = np.random.default_rng(seed).standard_normal(energy_weights)
    sample = sample / np.abs(sample).max()
    base = StateOptimization.baseline(st, mapping).energy(sample)
    energy = np.full(deltas.size, np.nan)
    for i, delta in enumerate(deltas):
        lo, hi = feasible_bounds(mapping, 1.0, delta, cap)
        feasible = params[(params >= lo - 1e-15) & (params <= hi + 1e-15)]
        if feasible.size:
            cheapest = StateOptimization(
                stack=st,
                mapping=mapping,
                delta_i_max_a=delta,
                rule=ParameterRule.constant(float(feasible.min())),
            )
            energy[i] = cheapest.energy(sample) / base
    return StateSearch(
        stack=st.kind,
        mapping=mapping,
        delta_grid_a=deltas,
        parameter_grid_a=params,
        cost=cost,
        delta_i_max_a=float(delta_i_max_a),
        weights=w,
        worst_error=worst,
        best_parameter_a=best,
        design=design,
        energy=energy,
    )

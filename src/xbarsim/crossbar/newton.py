"""Crossbars of nonlinear devices with line resistance: Newton on the nodal system (layer 2).

A device law ``i(v, G)`` (any object with ``current(g_s, v)``, optionally
``differential_conductance(g_s, v)``; the I-V models of :mod:`xbarsim.devices` have this
shape) makes the circuit nonlinear, so there is no effective matrix: each input vector is
solved by Newton-Raphson on the same sparse nodal system as
:class:`~xbarsim.crossbar.nodal.NodalNetwork`, warm-started from the linear solution (the
devices at their conductance ``G``). The iteration stops when the largest node-voltage
update is below ``tol_v`` and raises :class:`NewtonConvergenceError` when it has not
after ``max_iter`` iterations, never returning an unconverged answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.crossbar.lines import Lines
from xbarsim.crossbar.nodal import NodalNetwork, factorize
from xbarsim.errors import XbarsimInputError


class NewtonConvergenceError(XbarsimInputError):
    """Newton's iteration did not converge (the circuit is too nonlinear for the settings)."""


class IVLaw(Protocol):
    """A static device law: current (A) through devices of conductance ``g_s`` (S) at
    voltage ``v`` (V), elementwise."""

    def current(self, g_s: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
        """Device currents (A)."""
        ...


@dataclass(frozen=True)
class SinhIV:
    """Symmetric sinh law ``I = (G / b)·sinh(b·V)``: small-signal conductance ``G`` at 0 V,
    ``cosh(b·V)`` times larger at ``V``.

    Attributes
    ----------
    b_per_v : float
        Steepness b (1/V, > 0); the paper's nonlinearity factors give b ≈ 3.55 V⁻¹
        (100 µS) to 6.05 V⁻¹ (10 µS).
    """

    b_per_v: float = 3.55

    def __post_init__(self) -> None:
        if not (np.isfinite(self.b_per_v) and self.b_per_v > 0.0):
            raise XbarsimInputError(f"b_per_v: must be a finite number > 0, got {self.b_per_v}")

    def current(self, g_s: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(G / b)·sinh(b·V)`` (A)."""
        return g_s / self.b_per_v * np.sinh(self.b_per_v * v)

    def differential_conductance(
        self, g_s: NDArray[np.float64], v: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """``dI/dV = G·cosh(b·V)`` (S)."""
        return g_s * np.cosh(self.b_per_v * v)


def _derivative(law: IVLaw, g: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    """dI/dV (S): the law's own, else a central difference with a 1 µV step."""
    exact = getattr(law, "differential_conductance", None)
    if exact is not None:
        return np.asarray(exact(g, v), dtype=np.float64)
    h = 1e-6
    return (np.asarray(law.current(g, v + h)) - np.asarray(law.current(g, v - h))) / (2 * h)


@dataclass
class NonlinearSolution:
    """Currents of a nonlinear crossbar.

    Attributes
    ----------
    currents_a : ndarray, shape (n, cols)
        Column currents into the virtual grounds (A).
    linear_currents_a : ndarray, shape (n, cols)
        The warm start: the same circuit with linear devices (A).
    iterations : ndarray of int, shape (n,)
        Newton iterations per input vector.
    """

    currents_a: NDArray[np.float64]
    linear_currents_a: NDArray[np.float64]
    iterations: NDArray[np.int64]


def solve_nonlinear(
    conductance_s: ArrayLike,
    lines: Lines,
    v_in: ArrayLike,
    law: IVLaw,
    tol_v: float = 1e-12,
    max_iter: int = 50,
) -> NonlinearSolution:
    """Column currents of one crossbar of nonlinear devices, per input vector.

    Parameters
    ----------
    conductance_s : array_like, shape (rows, cols)
        Device conductances (S) as the law takes them.
    lines : Lines
    v_in : array_like, shape (rows,) or (n, rows)
        Input voltages (V).
    law : IVLaw
        Device law (e.g. :class:`SinhIV`).
    tol_v : float
        Converged when every node-voltage update is below this (V, > 0).
    max_iter : int
        Newton iterations allowed per input vector (>= 1).

    Raises
    ------
    NewtonConvergenceError
        When an input vector has not converged after ``max_iter`` iterations, or the
        iterate stops being finite.
    """
    if not (np.isfinite(tol_v) and tol_v > 0.0):
        raise XbarsimInputError(f"tol_v: must be a finite number > 0, got {tol_v!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise XbarsimInputError(f"max_iter: must be an integer >= 1, got {max_iter!r}")
    net = NodalNetwork(conductance_s, lines)
    v = np.atleast_2d(np.asarray(v_in, dtype=np.float64))
    if v.shape[-1] != net.rows or not np.all(np.isfinite(v)):
        raise XbarsimInputError(f"v_in: must hold finite rows of length {net.rows}")
    g = net.conductance.ravel()
    n_dev = g.size
    pairs, g_edge = net.edges()
    n_line = g_edge.size - n_dev
    ends = net.free_index(pairs)
    k_lin, b_lin = net.matrices()
    lu = factorize(k_lin) if net.n_free else None
    out = np.empty((v.shape[0], net.cols))
    linear = np.empty_like(out)
    iterations = np.zeros(v.shape[0], dtype=np.int64)
    for n, vin in enumerate(v):
        x = lu.solve(b_lin @ vin) if lu is not None else np.zeros(0)
        linear[n] = _column_currents(net, g * net.edge_voltages(pairs, x, vin)[n_line:])
        for it in range(1, max_iter + 1):
            dv = net.edge_voltages(pairs, x, vin)
            with np.errstate(over="ignore", invalid="ignore"):
                i_dev = np.asarray(law.current(g, dv[n_line:]), dtype=np.float64)
                slope_dev = _derivative(law, g, dv[n_line:])
            if not (np.all(np.isfinite(i_dev)) and np.all(np.isfinite(slope_dev))):
                raise NewtonConvergenceError(
                    f"newton: device currents overflowed at iteration {it} (diverging)"
                )
            current = np.concatenate([g_edge[:n_line] * dv[:n_line], i_dev])
            slope = np.concatenate([g_edge[:n_line], slope_dev])
            residual = np.zeros(net.n_free)
            np.add.at(residual, ends[0][ends[0] >= 0], current[ends[0] >= 0])
            np.add.at(residual, ends[1][ends[1] >= 0], -current[ends[1] >= 0])
            if net.n_free == 0:
                break
            jac, _ = net.assemble(pairs, slope)
            step = factorize(jac).solve(-residual)
            if not np.all(np.isfinite(step)):
                raise NewtonConvergenceError("newton: the iterate is no longer finite")
            x = x + step
            if np.max(np.abs(step)) < tol_v:
                break
        else:
            raise NewtonConvergenceError(
                f"newton: no convergence after {max_iter} iterations (last update "
                f"{np.max(np.abs(step)):.3g} V > tol_v = {tol_v:g} V)"
            )
        iterations[n] = it
        dv = net.edge_voltages(pairs, x, vin)
        out[n] = _column_currents(net, np.asarray(law.current(g, dv[n_line:])))
    return NonlinearSolution(out, linear, iterations)


def _column_currents(net: NodalNetwork, i_dev: NDArray[np.float64]) -> NDArray[np.float64]:
    """Output currents (A): everything entering a column leaves through its sink(s)."""
    return i_dev.reshape(net.rows, net.cols).sum(axis=0)

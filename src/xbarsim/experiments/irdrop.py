"""IR drop of one random crossbar: exact currents with line resistance vs ideal (layer 7).

The setup of ``xbarsim ir-drop``: conductances uniform in 10-100 µS and inputs uniform in
0-0.1 V, both drawn from ``SeedSequence(seed)`` (conductances first); the circuit is the
one of :class:`xbarsim.crossbar.Lines`. No IR-drop number is published for the thesis's or
the paper's arrays: the table's published column stays empty, and our first-order
estimate of the far device's voltage deficit is shown beside the exact result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from xbarsim.crossbar.irdrop import check_solver_size, effective_matrix
from xbarsim.crossbar.lines import Lines
from xbarsim.report.tables import ComparisonRow
from xbarsim.validation import check_positive_int, check_seed

#: Conductance range (S) and input range (V) of the random crossbar.
G_RANGE_S = (10e-6, 100e-6)
V_RANGE_V = (0.0, 0.1)


@dataclass
class IrDropRun:
    """Result of :func:`run_ir_drop`.

    Attributes
    ----------
    conductance_s : ndarray, shape (rows, cols)
    v_in_v : ndarray, shape (rows,)
    i_out_a, i_ideal_a : ndarray, shape (cols,)
        Column currents with line resistance and ideal (A).
    solve_s : float
        Wall time of the effective-matrix solve and product (s).
    lines : Lines
    """

    conductance_s: NDArray[np.float64]
    v_in_v: NDArray[np.float64]
    i_out_a: NDArray[np.float64]
    i_ideal_a: NDArray[np.float64]
    solve_s: float
    lines: Lines

    @property
    def max_rel_error_vs_ideal(self) -> float:
        """Largest ``|I − I_ideal| / |I_ideal|`` over the columns."""
        return float(np.max(np.abs(self.i_out_a - self.i_ideal_a) / np.abs(self.i_ideal_a)))

    def summary(self) -> dict[str, Any]:
        """The JSON record: ``g_s``, ``v_in_v``, ``i_out_a``, ``i_ideal_a``,
        ``max_rel_error_vs_ideal``, ``solve_ms``."""
        return {
            "g_s": self.conductance_s.tolist(),
            "v_in_v": self.v_in_v.tolist(),
            "i_out_a": self.i_out_a.tolist(),
            "i_ideal_a": self.i_ideal_a.tolist(),
            "max_rel_error_vs_ideal": self.max_rel_error_vs_ideal,
            "solve_ms": 1e3 * self.solve_s,
        }


def run_ir_drop(rows: int, cols: int, lines: Lines, seed: int = 0) -> IrDropRun:
    """Currents of a random ``rows × cols`` crossbar with and without line resistance.

    Parameters
    ----------
    rows, cols : int
        Array size (>= 1).
    lines : Lines
    seed : int
        Seed (>= 0) of the conductances and inputs.

    Raises
    ------
    XbarsimInputError
        For invalid sizes or seed, or a size whose solve would not fit in memory (checked
        before any work).
    """
    rows = check_positive_int("rows", rows)
    cols = check_positive_int("cols", cols)
    seed = check_seed(seed)
    check_solver_size(rows, cols)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    g = rng.uniform(*G_RANGE_S, size=(rows, cols))
    v = rng.uniform(*V_RANGE_V, size=rows)
    start = time.perf_counter()
    i_out = v @ effective_matrix(g, lines)
    solve_s = time.perf_counter() - start
    return IrDropRun(g, v, i_out, v @ g, solve_s, lines)


def first_order_deficit(run: IrDropRun) -> float:
    """Our first-order estimate of the relative voltage deficit of the far device on one line of
    N devices at the mean conductance, ``r·G·N(N+1)/2``, for the larger of the row and
    column estimates (worst case: every input at its maximum)."""
    rows, cols = run.conductance_s.shape
    g_avg = float(run.conductance_s.mean())
    col = run.lines.r_col_ohm * g_avg * rows * (rows + 1) / 2
    row = run.lines.r_row_ohm * g_avg * cols * (cols + 1) / 2
    return max(col, row)


def comparison_rows(run: IrDropRun) -> list[ComparisonRow]:
    """Table rows: no IR-drop value is published, so the published column stays empty; our
    first-order estimate is a row of its own beside the solved error."""
    rows, cols = run.conductance_s.shape
    return [
        ComparisonRow("array", "-", f"{rows}x{cols}"),
        ComparisonRow("max |I - I_ideal| / I_ideal", "-", f"{run.max_rel_error_vs_ideal:.4g}"),
        ComparisonRow(
            "  our first-order estimate (lines only, far device)",
            "-",
            f"~{first_order_deficit(run):.3g}",
        ),
        ComparisonRow(
            "mean output current (uA)",
            f"{1e6 * float(run.i_ideal_a.mean()):.4g} (ideal)",
            f"{1e6 * float(run.i_out_a.mean()):.4g}",
        ),
        ComparisonRow("solve (ms)", "-", f"{1e3 * run.solve_s:.3g}"),
    ]

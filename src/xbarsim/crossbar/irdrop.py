"""Exact IR drop of linear crossbars as an effective matrix (layer 2).

With linear devices a crossbar and its line resistances form a fixed linear map from the
input voltages ``V`` (rows) to the currents ``I`` into the columns' virtual grounds:
``I = Vᵀ M``. :func:`effective_matrix` computes ``M`` once per programmed crossbar, so
inference with IR drop is an ordinary matrix product.

Method (exact, no iteration). Order the nodes by column index ``j``. The column-line
nodes of column ``j`` touch only their own chain, the devices of column ``j`` and the sink,
so they are eliminated first: with ``D_j = diag(G[:, j])`` and ``A_j`` the column chain's
tridiagonal conductance matrix (segments, devices, sink), the column as seen from the row
nodes is the ``rows × rows`` admittance ``Y_j = D_j − D_j A_j⁻¹ D_j`` and its output current
is ``I_j = 1ᵀ Y_j u_j`` (everything entering a column leaves through its sink). What remains
is the row-line nodes: a block-tridiagonal system along ``j`` with dense diagonal blocks
``Y_j + (row segments and drivers)`` and scalar off-diagonal blocks ``−I/r_row``, solved by
block Gaussian elimination for all ``rows`` unit inputs at once. Cost ``O(cols · rows³)``
in dense BLAS/LAPACK kernels batched over crossbars, against the sparse LU of the full
``2·rows·cols`` node system in :class:`xbarsim.crossbar.nodal.NodalNetwork` (the
reference it is tested against). Zero resistances are exact special cases (merged nodes,
fixed voltages), never divisions by zero.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits

from xbarsim.crossbar.lines import Lines
from xbarsim.crossbar.nodal import check_conductance, line_ends
from xbarsim.errors import XbarsimInputError

#: Working memory the solver may use for one chunk of crossbars (bytes).
CHUNK_BYTES = 32 * 2**20


def solver_bytes(rows: int, cols: int) -> int:
    """Working memory of :func:`effective_matrix` for one crossbar (bytes, float64)."""
    return 4 * cols * rows * rows * 8


def _memory_limit() -> int:
    """Half of the machine's physical memory (bytes)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 2**30


def check_solver_size(rows: int, cols: int) -> None:
    """Refuse a crossbar whose solve would not fit in memory, with the estimate."""
    need = solver_bytes(rows, cols)
    limit = _memory_limit()
    if need > limit:
        raise XbarsimInputError(
            f"size: the IR-drop solve of a {rows}x{cols} crossbar needs about "
            f"{need / 2**30:.1f} GiB, more than the {limit / 2**30:.1f} GiB allowed "
            f"(half of physical memory)"
        )


def column_admittance(
    conductance_s: NDArray[np.float64], lines: Lines
) -> NDArray[np.float64]:
    """Admittance ``Y_j`` (S) of every column as seen from the row-line nodes.

    Parameters
    ----------
    conductance_s : ndarray, shape (batch, rows, cols)
    lines : Lines

    Returns
    -------
    ndarray, shape (batch, cols, rows, rows)
        ``Y_j = D_j − D_j A_j⁻¹ D_j``; the current from row node ``i`` into column ``j`` is
        ``(Y_j u_j)_i`` for row-node voltages ``u_j``.
    """
    d = np.swapaxes(conductance_s, 1, 2)  # (batch, cols, rows)
    batch, cols, rows = d.shape
    sensed = line_ends(lines.col_sense, rows)
    r_t = lines.r_terminal_ohm
    if lines.r_col_ohm == 0.0:
        y = np.zeros((batch, cols, rows, rows))
        if r_t != 0.0:
            total = d.sum(axis=-1) + len(sensed) / r_t
            y -= d[..., :, None] * d[..., None, :] / total[..., None, None]
        y[..., np.arange(rows), np.arange(rows)] += d
        return y
    g_c = 1.0 / lines.r_col_ohm
    # symmetric tridiagonal chain: main diagonal ``alpha`` and coupling ``-beta`` per link
    alpha = d.copy()
    beta = np.full(rows - 1, g_c)
    degree = np.zeros(rows)
    degree[:-1] += g_c
    degree[1:] += g_c
    alpha += degree
    d_free = d.copy()
    for k in sensed:
        if r_t == 0.0:  # held at ground: decouple the node and drop it from D
            alpha[..., k] = 1.0
            beta[max(k - 1, 0) : k + 1] = 0.0
            d_free[..., k] = 0.0
        else:
            alpha[..., k] += 1.0 / r_t
    y = _tridiagonal_inverse(alpha, beta)
    y *= d_free[..., :, None]
    y *= -d_free[..., None, :]
    y[..., np.arange(rows), np.arange(rows)] += d
    return y


def _tridiagonal_inverse(
    alpha: NDArray[np.float64], beta: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Inverse of symmetric tridiagonal M-matrices by the Thomas algorithm on the identity.

    Parameters
    ----------
    alpha : ndarray, shape (..., n)
        Main diagonals (S), positive, weakly diagonally dominant.
    beta : ndarray, shape (n - 1,)
        Link conductances (S, >= 0); the off-diagonal entries are ``-beta``.

    Returns
    -------
    ndarray, shape (..., n, n)
        ``A⁻¹``; O(n²) per matrix, stable without pivoting for diagonally dominant ``A``.
    """
    n = alpha.shape[-1]
    rhs = np.broadcast_to(np.eye(n), (*alpha.shape[:-1], n, n)).copy()
    pivot = np.empty_like(alpha)
    pivot[..., 0] = alpha[..., 0]
    for k in range(1, n):
        factor = beta[k - 1] / pivot[..., k - 1]
        pivot[..., k] = alpha[..., k] - factor * beta[k - 1]
        rhs[..., k, :] += factor[..., None] * rhs[..., k - 1, :]
    rhs[..., n - 1, :] /= pivot[..., n - 1, None]
    for k in range(n - 2, -1, -1):
        rhs[..., k, :] = (rhs[..., k, :] + beta[k] * rhs[..., k + 1, :]) / pivot[..., k, None]
    return rhs


def spd_inverse(k: NDArray[np.float64], base: int = 16) -> NDArray[np.float64]:
    """Inverses of symmetric positive definite matrices by recursive 2×2 blocking.

    ``K = [[A, B], [Bᵀ, C]]``: ``K⁻¹`` from ``A⁻¹`` and the inverse of the Schur complement
    ``S = C − Bᵀ A⁻¹ B`` (both SPD, so no pivoting is needed), down to blocks of ``base``;
    the work is in batched matrix products, several times faster than LU-based inversion
    for the small stacked matrices here.

    Parameters
    ----------
    k : ndarray, shape (..., n, n)
        SPD matrices.
    base : int
        Size at or below which LAPACK inverts directly.
    """
    n = k.shape[-1]
    if n <= base:
        return np.linalg.inv(k)
    h = n // 2
    a, b, c = k[..., :h, :h], k[..., :h, h:], k[..., h:, h:]
    a_inv = spd_inverse(a, base)
    a_inv_b = a_inv @ b
    s_inv = spd_inverse(c - np.swapaxes(b, -1, -2) @ a_inv_b, base)
    off = -a_inv_b @ s_inv
    out = np.empty_like(k)
    out[..., :h, h:] = off
    out[..., h:, :h] = np.swapaxes(off, -1, -2)
    out[..., h:, h:] = s_inv
    out[..., :h, :h] = a_inv - off @ np.swapaxes(a_inv_b, -1, -2)
    return out


def _row_solution_merged(
    y: NDArray[np.float64], a: NDArray[np.float64], lines: Lines
) -> NDArray[np.float64]:
    """Effective matrix when every row line is one node (``r_row_ohm = 0``)."""
    batch, cols, rows, _ = y.shape
    eye = np.eye(rows)
    if lines.r_source_ohm == 0.0:
        u = np.broadcast_to(eye, (batch, rows, rows))
    else:
        g_s = len(line_ends(lines.row_drive, cols)) / lines.r_source_ohm
        u = np.linalg.solve(y.sum(axis=1) + g_s * eye, np.broadcast_to(g_s * eye, y.shape[:1]
                                                                         + eye.shape))
    # M[b, i, j] = sum_k U[b, k, i] a[b, j, k]
    return np.einsum("bki,bjk->bij", u, a)


def _row_solution_one_end(
    y: NDArray[np.float64], a: NDArray[np.float64], lines: Lines
) -> NDArray[np.float64]:
    """Effective matrix for rows driven at column 0 only (``r_row_ohm > 0``), by the adjoint.

    ``M[:, j] = c · (K⁻¹ F)_e[:, j]`` where column ``j`` of ``F`` is ``a_j`` placed in block
    ``j``, ``e`` is the first unknown block and ``c`` the conductance through which the
    inputs reach it (the source lead, or the first segment when the source is ideal). Block
    elimination from the far end yields ``(K⁻¹ F)_e`` without back substitution, and the
    right-hand side of block ``j`` has only columns ``>= j``.
    """
    batch, cols, rows, _ = y.shape
    eye = np.eye(rows)
    g_r = 1.0 / lines.r_row_ohm
    fixed = lines.r_source_ohm == 0.0
    g_s = 0.0 if fixed else 1.0 / lines.r_source_ohm
    out = np.empty((batch, rows, cols))
    start = 1 if fixed else 0
    if fixed:
        out[:, :, 0] = a[:, 0, :]
    if start >= cols:
        return out
    h = np.zeros((batch, rows, cols))
    t_inv = None
    for j in range(cols - 1, start - 1, -1):
        degree = (j > 0) + (j < cols - 1)
        k = y[:, j] + (g_r * degree + (g_s if j == 0 else 0.0)) * eye
        if t_inv is not None:
            k = k - g_r * g_r * t_inv
            h[:, :, j + 1 :] = g_r * (t_inv @ h[:, :, j + 1 :])
        h[:, :, j] = a[:, j, :]
        t_inv = spd_inverse(k)
    x_entry = t_inv @ h[:, :, start:]
    out[:, :, start:] = (g_r if fixed else g_s) * x_entry
    return out


def _row_solution_chain(
    y: NDArray[np.float64], a: NDArray[np.float64], lines: Lines
) -> NDArray[np.float64]:
    """Effective matrix by block elimination along the row lines and back substitution
    (``r_row_ohm > 0``; used for rows driven at both ends)."""
    batch, cols, rows, _ = y.shape
    eye = np.eye(rows)
    g_r = 1.0 / lines.r_row_ohm
    driven = set(line_ends(lines.row_drive, cols))
    fixed = driven if lines.r_source_ohm == 0.0 else set()
    g_s = 0.0 if fixed else 1.0 / lines.r_source_ohm
    out = np.empty((batch, rows, cols))
    for j in fixed:  # a row end held at the source: U_j = I
        out[:, :, j] = a[:, j, :]
    unknown = [j for j in range(cols) if j not in fixed]
    if not unknown:
        return out
    start, stop = unknown[0], unknown[-1]
    s_inv = np.empty((batch, stop - start + 1, rows, rows))
    g_acc = np.empty_like(s_inv)
    prev_inv = prev_g = None
    for n, j in enumerate(range(start, stop + 1)):
        degree = (j > 0) + (j < cols - 1)
        k = y[:, j] + (g_r * degree + (g_s if j in driven else 0.0)) * eye
        rhs = np.zeros((batch, rows, rows))
        if j in driven and not fixed:
            rhs += g_s * eye
        if j - 1 in fixed:
            rhs += g_r * eye
        if j + 1 in fixed:
            rhs += g_r * eye
        if prev_inv is not None:
            k = k - g_r * g_r * prev_inv
            rhs = rhs + g_r * prev_g
        prev_inv = spd_inverse(k)
        prev_g = prev_inv @ rhs
        s_inv[:, n], g_acc[:, n] = prev_inv, prev_g
    u = g_acc[:, -1]
    out[:, :, stop] = np.einsum("bki,bk->bi", u, a[:, stop])
    for n in range(stop - start - 1, -1, -1):
        j = start + n
        u = g_acc[:, n] + g_r * (s_inv[:, n] @ u)
        out[:, :, j] = np.einsum("bki,bk->bi", u, a[:, j])
    return out


def _solve_chunk(g: NDArray[np.float64], lines: Lines) -> NDArray[np.float64]:
    """Effective matrices of a chunk of crossbars (one BLAS thread)."""
    with threadpool_limits(limits=1):
        y = column_admittance(g, lines)
        a = y.sum(axis=-1)  # Y_j 1 (Y symmetric): output current functional per column
        if lines.r_row_ohm == 0.0:
            return _row_solution_merged(y, a, lines)
        if lines.row_drive == "first":
            return _row_solution_one_end(y, a, lines)
        if lines.row_drive == "last":  # mirror the column order
            return _row_solution_one_end(y[:, ::-1], a[:, ::-1], lines)[:, :, ::-1]
        return _row_solution_chain(y, a, lines)


def effective_matrix(
    conductance_s: ArrayLike | object, lines: Lines | None = None, workers: int | None = None
) -> NDArray[np.float64]:
    """Exact transfer matrices of crossbars with line resistance.

    Parameters
    ----------
    conductance_s : array_like, shape (batch, rows, cols) or (rows, cols), or a Crossbar
        Device conductances (S, >= 0); a :class:`~xbarsim.crossbar.Crossbar` uses its
        ``conductance``.
    lines : Lines, optional
        Line resistances; ``None`` or an ideal ``Lines`` returns the conductances.
    workers : int, optional
        Threads solving chunks of crossbars in parallel (default: the CPU count). Each
        chunk runs on one BLAS thread, so results do not depend on ``workers``.

    Returns
    -------
    ndarray, same shape as the conductances
        ``M`` (S) such that the column currents for row voltages ``V`` (V) are
        ``I = Vᵀ M`` (A), per crossbar.

    Raises
    ------
    XbarsimInputError
        For invalid conductances or a size whose solve would not fit in memory.
    """
    raw = getattr(conductance_s, "conductance", conductance_s)
    g = np.asarray(raw, dtype=np.float64)
    single = g.ndim == 2
    g = check_conductance(g[None] if single else g, 3)
    if lines is None or lines.is_ideal:
        out = g.copy()
        return out[0] if single else out
    batch, rows, cols = g.shape
    check_solver_size(rows, cols)
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise XbarsimInputError(f"workers: must be an integer >= 1, got {workers!r}")
    chunk = max(1, CHUNK_BYTES // solver_bytes(rows, cols))
    starts = range(0, batch, chunk)
    out = np.empty_like(g)
    if workers == 1 or len(starts) == 1:
        for lo in starts:
            out[lo : lo + chunk] = _solve_chunk(g[lo : lo + chunk], lines)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = pool.map(lambda lo: _solve_chunk(g[lo : lo + chunk], lines), starts)
            for lo, part in zip(starts, parts, strict=True):
                out[lo : lo + chunk] = part
    return out[0] if single else out


def program_through_lines(
    targets_s: ArrayLike,
    lines: Lines,
    g_max_s: float | None = None,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> NDArray[np.float64]:
    """Conductances that a write-verify reading through the lines converges to.

    The verify read of device ``(i, j)`` (thesis §4.1.1: its row driven, other rows and all
    columns at ground) senses ``V_read · M[i, j]`` with ``M`` the effective matrix
    (:meth:`~xbarsim.crossbar.Crossbar.read`), so a verify loop that stops when the read
    equals the target leaves ``G`` with ``M(G) = T`` instead of ``G = T``: devices far from
    the driver and sink are tuned higher to make up for the drop their own read sees. Solved
    by the fixed point ``G ← G · T / M(G)`` (idealized: exact tuning, no tolerance band);
    devices that would need more than ``g_max_s`` stay there (they cannot be tuned higher).

    Parameters
    ----------
    targets_s : array_like, shape (batch, rows, cols)
        Target conductances (S, > 0).
    lines : Lines
    g_max_s : float, optional
        Largest conductance a device can reach (S); default: no limit.
    tol : float
        Stop when every ``|M/T − 1|`` of a device below ``g_max_s`` is below this (> 0).
    max_iter : int
        Fixed-point iterations allowed (>= 1).

    Raises
    ------
    XbarsimInputError
        For invalid targets or settings, or when the reads do not settle on the targets
        within ``max_iter`` iterations (lines too resistive without a ``g_max_s``).
    """
    t = check_conductance(targets_s, 3)
    if np.any(t <= 0.0):
        raise XbarsimInputError("targets_s: must be > 0 S everywhere")
    if not (np.isfinite(tol) and tol > 0.0):
        raise XbarsimInputError(f"tol: must be a finite number > 0, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise XbarsimInputError(f"max_iter: must be an integer >= 1, got {max_iter!r}")
    cap = np.inf if g_max_s is None else float(g_max_s)
    if not cap > 0.0:
        raise XbarsimInputError(f"g_max_s: must be > 0, got {g_max_s!r}")
    g = np.minimum(t, cap)
    worst = np.inf
    for _ in range(max_iter):
        ratio = effective_matrix(g, lines) / t
        free = g < cap
        worst = float(np.max(np.abs(ratio - 1.0)[free])) if free.any() else 0.0
        if worst < tol:
            return g
        with np.errstate(divide="ignore"):
            g = np.minimum(g / ratio, cap)
        if not np.all(np.isfinite(g)):
            break
    raise XbarsimInputError(
        f"lines: verify reads do not reach the targets after {max_iter} iterations "
        f"(largest read error {worst:.3g}); the lines are too resistive"
    )


def first_order_matrix(
    conductance_s: NDArray[np.float64], lines: Lines
) -> NDArray[np.float64] | None:
    """Effective matrices to first order in the line resistances (S), or None where the
    lines are driven or sensed at both ends (no first-order form here).

    With one input row ``i`` at 1 V and the others at 0 V, to first order the device
    ``(i, j)`` sees its row node lowered by the source and row-segment drops of its own row
    (every segment carries the row's device currents beyond it) and its column node raised
    by the sink and column-segment drops of column ``j`` (the currents entering between it
    and the sense end); every other device ``(l, j)`` of the column leaks the current
    ``G_lj`` times its column node's rise back into its grounded row::

        M_ij = G_ij (1 - r_s sum_k G_ik - r_row sum_(m <= p_j) sum_(p_k >= m) G_ik
                     - sum_l G_lj (r_t + r_col min(d_l, d_i)))

    with ``p`` the position along the row from its driver and ``d`` the distance along the
    column to its sense end. Cost ``O(rows * cols)`` per crossbar. Its error is second
    order in ``r * G * N``: a few percent for the paper's lines on 64 x 64 kernels, which is
    why :func:`updated_matrix` only uses it for the change between two conductance states.
    """
    if lines.row_drive == "both" or lines.col_sense == "both":
        return None
    g = np.asarray(conductance_s, dtype=np.float64)
    rows = g.shape[-2]
    by_position = g if lines.row_drive == "first" else g[..., ::-1]
    beyond = np.cumsum(by_position[..., ::-1], axis=-1)[..., ::-1]  # sum_(p_k >= m) G_ik
    row_drop = np.cumsum(beyond, axis=-1) - beyond[..., :1]  # segments m = 1 .. p_j
    row_drop = lines.r_row_ohm * row_drop
    if lines.row_drive == "last":
        row_drop = row_drop[..., ::-1]
    row_drop = row_drop + lines.r_source_ohm * g.sum(axis=-1, keepdims=True)
    by_distance = g if lines.col_sense == "first" else g[..., ::-1, :]
    d = np.arange(rows, dtype=np.float64)[:, None]
    nearer = np.cumsum(by_distance * d, axis=-2) - by_distance * d  # sum_(d_l < d_i) G d
    farther = np.cumsum(by_distance[..., ::-1, :], axis=-2)[..., ::-1, :]  # sum_(d_l >= d_i)
    shared = nearer + d * farther
    if lines.col_sense == "last":
        shared = shared[..., ::-1, :]
    col_rise = lines.r_terminal_ohm * g.sum(axis=-2, keepdims=True) + lines.r_col_ohm * shared
    return g * (1.0 - row_drop - col_rise)


def updated_matrix(
    exact: NDArray[np.float64],
    base_s: NDArray[np.float64],
    conductance_s: NDArray[np.float64],
    lines: Lines,
    base_first_order: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Effective matrices at new conductances from the exact ones at ``base_s`` (S).

    ``M(G) ~ M(G0) * F(G) / F(G0)`` with ``F`` the first-order matrices
    (:func:`first_order_matrix`; ``M(G0) + F(G) - F(G0)`` where ``F(G0)`` is 0): exact at
    ``G = G0``, with an error of the order of the first-order form's own error times the
    relative conductance change. On 64 x 64 kernels with the paper's lines and a 5 %
    conductance change it is about 0.5 % of the largest entry (the exact change is 5 %).
    Falls back to the exact solve where ``F`` has no form (lines driven or sensed at both
    ends) or where ``F(G0)`` is negative (lines too resistive for a first-order form).

    Parameters
    ----------
    exact : ndarray, shape (batch, rows, cols)
        ``effective_matrix(base_s, lines)``.
    base_s, conductance_s : ndarray, shape (batch, rows, cols)
        The conductances ``exact`` was solved for, and the new ones (S).
    lines : Lines
    base_first_order : ndarray, optional
        ``first_order_matrix(base_s, lines)``, when already computed.
    """
    new = first_order_matrix(conductance_s, lines)
    base = first_order_matrix(base_s, lines) if base_first_order is None else base_first_order
    if new is None or base is None or bool((base < 0.0).any()):
        return effective_matrix(conductance_s, lines)
    positive = base > 0.0
    ratio = np.divide(new, base, out=np.ones_like(new), where=positive)
    return np.where(positive, exact * ratio, exact + new - base)

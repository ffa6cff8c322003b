"""The full nodal circuit of one crossbar with line resistance, as a sparse system (layer 2).

Modified nodal analysis of the circuit described in :mod:`xbarsim.crossbar.lines`: one
unknown per free node, conductance matrix ``K`` (symmetric positive definite), and the
coupling ``B`` of the free nodes to the input sources, so that the node voltages are
``x = K⁻¹ B V``. Zero-resistance connections merge their nodes (a union-find), so every
configuration, including the ideal one, is solved without dividing by zero.

This is the general, plain implementation: the reference for the fast structured solver
of :mod:`xbarsim.crossbar.irdrop`, the per-input-vector baseline of the benchmarks, the
linear system of the Newton solver and the source of the SPICE netlists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike, NDArray

from xbarsim.crossbar.lines import Lines
from xbarsim.errors import XbarsimInputError


@dataclass(frozen=True)
class Resistor:
    """A two-terminal line element between node names (Ω)."""

    a: str
    b: str
    r_ohm: float


def check_conductance(conductance_s: ArrayLike, ndim: int) -> NDArray[np.float64]:
    """Validate conductances (S): finite, >= 0, with ``ndim`` axes."""
    g = np.asarray(conductance_s, dtype=np.float64)
    if g.ndim != ndim or 0 in g.shape:
        axes = "(rows, cols)" if ndim == 2 else "(batch, rows, cols)"
        raise XbarsimInputError(f"conductance: must have shape {axes}, got {g.shape}")
    if not np.all(np.isfinite(g)) or np.any(g < 0.0):
        raise XbarsimInputError("conductance: must be finite and >= 0 S everywhere")
    return g


def row_node(i: int, j: int) -> str:
    """Name of the row-line node at crosspoint (i, j)."""
    return f"r{i}_{j}"


def col_node(i: int, j: int) -> str:
    """Name of the column-line node at crosspoint (i, j)."""
    return f"c{i}_{j}"


def source_node(i: int) -> str:
    """Name of the ideal voltage source of input ``i``."""
    return f"in{i}"


GROUND = "0"


def line_ends(which: str, count: int) -> list[int]:
    """Indices of a line's connected end(s) among ``count`` crosspoints."""
    return {"first": [0], "last": [count - 1], "both": sorted({0, count - 1})}[which]


def line_resistors(rows: int, cols: int, lines: Lines) -> list[Resistor]:
    """Every line element of a ``rows × cols`` crossbar: segments, driver and sink leads.

    Returns
    -------
    list of Resistor
        Row segments ``r{i}_{j} – r{i}_{j+1}``, column segments ``c{i}_{j} – c{i+1}_{j}``,
        driver leads ``in{i} – r{i}_{end}`` and sink leads ``c{end}_{j} – 0`` (the virtual
        ground), with their resistances (Ω; zero allowed).
    """
    out: list[Resistor] = []
    for i in range(rows):
        for j in range(cols - 1):
            out.append(Resistor(row_node(i, j), row_node(i, j + 1), lines.r_row_ohm))
        for j in line_ends(lines.row_drive, cols):
            out.append(Resistor(source_node(i), row_node(i, j), lines.r_source_ohm))
    for j in range(cols):
        for i in range(rows - 1):
            out.append(Resistor(col_node(i, j), col_node(i + 1, j), lines.r_col_ohm))
        for i in line_ends(lines.col_sense, rows):
            out.append(Resistor(col_node(i, j), GROUND, lines.r_terminal_ohm))
    return out


class NodalNetwork:
    """Sparse nodal system of one crossbar (rows × cols devices) with its lines.

    Parameters
    ----------
    conductance_s : array_like, shape (rows, cols)
        Device conductances (S, >= 0).
    lines : Lines

    Attributes
    ----------
    n_free : int
        Number of unknown node voltages after merging zero-resistance connections.
    """

    def __init__(self, conductance_s: ArrayLike, lines: Lines) -> None:
        g = check_conductance(conductance_s, 2)
        self.conductance = g
        self.lines = lines
        rows, cols = g.shape
        self.rows, self.cols = rows, cols
        n_cells = rows * cols
        # node ids: row nodes, column nodes, sources, ground; ids >= 2·cells are fixed
        self._n_nodes = 2 * n_cells + rows + 1
        parent = np.arange(self._n_nodes)

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return int(a)

        ids = self._node_ids()
        edges: list[tuple[int, int, float]] = []
        for res in line_resistors(rows, cols, lines):
            a, b = ids[res.a], ids[res.b]
            if res.r_ohm == 0.0:  # merge, keeping a fixed node as the representative
                ra, rb = find(a), find(b)
                if ra >= 2 * n_cells:
                    parent[rb] = ra
                else:
                    parent[ra] = rb
            else:
                edges.append((a, b, 1.0 / res.r_ohm))
        root = np.array([find(a) for a in range(self._n_nodes)])
        free_roots = np.unique(root[root < 2 * n_cells])
        index = np.full(self._n_nodes, -1)
        index[free_roots] = np.arange(free_roots.size)
        self.n_free = int(free_roots.size)
        self._root, self._index = root, index
        self._line_edges = edges
        cells = np.arange(n_cells)
        self._device_pairs = np.stack([root[cells], root[n_cells + cells]], axis=1)

    def _node_ids(self) -> dict[str, int]:
        rows, cols = self.rows, self.cols
        n_cells = rows * cols
        ids = {GROUND: 2 * n_cells + rows}
        for i in range(rows):
            ids[source_node(i)] = 2 * n_cells + i
            for j in range(cols):
                ids[row_node(i, j)] = i * cols + j
                ids[col_node(i, j)] = n_cells + i * cols + j
        return ids

    def free_index(
        self, pairs: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Free-node index (-1 for a fixed node) of both ends of every edge."""
        return self._index[pairs[:, 0]], self._index[pairs[:, 1]]

    def edge_voltages(
        self, pairs: NDArray[np.int64], x_free: NDArray[np.float64], v_in: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Voltage across every edge ``V(a) − V(b)`` (V) for free-node voltages ``x_free``
        and one input vector ``v_in`` (V)."""
        n_cells = self.rows * self.cols
        volts = np.zeros(self._n_nodes)
        free = self._index >= 0
        volts[free] = x_free[self._index[free]]
        volts[2 * n_cells : 2 * n_cells + self.rows] = v_in
        return volts[pairs[:, 0]] - volts[pairs[:, 1]]

    def assemble(
        self, pairs: NDArray[np.int64], g_edge: NDArray[np.float64]
    ) -> tuple[sp.csc_matrix, sp.csr_matrix]:
        """Conductance matrix ``K`` over free nodes and the coupling ``B`` to the sources
        (S), for edges between root nodes with conductances ``g_edge`` (S)."""
        n_cells = self.rows * self.cols
        ia, ib = self._index[pairs[:, 0]], self._index[pairs[:, 1]]
        keep = pairs[:, 0] != pairs[:, 1]
        ia, ib, gk = ia[keep], ib[keep], g_edge[keep]
        ra, rb = pairs[keep, 0], pairs[keep, 1]
        both = (ia >= 0) & (ib >= 0)
        r = [ia[both], ib[both], ia[both], ib[both]]
        c = [ia[both], ib[both], ib[both], ia[both]]
        v = [gk[both], gk[both], -gk[both], -gk[both]]
        rows_b, cols_b, vals_b = [], [], []
        for free, other, root_other in ((ia, ib, rb), (ib, ia, ra)):
            sel = (free >= 0) & (other < 0)
            r.append(free[sel])
            c.append(free[sel])
            v.append(gk[sel])
            src = root_other[sel] - 2 * n_cells
            is_src = src < self.rows
            rows_b.append(free[sel][is_src])
            cols_b.append(src[is_src])
            vals_b.append(gk[sel][is_src])
        n = self.n_free
        k = sp.csc_matrix(
            (np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(n, n)
        )
        b = sp.csr_matrix(
            (np.concatenate(vals_b), (np.concatenate(rows_b), np.concatenate(cols_b))),
            shape=(n, self.rows),
        )
        return k, b

    def edges(
        self, device_conductance_s: NDArray[np.float64] | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Root-node pairs and conductances (S) of every line element and device."""
        g_dev = self.conductance.ravel() if device_conductance_s is None else (
            device_conductance_s.ravel())
        line = np.array([(self._root[a], self._root[b]) for a, b, _ in self._line_edges],
                        dtype=np.int64).reshape(-1, 2)
        g_line = np.array([ge for _, _, ge in self._line_edges], dtype=np.float64)
        pairs = np.concatenate([line, self._device_pairs.astype(np.int64)])
        return pairs, np.concatenate([g_line, g_dev])

    def matrices(
        self, device_conductance_s: NDArray[np.float64] | None = None
    ) -> tuple[sp.csc_matrix, sp.csr_matrix]:
        """``K`` (free × free, S) and ``B`` (free × rows, S) with the given device
        conductances (default: the crossbar's)."""
        return self.assemble(*self.edges(device_conductance_s))

    def node_voltages(self, x_free: NDArray[np.float64], v_in: NDArray[np.float64]) -> tuple[
        NDArray[np.float64], NDArray[np.float64]
    ]:
        """Row-line and column-line voltages (V) from free-node voltages and the inputs.

        Parameters
        ----------
        x_free : ndarray, shape (n_free, k)
        v_in : ndarray, shape (rows, k)

        Returns
        -------
        u, w : ndarray, shape (rows, cols, k)
            Voltages of the row-line and column-line nodes at every crosspoint (V).
        """
        n_cells = self.rows * self.cols
        root = self._root[: 2 * n_cells]
        idx = self._index[root]
        out = np.zeros((2 * n_cells, x_free.shape[1]))
        free = idx >= 0
        out[free] = x_free[idx[free]]
        src = root - 2 * n_cells
        on_source = (~free) & (src < self.rows)
        out[on_source] = v_in[src[on_source]]
        shape = (self.rows, self.cols, x_free.shape[1])
        return out[:n_cells].reshape(shape), out[n_cells:].reshape(shape)

    def solve(self, v_in: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Node voltages for input vectors (one sparse factorization).

        Parameters
        ----------
        v_in : array_like, shape (rows,) or (n, rows)
            Source voltages (V).

        Returns
        -------
        u, w : ndarray, shape (n, rows, cols)
            Row-line and column-line node voltages (V).
        """
        v = np.atleast_2d(np.asarray(v_in, dtype=np.float64)).T
        if v.shape[0] != self.rows:
            raise XbarsimInputError(f"v_in: last axis must have length rows={self.rows}")
        k, b = self.matrices()
        x = _spsolve(k, b @ v)
        u, w = self.node_voltages(x, v)
        return np.moveaxis(u, -1, 0), np.moveaxis(w, -1, 0)

    def output_currents(self, v_in: ArrayLike) -> NDArray[np.float64]:
        """Column currents into the virtual grounds (A), shape (n, cols), by one sparse solve.

        Every device current into column ``j`` leaves through its sink(s), so
        ``I_j = Σ_i G_ij (u_ij − w_ij)`` exactly.
        """
        u, w = self.solve(v_in)
        return np.einsum("nrc,rc->nc", u - w, self.conductance)

    def effective_matrix(self) -> NDArray[np.float64]:
        """Transfer matrix ``M`` (S, rows × cols) with ``I = Vᵀ M``: one factorization, one
        solve per input line."""
        return self.output_currents(np.eye(self.rows))


def factorize(k: sp.csc_matrix) -> spla.SuperLU:
    """Sparse LU of a nodal matrix, with a symmetric fill-reducing ordering (``K`` is SPD)."""
    return spla.splu(k, permc_spec="MMD_AT_PLUS_A")


def _spsolve(k: sp.csc_matrix, rhs: NDArray[np.float64]) -> NDArray[np.float64]:
    """Solve ``K x = rhs`` for every column of ``rhs`` with one sparse LU."""
    if k.shape[0] == 0:
        return np.zeros((0, rhs.shape[1]))
    rhs = np.asarray(rhs.todense() if sp.issparse(rhs) else rhs)
    return factorize(k).solve(rhs)

"""Cutting a weight matrix into non-overlapping N x N kernels and back (layer 4, thesis 3.4).

Layout: a crossbar's rows are inputs and its columns outputs, so a matrix here is
``(inputs, outputs)``; a PyTorch ``Linear`` weight ``(out, in)`` is tiled as ``W.T``. An
optional bias vector becomes one extra input row (driven by a constant input). The matrix
is zero padded to whole kernels; kernels are ordered row-major over the kernel grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.errors import XbarsimInputError
from xbarsim.validation import check_positive_int


@dataclass(frozen=True)
class TileLayout:
    """How a matrix was cut into kernels.

    Attributes
    ----------
    inputs, outputs : int
        Shape of the original matrix (without the bias row).
    size : int
        Kernel size N (rows = columns = N).
    has_bias : bool
        Whether a bias row was appended after the last input row.
    """

    inputs: int
    outputs: int
    size: int
    has_bias: bool

    @property
    def rows(self) -> int:
        """Logical rows including the bias row."""
        return self.inputs + int(self.has_bias)

    @property
    def grid(self) -> tuple[int, int]:
        """Kernels along the input and output axes."""
        return -(-self.rows // self.size), -(-self.outputs // self.size)

    @property
    def n_kernels(self) -> int:
        """Number of kernels."""
        r, c = self.grid
        return r * c

    @property
    def padded_shape(self) -> tuple[int, int]:
        """Shape of the zero-padded matrix."""
        r, c = self.grid
        return r * self.size, c * self.size

    def padding(self) -> NDArray[np.bool_]:
        """Cells that carry no weight (the zero padding), shape ``(n_kernels, size, size)``.

        Their rows are never driven or their columns never read, so their conductance does
        not enter the layer's output (only, with line resistance, the line network).
        """
        padded = np.ones(self.padded_shape, dtype=bool)
        padded[: self.rows, : self.outputs] = False
        r, c = self.grid
        shape = (r, self.size, c, self.size)
        return padded.reshape(shape).transpose(0, 2, 1, 3).reshape(-1, self.size, self.size)


def tile(
    matrix: ArrayLike, size: int, bias: ArrayLike | None = None
) -> tuple[NDArray[np.float64], TileLayout]:
    """Cut ``matrix`` (inputs x outputs) into ``size x size`` kernels.

    Parameters
    ----------
    matrix : array_like, shape (inputs, outputs)
        Crossbar layout: rows are inputs, columns outputs.
    size : int
        Kernel size N (>= 1).
    bias : array_like, shape (outputs,), optional
        Appended as an extra input row.

    Returns
    -------
    kernels : ndarray, shape (n_kernels, size, size)
        Row-major over the kernel grid; zero where padded.
    layout : TileLayout
    """
    size = check_positive_int("kernel size", size)
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or 0 in m.shape:
        raise XbarsimInputError(f"matrix: must be a non-empty 2-D array, got shape {m.shape}")
    if bias is not None:
        b = np.asarray(bias, dtype=np.float64)
        if b.shape != (m.shape[1],):
            raise XbarsimInputError(
                f"bias: shape must be ({m.shape[1]},) (one per output), got {b.shape}"
            )
        m = np.vstack([m, b[None, :]])
    layout = TileLayout(
        inputs=m.shape[0] - int(bias is not None),
        outputs=m.shape[1],
        size=size,
        has_bias=bias is not None,
    )
    padded = np.zeros(layout.padded_shape)
    padded[: m.shape[0], : m.shape[1]] = m
    r, c = layout.grid
    kernels = padded.reshape(r, size, c, size).transpose(0, 2, 1, 3).reshape(-1, size, size)
    return np.ascontiguousarray(kernels), layout


def untile(
    kernels: ArrayLike, layout: TileLayout
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Reassemble kernels cut by :func:`tile` (padding dropped).

    Parameters
    ----------
    kernels : array_like, shape (n_kernels, size, size)
    layout : TileLayout

    Returns
    -------
    matrix : ndarray, shape (inputs, outputs)
    bias : ndarray, shape (outputs,), or None when the layout has no bias row
    """
    k = np.asarray(kernels, dtype=np.float64)
    n = layout.size
    if k.shape != (layout.n_kernels, n, n):
        raise XbarsimInputError(
            f"kernels: shape must be ({layout.n_kernels}, {n}, {n}), got {k.shape}"
        )
    r, c = layout.grid
    padded = k.reshape(r, c, n, n).transpose(0, 2, 1, 3).reshape(r * n, c * n)
    matrix = padded[: layout.inputs, : layout.outputs].copy()
    bias = padded[layout.inputs, : layout.outputs].copy() if layout.has_bias else None
    return matrix, bias

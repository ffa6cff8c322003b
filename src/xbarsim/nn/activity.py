"""Record what a deployed model's analog layers do during forward passes (layer 6).

:func:`record_activity` runs inputs through a deployed model with a forward pre-hook on
every analog layer and counts, per layer, the matrix evaluations (every convolution window
of every image), and the column currents the crossbars drew: the row voltages are the
layer's inputs times its ``input_voltage_v`` (V), cut into the layer's row blocks, and each
block drives the ``G+`` and ``G-`` conductances the layer computes with (S; padding of the
kernels is not driven and not counted). The counts go to
:func:`xbarsim.chip.activity_cost.activity_cost` for energy and latency.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from xbarsim.chip.activity_cost import (
    LayerActivity,
    activity_cost,
    check_converters,
    run_programming_cost,
)
from xbarsim.chip.cost import CostParameters
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.tiling import TileLayout
from xbarsim.nn.layers import AnalogConv2d, AnalogLayerMixin, analog_layers
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.result import ProgramResult


def _rows_of(layer: AnalogLayerMixin, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The matrix rows a layer's input drives, shape (evaluations, inputs), and the images."""
    if isinstance(layer, AnalogConv2d):
        cols = F.unfold(
            x,
            layer.kernel_size,
            dilation=layer.dilation,
            padding=layer._unfold_padding,
            stride=layer.stride,
        )
        return cols.transpose(1, 2).reshape(-1, cols.shape[1]), x.shape[0]
    inputs = layer.matrix_shape[0]
    return x.reshape(-1, inputs), (x.shape[0] if x.dim() > 1 else 1)


def column_current_a(
    layer: AnalogLayerMixin, rows: torch.Tensor, size: int
) -> float:
    """Sum of ``|I_j|`` (A) over evaluations, row blocks, both arrays and columns.

    Parameters
    ----------
    layer : AnalogLayerMixin
        A deployed layer (its ``g_plus``, ``g_minus`` in S and ``input_voltage_v`` in V).
    rows : Tensor, shape (evaluations, inputs)
        The layer's inputs (units of ``x``; volts after ``input_voltage_v``).
    size : int
        Kernel size N: rows are summed per block of N before the absolute value.
    """
    inputs, outputs = layer.matrix_shape
    blocks = -(-inputs // size)
    pad = blocks * size - inputs
    v = rows.double() * float(layer.input_voltage_v)
    v = F.pad(v, (0, pad)).reshape(v.shape[0], blocks, size)
    total = 0.0
    for g in (layer.g_plus, layer.g_minus):
        gb = F.pad(g.double(), (0, 0, 0, pad)).reshape(blocks, size, outputs)
        total += float(torch.einsum("ebs,bso->ebo", v, gb).abs().sum())
    return total


class ActivityRecorder:
    """Forward pre-hooks that accumulate :class:`LayerActivity` per analog layer.

    Use through :func:`recording`; read :meth:`activities` afterwards.
    """

    def __init__(self, model: nn.Module, layouts: dict[str, TileLayout]) -> None:
        self.layouts = layouts
        self.records: dict[str, LayerActivity] = {}
        self.order: list[str] = []
        self._handles = []
        for name, layer in analog_layers(model):
            if name not in layouts:
                raise XbarsimInputError(f"activity: layer {name!r} was not deployed")
            self._handles.append(layer.register_forward_pre_hook(self._hook(name)))

    def _hook(self, name: str) -> Any:
        layout = self.layouts[name]

        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            with torch.no_grad():
                rows, samples = _rows_of(module, inputs[0])  # type: ignore[arg-type]
                current = column_current_a(module, rows, layout.size)  # type: ignore[arg-type]
            blocks, col_blocks = layout.grid
            activity = LayerActivity(
                name=name,
                inputs=layout.rows,
                outputs=layout.outputs,
                arrays=2 * blocks * col_blocks,
                rows=layout.size,
                cols=layout.size,
                row_blocks=blocks,
                samples=samples,
                evaluations=rows.shape[0],
                column_current_a=current,
            )
            if name in self.records:
                self.records[name] = self.records[name].merged(activity)
            else:
                self.records[name] = activity
                self.order.append(name)

        return record

    def remove(self) -> None:
        """Detach the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def activities(self) -> list[LayerActivity]:
        """The recorded activity, in the order the layers were first evaluated."""
        return [self.records[name] for name in self.order]


@contextmanager
def recording(model: nn.Module, layouts: dict[str, TileLayout]) -> Iterator[ActivityRecorder]:
    """Record the activity of ``model``'s analog layers inside the block.

    Parameters
    ----------
    model : torch.nn.Module
        A deployed model.
    layouts : dict of str to TileLayout
        Each analog layer's kernel layout (``Deployment.layers``).
    """
    recorder = ActivityRecorder(model, layouts)
    try:
        yield recorder
    finally:
        recorder.remove()


def record_activity(
    model: nn.Module,
    layouts: dict[str, TileLayout],
    x: NDArray[np.float32] | torch.Tensor,
    batch_size: int = 256,
) -> list[LayerActivity]:
    """Run ``x`` through ``model`` (eval mode, no gradients) and return each analog layer's
    activity.

    Parameters
    ----------
    model : torch.nn.Module
        A deployed model.
    layouts : dict of str to TileLayout
    x : array_like, shape (n, ...)
        Model inputs (n >= 1).
    batch_size : int
        Images per forward pass.
    """
    data = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if data.dim() == 0 or data.shape[0] == 0:
        raise XbarsimInputError("x: need at least one input")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise XbarsimInputError(f"batch_size: must be an integer >= 1, got {batch_size!r}")
    was_training = model.training
    model.eval()
    try:
        with recording(model, layouts) as recorder, torch.no_grad():
            for start in range(0, data.shape[0], batch_size):
                model(data[start : start + batch_size])
    finally:
        model.train(was_training)
    return recorder.activities()


def deployment_cost(
    model: nn.Module,
    layouts: dict[str, TileLayout],
    x: NDArray[np.float32] | torch.Tensor,
    result: ProgramResult | None = None,
    algorithm: WriteVerify | None = None,
    params: CostParameters | None = None,
    converters: str = "layer",
    neuron_r_f_ohm: dict[str, float] | None = None,
    batch_size: int = 256,
    groups: dict[str, NDArray[np.intp]] | None = None,
) -> dict[str, object]:
    """Energy, latency, area and programming cost of a deployed model from its activity on
    ``x`` (:func:`record_activity`, :func:`xbarsim.chip.activity_cost.activity_cost`).

    Parameters
    ----------
    model, layouts, x, batch_size
        As :func:`record_activity`.
    result : ProgramResult, optional
        The programming run; with ``algorithm`` its pulse counts give the programming
        energy and time (:func:`xbarsim.chip.activity_cost.run_programming_cost`).
    algorithm : WriteVerify, optional
    params : CostParameters, optional
    converters : {"network", "layer"}
        DACs and ADCs on the network's ends or on every layer.
    neuron_r_f_ohm : dict, optional
        Neuron transimpedance per layer name (Ohm).
    groups : dict of str to ndarray of int, optional
        Batch indices of each layer's kernels in ``result``: a per-layer programming
        breakdown (``programming_layers``).

    Returns
    -------
    dict
        :func:`~xbarsim.chip.activity_cost.activity_cost`'s keys plus
        ``programming_energy_j, programming_time_s, write_energy_j, read_energy_j,
        pulses, reads, programming_method`` (and the breakdowns of
        :func:`~xbarsim.chip.activity_cost.run_programming_cost`).
    """
    check_converters(converters)
    layers = record_activity(model, layouts, x, batch_size)
    out = activity_cost(layers, params, converters, neuron_r_f_ohm)
    out.update(run_programming_cost(result, algorithm, params, groups=groups))
    return out

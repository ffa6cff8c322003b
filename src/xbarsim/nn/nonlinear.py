"""Any PyTorch model with static I-V nonlinearity, and "balancing" of V_tune (thesis 2.3.2, 2.5).

Chapter-2 procedure (untiled, no programming simulation): every ``Linear`` / ``Conv2d``
weight matrix is mapped to conductance pairs (``mapping``, ``g_low`` ... ``g_high``, S);
its inputs are scaled so that the largest calibration input drives ``V_max``
(``v = x V_max / x_max``: an **assumption**, the thesis's inputs are normalized to V_max);
each device's current follows the nonlinearity model
(:mod:`xbarsim.devices.nonlinearity`), exact at ``V_tune``. With the model's input/state
basis the column current is ``I = sum_j f_j(V) @ (s_j(G+) - s_j(G-))``, and the layer
output gains ``(I - V @ (G+ - G-)) w_max x_max / (dG V_max)``.

Balancing (thesis 2.5 and its ref. [34]): the device is exact where it was tuned and errs
with opposite signs below and above, so ``V_tune`` is chosen to minimize the mean squared
column error ``E_x[(sum_i dI_i)^2]`` over the layers' actual calibration inputs (the
objective is not printed: an **assumption**); one global ``V_tune`` per design.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray
from torch import Tensor, nn

from xbarsim.devices.nonlinearity import Nonlinearity
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.differential import PairMapping, weights_to_pair
from xbarsim.nn.thermal import weight_layers


def _rows(layer: nn.Module, x: Tensor) -> Tensor:
    """Crossbar row inputs ``(..., inputs)`` of ``layer`` for its input batch ``x``."""
    if isinstance(layer, nn.Conv2d):
        if isinstance(layer.padding, str):
            raise XbarsimInputError("model: convolutions with string padding are not supported")
        cols = F.unfold(
            x,
            layer.kernel_size,
            dilation=layer.dilation,
            padding=layer.padding,
            stride=layer.stride,
        )
        return cols.transpose(1, 2)
    return x


def layer_inputs(model: nn.Module, x: NDArray, batch_size: int = 500) -> list[Tensor]:
    """Row inputs (flattened to (samples, inputs)) of every weight layer on images ``x``."""
    layers = [m for _, m in weight_layers(model)]
    seen: list[list[Tensor]] = [[] for _ in layers]
    handles = [
        layer.register_forward_pre_hook(
            lambda m, inp, i=i: seen[i].append(
                _rows(m, inp[0].detach()).reshape(-1, m.weight[0].numel())
            )
        )
        for i, layer in enumerate(layers)
    ]
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                model(torch.as_tensor(x[start : start + batch_size]))
    finally:
        for h in handles:
            h.remove()
    return [torch.cat(s) for s in seen]


@dataclass
class LayerPairs:
    """Conductance pairs of one weight layer (crossbar layout) and its scales."""

    g_plus: NDArray[np.float64]
    g_minus: NDArray[np.float64]
    w_max: float
    x_max: float


def layer_pairs(
    model: nn.Module, x_cal: NDArray, mapping: PairMapping, g_low: float, g_high: float
) -> list[LayerPairs]:
    """Pairs and input scales of every weight layer (``x_max``: max |row input| on x_cal)."""
    inputs = layer_inputs(model, x_cal)
    out = []
    for (_, layer), rows in zip(weight_layers(model), inputs, strict=True):
        w = layer.weight.detach()
        matrix = w.reshape(w.shape[0], -1).T.double().cpu().numpy()
        w_max = float(np.abs(matrix).max()) or 1.0
        gp, gm = weights_to_pair(matrix / w_max, mapping, g_low, g_high)
        out.append(LayerPairs(gp, gm, w_max, float(rows.abs().max()) or 1.0))
    return out


def column_error(nl: Nonlinearity, v: Tensor, pairs: LayerPairs) -> Tensor:
    """Column-current error (A) ``I - V @ (G+ - G-)`` for row voltages ``v`` (V)."""
    bound = nl.fit_v[1]
    basis = nl.input_basis(v, bound)
    sp = nl.state_basis(pairs.g_plus, bound)
    sm = nl.state_basis(pairs.g_minus, bound)
    current = torch.zeros(*v.shape[:-1], pairs.g_plus.shape[1], dtype=v.dtype)
    for f, a, b in zip(basis, sp, sm, strict=True):
        current = current + f @ torch.as_tensor(a - b, dtype=v.dtype)
    diff = torch.as_tensor(pairs.g_plus - pairs.g_minus, dtype=v.dtype)
    return current - v @ diff


def nonlinear_copy(
    model: nn.Module,
    nl: Nonlinearity,
    x_cal: NDArray,
    mapping: PairMapping = "mapping1",
    g_low: float = 10e-6,
    g_high: float = 100e-6,
) -> nn.Module:
    """Copy of ``model`` whose weight layers compute with device nonlinearity (module doc)."""
    work = copy.deepcopy(model).eval()
    pairs = layer_pairs(work, x_cal, mapping, g_low, g_high)
    span = g_high - g_low
    v_max = nl.v_max_v

    for (_, layer), p in zip(weight_layers(work), pairs, strict=True):

        def hook(module: nn.Module, inputs: Any, output: Tensor, p=p) -> Tensor:
            rows = _rows(module, inputs[0])
            v = (rows * (v_max / p.x_max)).double().clamp(-v_max, v_max)
            err = column_error(nl, v, p) * (p.w_max * p.x_max / (span * v_max))
            err = err.to(output.dtype)
            if isinstance(module, nn.Conv2d):
                err = err.transpose(1, 2).reshape(output.shape)
            return output + err

        layer.register_forward_hook(hook)
    return work


def balance_v_tune(
    model: nn.Module,
    nl: Nonlinearity,
    x_cal: NDArray,
    mapping: PairMapping = "mapping1",
    grid_v: ArrayLike | None = None,
    g_low: float = 10e-6,
    g_high: float = 100e-6,
    samples: int = 2000,
) -> tuple[float, NDArray[np.float64]]:
    """``V_tune`` (V) minimizing the mean squared column error over every layer (module doc).

    Parameters
    ----------
    model : torch.nn.Module
    nl : nonlinearity model (its ``v_tune_v`` is replaced by each candidate)
    x_cal : ndarray
        Calibration images (the layers' actual input distribution).
    mapping, g_low, g_high : pair mapping and range (S)
    grid_v : array_like, optional
        Candidates (V); default 2 mV steps over (0, V_max].
    samples : int
        Row-input vectors per layer used for the objective (a fixed subsample).

    Returns
    -------
    (v_tune_v, objective)
        Best candidate and the objective (A^2, summed over layers) per candidate.
    """
    grid = (
        np.arange(0.002, nl.v_max_v + 1e-12, 0.002)
        if grid_v is None
        else np.asarray(grid_v, dtype=np.float64)
    )
    if grid.size == 0 or np.any(grid <= 0) or np.any(grid > nl.v_max_v):
        raise XbarsimInputError(f"grid_v: candidates must lie in (0, {nl.v_max_v:g}] V")
    pairs = layer_pairs(model, x_cal, mapping, g_low, g_high)
    inputs = layer_inputs(model, x_cal)
    objective = np.zeros(grid.size)
    for rows, p in zip(inputs, pairs, strict=True):
        step = max(1, rows.shape[0] // samples)
        v = (rows[::step] * (nl.v_max_v / p.x_max)).double().clamp(-nl.v_max_v, nl.v_max_v)
        for i, vt in enumerate(grid):
            model_i = nl.model_copy(update={"v_tune_v": float(vt)})
            objective[i] += float((column_error(model_i, v, p) ** 2).mean())
    return float(grid[int(np.argmin(objective))]), objective

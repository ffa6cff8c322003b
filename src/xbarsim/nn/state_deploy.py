"""Deploying with a state-optimized mapping (thesis approach 3) on a simulated chip (layer 6).

:func:`program_model_designed` maps every analog layer's normalized weights through a
memristor :class:`~xbarsim.mapping.state_optimization.StateOptimization` design
(``I_min(r)`` / ``I_b(r)`` per weight, dynamic range ``dI_max``) to conductance targets
(``G = G_min + I / V_max`` above the floor, the stack's reading), tiles and programs them
like :func:`xbarsim.nn.program_model`, and sets each layer's scale to
``w_max V_max / dI_max``. The returned :class:`~xbarsim.nn.deploy.Deployment` evaluates
at operating conditions with ``deployment.at(temp_c=...)``, where the device temperature
model acts on the programmed conductances.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.config import ChipConfig
from xbarsim.mapping.state_optimization import StateOptimization
from xbarsim.mapping.tiling import tile
from xbarsim.nn.layers import analog_layers
from xbarsim.nn.program import program_kernels, program_model
from xbarsim.nn.record import Deployment, kernel_padding
from xbarsim.validation import check_seed


def design_conductances(
    design: StateOptimization, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Target conductances (S) of the pairs carrying normalized weights (memristor stacks)."""
    if design.stack.kind != "memristor":
        raise XbarsimInputError("design: only memristor stacks map onto crossbar conductances")
    i_plus, i_minus = design.currents(weights)
    return design.stack.conductance(i_plus), design.stack.conductance(i_minus)


def program_model_designed(
    model: nn.Module,
    chip: ChipConfig,
    design: StateOptimization,
    seed: int = 0,
    progress: bool = False,
) -> Deployment:
    """Program ``model`` on ``chip`` with the per-weight mapping ``design`` (module docstring).

    The chip's mapping range must hold the design's conductances
    (``design.stack.g_min_s`` ... ``g_max_s`` inside the device bounds).
    """
    seed = check_seed(seed)
    stack = design.stack
    lo, hi = chip.device.g_min_s, chip.device.g_max_s
    if not lo < stack.g_min_s < stack.g_max_s < hi:
        raise XbarsimInputError(
            f"design: stack range {stack.g_min_s:g}-{stack.g_max_s:g} S must lie inside the "
            f"device bounds ({lo:g}, {hi:g}) S"
        )
    ideal = chip.model_copy(update={"algorithm": None})
    dep = program_model(model, ideal, seed=seed)
    layers = dict(analog_layers(dep.model))
    target = np.empty_like(dep.targets)
    scales = {}
    for record in dep.layers:
        layer = layers[record.name]
        w = layer.ideal_matrix().detach().cpu().double().numpy()
        w_max = float(layer.weight_max())
        kernels, _ = tile(w / w_max, chip.kernel)
        g_plus, g_minus = design_conductances(design, kernels)
        # zero padding carries weight 0: both devices at the design's r = 0 state
        target[record.plus], target[record.minus] = g_plus, g_minus
        scales[record.name] = w_max * stack.v_max_v / design.delta_i_max_a
    dep.targets = target
    conductance = target.copy()
    if chip.algorithm is not None and target.shape[0]:
        padding = kernel_padding(dep.layers, target.shape[0], chip.kernel)
        xbars, run = program_kernels(chip, target, seed, progress, padding)
        conductance = run.conductance
        dep.result, dep.xbars = run, xbars
    dep.chip = chip
    dep.conductance = conductance
    dep.load_conductances(conductance)
    for record in dep.layers:
        with torch.no_grad():
            layers[record.name].weight_scale.fill_(scales[record.name])
    return dep

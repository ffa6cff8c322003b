"""A network on gate-coupled eFlash synapses, from a chip spec (layer 6).

With ``synapse.technology: eflash`` (:class:`~xbarsim.chip.spec.SynapseSpec`) every weight
``w`` of an analog layer is carried by a pair of eFlash cells tuned to the state currents
of the spec's chapter-2 current mapping (:meth:`~xbarsim.chip.ChipSpec.eflash_design`,
``s = w / max|W|``)::

    I+, I- = design.currents(s),    cell weights  w+/- = I+/- / I_max

The layers' ``g_plus`` / ``g_minus`` buffers hold those cell weights (dimensionless), their
``input_voltage_v`` buffer the input current of an input of 1 (A; the cells' tuning
current ``I_tune``) and ``weight_scale`` = ``max|W| I_max / dI_max``, so a layer's output
in weight units is ``weight_scale (w+ - w-)`` times its input and its column current
``I_tune x (w+ - w-)`` (A), what the read path converts. Cells are tuned exactly (no
write-verify model of eFlash cells).

At a die temperature (:func:`eflash_at`, what ``deployment.at(...)`` and
:func:`xbarsim.nn.at` call for such a deployment) every layer computes with the effective
weights of its pairs, each cell following the eFlash temperature model: exactly the
weights of the chapter-2 temperature path (:func:`xbarsim.nn.thermal.weights_at`), bit for
bit. Biases stay digital.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from xbarsim.chip.spec import ChipSpec
from xbarsim.devices.eflash import EflashSynapse
from xbarsim.devices.validity import check_within
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.state_optimization import StateOptimization
from xbarsim.mapping.tiling import TileLayout, tile
from xbarsim.nn.conditions import resolve
from xbarsim.nn.convert import convert
from xbarsim.nn.layers import analog_layers
from xbarsim.nn.record import Deployment, layer_kernels
from xbarsim.nn.thermal import check_temps, weights_at

#: The cells' synapse model (``I_max``, ``I_tune``; its temperature model is the stack's).
SYNAPSE = EflashSynapse()


@dataclass
class FixedMatrix:
    """A layer computing ``x @ matrix`` (weight units) at operating conditions."""

    matrix: Tensor

    def matmul(self, x: Tensor, span: Tensor | None = None) -> Tensor:
        """``x @ matrix``."""
        return x @ self.matrix


def eflash_weights(design: StateOptimization, weights: NDArray[np.float64]) -> tuple[
        NDArray[np.float64], NDArray[np.float64]]:
    """Cell weights ``(w+, w-)`` = state currents / ``I_max`` of normalized weights ``s``."""
    i_plus, i_minus = design.currents(weights)
    i_max = design.stack.i_cap_a
    return i_plus / i_max, i_minus / i_max


def program_eflash(model: nn.Module, spec: ChipSpec, seed: int = 0) -> Deployment:
    """Tune the eFlash cells of every analog layer of ``model`` on the chip ``spec``.

    Parameters
    ----------
    model : torch.nn.Module
        Float or converted; not modified.
    spec : ChipSpec
        With ``synapse.technology`` eflash (checked).
    seed : int
        Recorded (the cells are tuned exactly; nothing is drawn).

    Returns
    -------
    Deployment
        Kernels of ``spec.array.kernel`` cells (``G+`` kernels then ``G-`` kernels) holding
        the cell weights; no programming result; evaluator :func:`eflash_at`.
    """
    spec.check()
    design = spec.eflash_design()
    chip = spec.chip_config()
    analog = convert(model, chip, zeta=0.0)
    analog.eval()
    layers = analog_layers(analog)
    plus: list[NDArray[np.float64]] = []
    minus: list[NDArray[np.float64]] = []
    layouts: list[TileLayout] = []
    for _, layer in layers:
        w = layer.ideal_matrix().detach().cpu().double().numpy()
        kernels, layout = tile(w / float(layer.weight_max()), chip.kernel)
        w_plus, w_minus = eflash_weights(design, kernels)
        plus.append(w_plus)
        minus.append(w_minus)
        layouts.append(layout)
        scale = float(layer.weight_max()) * design.stack.i_cap_a / design.delta_i_max_a
        with torch.no_grad():
            layer.weight_scale.fill_(scale)
            layer.input_voltage_v.fill_(SYNAPSE.i_tune_a)
            layer.deployed.fill_(True)
    records = layer_kernels([name for name, _ in layers], layouts)
    cells = np.concatenate(plus + minus) if layers else np.zeros((0, chip.kernel, chip.kernel))
    deployment = Deployment(analog, cells, cells.copy(), records, None, chip, seed,
                            spec=spec, evaluator=eflash_at)
    deployment.compute_with(deployment.conductance)
    return deployment


@contextmanager
def eflash_at(
    deployment: Deployment,
    temp_c: float | None = None,
    age_h: float | None = None,
    bake_c: float | None = None,
    strict: bool | None = None,
    nonlinear: bool | None = None,
    noise: bool | None = None,
    seed: int = 0,
) -> Iterator[nn.Module]:
    """Context in which an eFlash deployment's model computes at die temperature ``temp_c``.

    Arguments as :func:`xbarsim.nn.at`; left None they take the spec's conditions
    (``strict`` refuses a temperature outside the eFlash temperature model's fitted range
    instead of warning). Only the temperature applies to eFlash cells: ageing, the
    memristor nonlinearity and read noise are refused with a one-line
    :class:`XbarsimInputError` (``seed`` is unused). Yields the model.
    """
    st = resolve(deployment, temp_c, age_h, bake_c, strict, nonlinear, noise, seed)
    for on, reason in (
        (st.age_h > 0.0 or st.bake_c is not None,
         "age_h: there is no eFlash retention model; use 0"),
        (st.nonlinear, "nonlinear: the I-V nonlinearity is the memristor's; leave it off"),
        (st.noise, "noise: the read-noise model is the memristor's; leave it off"),
    ):
        if on:
            raise XbarsimInputError(f"{reason} (eFlash synapses)")
    temps = check_temps([st.temp_c])
    spec = deployment.spec
    if spec is None:
        raise XbarsimInputError("deployment: no chip spec recorded; deploy with a spec")
    design = spec.eflash_design()
    if st.strict:  # refuse what the temperature model would only warn about
        model = design.stack.eflash_temperature
        check_within("temp_c", st.temp_c, *model.fit_temp_c, True, " degC", "eFlash temperature")
    layers = dict(analog_layers(deployment.model))
    try:
        for record in deployment.layers:
            layer = layers[record.name]
            weight = weights_at(layer.weight, design, temps)[0]  # (out, ...) as the layer's
            matrix = weight.reshape(weight.shape[0], -1).T
            layer.conditions = FixedMatrix(matrix)
        yield deployment.model
    finally:
        for record in deployment.layers:
            layers[record.name].conditions = None

"""A deployed network at operating conditions, without reprogramming (layer 6).

``with deployment.at(temp_c=85, age_h=87_660):`` (or :func:`at`) evaluates every analog
layer of a deployed model on its crossbars seen through
:meth:`xbarsim.crossbar.Crossbar.at`: conductances after retention drift and at the die
temperature (computed once on entry), the I-V nonlinearity of each device and read noise.
Per layer and forward pass the column currents are::

    I = sum_j f_j(V) @ (s_j(G+) - s_j(G-))  +  sqrt((V * V) @ (sigma+^2 + sigma-^2)) * eps

with the nonlinearity's basis ``f_j``/``s_j`` (:mod:`xbarsim.devices.nonlinearity`; two
products for the thesis polynomial) and the read noise drawn at the output (one product).
On exit the layers compute on the programmed conductances again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from xbarsim.devices.validity import check_within
from xbarsim.mapping.tiling import untile
from xbarsim.nn.convert import analog_layers
from xbarsim.nn.deploy import Deployment
from xbarsim.nn.layers import AnalogLayerMixin


@dataclass
class LayerConditions:
    """What one analog layer needs to compute at operating conditions.

    Attributes
    ----------
    inputs : callable
        The nonlinearity's input basis ``f_j(V)`` (list of tensors; ``None`` = linear).
    states : list of (int, Tensor (inputs, outputs))
        ``(j, s_j(G+) - s_j(G-))`` for the nonzero basis terms, less ``G+ - G-`` for
        ``j = 0`` (that part sits in the layer's ``g_plus``/``g_minus`` buffers).
    variance : Tensor or None, (inputs, outputs)
        ``sigma+^2 + sigma-^2`` (S^2); None without read noise.
    generator : torch.Generator or None
        Source of the read-noise draws.
    fit_v : (float, float)
        Fitted input range of the nonlinearity (V), checked on every pass.
    strict : bool
        Refuse inputs outside ``fit_v`` instead of warning.
    """

    inputs: object
    states: list[tuple[int, Tensor]]
    variance: Tensor | None
    generator: torch.Generator | None
    fit_v: tuple[float, float]
    strict: bool

    def matmul(self, layer: AnalogLayerMixin, x: Tensor) -> Tensor:
        """``x @ W`` of a deployed layer at these conditions (see the module docstring)."""
        v_in = layer.input_voltage_v
        v = x * v_in
        currents = v @ (layer.g_plus - layer.g_minus)
        if self.states:
            bound = float(v.detach().abs().max()) if v.numel() else 0.0
            check_within("|voltage|", bound, *self.fit_v, self.strict, " V", "nonlinearity")
            basis = self.inputs(v)  # type: ignore[operator]
            for j, state in self.states:
                currents = currents + basis[j] @ state
        if self.variance is not None:
            std = torch.sqrt((v * v) @ self.variance)
            noise = torch.randn(
                std.shape, generator=self.generator, dtype=std.dtype, device=std.device
            )
            currents = currents + std * noise
        return currents * (layer.weight_scale / v_in)


@contextmanager
def at(
    deployment: Deployment,
    temp_c: float = 25.0,
    age_h: float = 0.0,
    bake_c: float | None = None,
    strict: bool = False,
    nonlinear: bool = True,
    noise: bool = True,
    seed: int = 0,
) -> Iterator[nn.Module]:
    """Context in which ``deployment.model`` computes at operating conditions.

    Parameters as :meth:`xbarsim.crossbar.Crossbar.at`: die temperature ``temp_c``
    (degrees C), ``age_h`` hours since programming spent at ``bake_c`` (default room
    temperature), ``strict`` (refuse extrapolation), ``nonlinear``, ``noise`` and the
    read-noise ``seed``. Yields the model.
    """
    xbars = deployment.crossbars()
    view = xbars.at(
        temp_c, age_h, bake_c, strict=strict, nonlinear=nonlinear, noise=noise, seed=seed
    )
    models = xbars.device.conditions
    nl = models.nonlinearity
    bound = nl.fit_v[1]
    g = view.conductance
    states = nl.state_basis(g, bound) if nonlinear else []
    with_noise = noise and models.read_noise.sigma_rel > 0.0
    variance = view.noise_sigma() ** 2 if with_noise else None
    layers = dict(analog_layers(deployment.model))
    saved: list[tuple[AnalogLayerMixin, Tensor, Tensor]] = []
    try:
        for index, record in enumerate(deployment.layers):
            layer = layers[record.name]
            factory = {"dtype": layer.g_plus.dtype, "device": layer.g_plus.device}

            def pair(kernels: np.ndarray, record=record, factory=factory) -> Tensor:
                plus, _ = untile(kernels[record.plus], record.layout)
                minus, _ = untile(kernels[record.minus], record.layout)
                return torch.as_tensor(plus, **factory), torch.as_tensor(minus, **factory)

            saved.append((layer, layer.g_plus.clone(), layer.g_minus.clone()))
            g_plus, g_minus = pair(g)
            diffs = []
            for j, state in enumerate(states):
                s_plus, s_minus = pair(state)
                diff = s_plus - s_minus
                if j == 0:
                    diff = diff - (g_plus - g_minus)
                if bool(diff.any()):
                    diffs.append((j, diff))
            var = None
            if variance is not None:
                var_plus, var_minus = pair(variance)
                var = var_plus + var_minus
            generator = None
            if var is not None:
                generator = torch.Generator(device=factory["device"])
                entropy = np.random.SeedSequence((deployment.seed, seed, index))
                generator.manual_seed(int(entropy.generate_state(1, np.uint64)[0] >> 1))
            with torch.no_grad():
                layer.g_plus.copy_(g_plus)
                layer.g_minus.copy_(g_minus)
            layer.conditions = LayerConditions(
                inputs=(lambda v, nl=nl, bound=bound: nl.input_basis(v, bound)),
                states=diffs,
                variance=var,
                generator=generator,
                fit_v=nl.fit_v,
                strict=strict,
            )
        yield deployment.model
    finally:
        for layer, g_plus, g_minus in saved:
            with torch.no_grad():
                layer.g_plus.copy_(g_plus)
                layer.g_minus.copy_(g_minus)
            layer.conditions = None

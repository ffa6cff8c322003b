"""Analog layers: Linear and Conv2d computed on differential conductance pairs (layer 6).

An analog layer keeps the ideal (software) ``weight`` and ``bias`` parameters, named as in
``torch.nn`` so a float model's state dict loads into it, and three buffers filled by
:func:`xbarsim.nn.deploy`:

``g_plus``, ``g_minus`` : (inputs, outputs), S
    Programmed conductances in crossbar layout (rows are inputs), reassembled from the
    kernels with padding dropped.
``weight_scale`` : S^-1
    ``max|W| / (g_high - g_low)``: effective weights are ``weight_scale * (G+ - G-)``.
``input_voltage_v`` : V
    Inputs drive the rows as ``x * input_voltage_v``; column currents are converted back.
``deployed`` : bool
    Whether the forward pass uses the conductances.

Being buffers, they travel with ``state_dict`` and load with ``torch.load(weights_only=True)``.

Before deployment, a layer in training mode with ``zeta > 0`` applies hardware-aware
training (thesis 3.5.1): each forward pass maps the weights to ``G+`` and ``G-``, multiplies
each conductance by an independent factor ``1 + U(-zeta, zeta)``, and computes with the
perturbed effective weights; the stored parameters are never modified and gradients flow to
them through the mapping. Biases stay digital (ideal periphery, thesis 3.4).
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.differential import PairMapping, check_mapping_range, pair_formula


class LayerCompute(Protocol):
    """What computes a deployed layer's ``x @ W`` instead of its stored conductances
    (set while the model computes at operating conditions, e.g. by :func:`xbarsim.nn.at`)."""

    def matmul(self, x: Tensor, span: Tensor | None = None) -> Tensor:
        """``x @ W`` for ``x`` of shape (..., inputs); ``span`` holds the values of ``x``."""
        ...


def check_zeta(zeta: float) -> float:
    """Validate the HAT perturbation half-width ``zeta`` (fraction, in [0, 1))."""
    try:
        value = float(zeta)
    except (TypeError, ValueError):
        raise XbarsimInputError(f"zeta: must be a number in [0, 1), got {zeta!r}") from None
    if not 0.0 <= value < 1.0:
        raise XbarsimInputError(f"zeta: must lie in [0, 1), got {value:g}")
    return value


class AnalogLayerMixin:
    """State and weight logic shared by :class:`AnalogLinear` and :class:`AnalogConv2d`.

    Attributes
    ----------
    mapping : str
        Pair mapping (see :mod:`xbarsim.mapping.differential`).
    g_low, g_high : float
        Mapping range (S).
    zeta : float
        HAT perturbation half-width (fraction); 0 switches HAT off.
    generator : torch.Generator or None
        Random source of the HAT perturbation (global RNG when None).
    """

    weight: nn.Parameter
    bias: nn.Parameter | None

    def _init_analog(self, mapping: PairMapping, g_low: float, g_high: float, zeta: float) -> None:
        self.mapping = mapping
        self.g_low, self.g_high = check_mapping_range(g_low, g_high)
        self.zeta = check_zeta(zeta)
        self.generator: torch.Generator | None = None
        inputs, outputs = self.matrix_shape
        factory = {"dtype": self.weight.dtype, "device": self.weight.device}
        self.register_buffer("g_plus", torch.zeros(inputs, outputs, **factory))
        self.register_buffer("g_minus", torch.zeros(inputs, outputs, **factory))
        self.register_buffer("weight_scale", torch.zeros((), **factory))
        self.register_buffer("input_voltage_v", torch.ones((), **factory))
        flag = torch.zeros((), dtype=torch.bool, device=factory["device"])
        self.register_buffer("deployed", flag)
        # set by xbarsim.nn.conditions.at while the model computes at operating conditions
        self.conditions: LayerCompute | None = None

    @property
    def matrix_shape(self) -> tuple[int, int]:
        """(inputs, outputs) of the layer's crossbar matrix."""
        out = self.weight.shape[0]
        return self.weight[0].numel(), out

    def ideal_matrix(self) -> Tensor:
        """The software weights in crossbar layout, shape (inputs, outputs)."""
        return self.weight.reshape(self.weight.shape[0], -1).T

    def weight_max(self) -> Tensor:
        """``max|W|`` used to normalize the weights (detached; 1 for an all-zero layer)."""
        w_max = self.weight.detach().abs().max()
        return torch.where(w_max > 0, w_max, torch.ones_like(w_max))

    def hat_pair(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Ideal and perturbed conductance pairs of one HAT forward pass.

        Returns
        -------
        g_plus, g_minus, g_plus_perturbed, g_minus_perturbed : Tensor, shape (inputs, outputs)
            Conductances (S); the perturbed ones are ``G * (1 + U(-zeta, zeta))`` with
            independent draws for every device of both arrays. Differentiable in
            ``weight``.
        """
        w = self.ideal_matrix() / self.weight_max()
        g_plus, g_minus = pair_formula(w, self.mapping, self.g_low, self.g_high)
        shape = (2, *g_plus.shape)
        u = torch.rand(shape, generator=self.generator, dtype=w.dtype, device=w.device)
        factor = 1.0 + self.zeta * (2.0 * u - 1.0)
        return g_plus, g_minus, g_plus * factor[0], g_minus * factor[1]

    def effective_matrix(self) -> Tensor:
        """Weights (inputs, outputs) the forward pass computes with.

        Deployed: ``weight_scale * (G+ - G-)``; training with ``zeta > 0``: the HAT-perturbed
        weights; otherwise the ideal weights.
        """
        if bool(self.deployed):
            return self.weight_scale * (self.g_plus - self.g_minus)
        if self.training and self.zeta > 0.0:
            _, _, gp, gm = self.hat_pair()
            return self.weight_max() * (gp - gm) / (self.g_high - self.g_low)
        return self.ideal_matrix()

    def matmul(self, x: Tensor, span: Tensor | None = None) -> Tensor:
        """``x @ W`` for ``x`` of shape (..., inputs), through the crossbar when deployed.

        Deployed layers drive rows with ``x * input_voltage_v`` (V), sum column currents
        of ``G+`` minus ``G-`` (A) and convert them back to weight units by
        ``weight_scale / input_voltage_v``; the two scale factors cancel on the linear
        product, computed as ``x @ (weight_scale * (G+ - G-))``. ``span`` is a tensor holding
        the values of ``x`` (and possibly zeros), e.g. a convolution's input before
        unfolding, over which operating conditions check the input range.
        """
        if bool(self.deployed):
            if self.conditions is not None:
                return self.conditions.matmul(x, span)
            return x @ ((self.g_plus - self.g_minus) * self.weight_scale)
        return x @ self.effective_matrix()

    def extra_repr(self) -> str:
        state = "deployed" if bool(self.deployed) else "ideal"
        return (
            f"{super().extra_repr()}, mapping={self.mapping}, "
            f"range=({self.g_low * 1e6:g}, {self.g_high * 1e6:g}) uS, zeta={self.zeta:g}, {state}"
        )


class AnalogLinear(AnalogLayerMixin, nn.Linear):
    """``nn.Linear`` computed on a differential crossbar pair (weight ``(out, in)`` -> ``W.T``).

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    mapping : {"differential", "mapping1", "mapping2"}
    g_low, g_high : float
        Mapping range (S).
    zeta : float
        HAT perturbation half-width in [0, 1).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        mapping: PairMapping = "differential",
        g_low: float = 10e-6,
        g_high: float = 100e-6,
        zeta: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self._init_analog(mapping, g_low, g_high, zeta)

    def forward(self, x: Tensor) -> Tensor:
        y = self.matmul(x)
        return y if self.bias is None else y + self.bias


class AnalogConv2d(AnalogLayerMixin, nn.Conv2d):
    """``nn.Conv2d`` (groups = 1, zero padding) computed by im2col on crossbar kernels.

    The weight ``(out, C, kh, kw)`` becomes a ``(C*kh*kw, out)`` crossbar matrix; once
    deployed, input patches from ``torch.nn.functional.unfold`` drive its rows. Before
    deployment (ideal or HAT-perturbed weights) the same matrix runs as an ordinary
    convolution, which is faster.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        mapping: PairMapping = "differential",
        g_low: float = 10e-6,
        g_high: float = 100e-6,
        zeta: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self._unfold_padding = _explicit_padding(self.padding, self.kernel_size, self.dilation)
        self._init_analog(mapping, g_low, g_high, zeta)

    def forward(self, x: Tensor) -> Tensor:
        if not bool(self.deployed):
            # the same weights as a convolution kernel: faster than im2col for training
            weight = self.effective_matrix().T.reshape(self.weight.shape)
            return F.conv2d(x, weight, self.bias, self.stride, self._unfold_padding, self.dilation)
        batch, _, height, width = x.shape
        cols = F.unfold(
            x,
            self.kernel_size,
            dilation=self.dilation,
            padding=self._unfold_padding,
            stride=self.stride,
        )
        y = self.matmul(cols.transpose(1, 2), span=x)
        if self.bias is not None:
            y = y + self.bias
        out_h = _out_size(
            height, self.kernel_size[0], self._unfold_padding[0], self.dilation[0], self.stride[0]
        )
        out_w = _out_size(
            width, self.kernel_size[1], self._unfold_padding[1], self.dilation[1], self.stride[1]
        )
        return y.transpose(1, 2).reshape(batch, self.out_channels, out_h, out_w)


def analog_layers(model: nn.Module) -> list[tuple[str, AnalogLayerMixin]]:
    """``(name, layer)`` of every analog layer of ``model``, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, AnalogLayerMixin)]


def _out_size(size: int, kernel: int, padding: int, dilation: int, stride: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _explicit_padding(
    padding: tuple[int, ...] | str, kernel: tuple[int, ...], dilation: tuple[int, ...]
) -> tuple[int, int]:
    """Symmetric integer padding for ``unfold`` ('valid', 'same' or integers)."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        if any(t % 2 for t in total):
            raise XbarsimInputError(
                "padding: 'same' with an even effective kernel size is asymmetric; "
                "supported: integers, 'valid', or 'same' with odd kernels"
            )
        return total[0] // 2, total[1] // 2
    return int(padding[0]), int(padding[1])

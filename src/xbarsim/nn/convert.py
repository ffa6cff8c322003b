"""Swap ``nn.Linear`` and ``nn.Conv2d`` for analog layers (layer 6)."""

from __future__ import annotations

import copy

from torch import nn

from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.config import ChipConfig
from xbarsim.mapping.differential import PairMapping
from xbarsim.nn.layers import (
    AnalogConv2d,
    AnalogLayerMixin,
    AnalogLinear,
    analog_layers,
    check_zeta,
)

__all__ = ["DIGITAL_LAYERS", "SUPPORTED", "analog_layers", "check_mappable", "convert", "set_zeta"]

#: Layers with parameters that stay digital (ideal periphery, thesis 3.4).
DIGITAL_LAYERS: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.LayerNorm,
    nn.GroupNorm,
)

SUPPORTED = "Linear, Conv2d (groups=1, zero padding); BatchNorm/LayerNorm/GroupNorm stay digital"


def _analog_linear(
    layer: nn.Linear, mapping: PairMapping, g_low: float, g_high: float, zeta: float
) -> AnalogLinear:
    new = AnalogLinear(
        layer.in_features,
        layer.out_features,
        bias=layer.bias is not None,
        mapping=mapping,
        g_low=g_low,
        g_high=g_high,
        zeta=zeta,
        device=layer.weight.device,
        dtype=layer.weight.dtype,
    )
    new.load_state_dict(layer.state_dict(), strict=False)
    new.train(layer.training)
    return new


def _analog_conv(
    name: str, layer: nn.Conv2d, mapping: PairMapping, g_low: float, g_high: float, zeta: float
) -> AnalogConv2d:
    if layer.groups != 1 or layer.padding_mode != "zeros":
        raise XbarsimInputError(
            f"model: layer {name!r} (Conv2d, groups={layer.groups}, "
            f"padding_mode={layer.padding_mode!r}) cannot be mapped; supported: {SUPPORTED}"
        )
    try:
        new = AnalogConv2d(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            bias=layer.bias is not None,
            mapping=mapping,
            g_low=g_low,
            g_high=g_high,
            zeta=zeta,
            device=layer.weight.device,
            dtype=layer.weight.dtype,
        )
    except XbarsimInputError as exc:
        raise XbarsimInputError(f"model: layer {name!r} (Conv2d): {exc}") from None
    new.load_state_dict(layer.state_dict(), strict=False)
    new.train(layer.training)
    return new


def check_mappable(model: nn.Module) -> None:
    """Raise if ``model`` holds a layer with weights that has no analog counterpart.

    Raises
    ------
    XbarsimInputError
        Naming the first such layer (e.g. Conv1d, ConvTranspose2d, LSTM, Embedding).
    """
    for name, module in model.named_modules():
        if isinstance(module, (AnalogLayerMixin, *DIGITAL_LAYERS)):
            continue
        if type(module) in (nn.Linear, nn.Conv2d):
            continue
        if any(True for _ in module.parameters(recurse=False)):
            label = name or "<model>"
            raise XbarsimInputError(
                f"model: layer {label!r} ({type(module).__name__}) has weights but no analog "
                f"counterpart; supported: {SUPPORTED}"
            )


def convert(model: nn.Module, config: ChipConfig | None = None, zeta: float = 0.0) -> nn.Module:
    """Copy of ``model`` with every ``Linear`` / ``Conv2d`` replaced by its analog layer.

    Weights and biases are copied; already analog layers get the new settings.

    Parameters
    ----------
    model : torch.nn.Module
    config : ChipConfig, optional
        Supplies the pair mapping and the mapping range (default ``ChipConfig()``).
    zeta : float
        Hardware-aware training perturbation half-width, in [0, 1); 0 = off.

    Returns
    -------
    torch.nn.Module
        A new model; ``model`` is untouched.

    Raises
    ------
    XbarsimInputError
        For layers with weights that cannot be mapped (the message names the layer), or a
        bad ``zeta`` / mapping range.
    """
    zeta = check_zeta(zeta)
    config = ChipConfig() if config is None else config
    mapping, g_low, g_high = config.mapping, config.g_low_s, config.g_high_s
    check_mappable(model)
    # a deployed model's record (crossbars, see xbarsim.nn.at) is not copied along
    record = getattr(model, "xbarsim_deployment", None)
    model = copy.deepcopy(model, {id(record): None} if record is not None else None)
    model.__dict__.pop("xbarsim_deployment", None)

    def swap(name: str, module: nn.Module) -> nn.Module:
        if isinstance(module, AnalogLayerMixin):
            module.mapping, module.zeta = mapping, zeta
            module.g_low, module.g_high = g_low, g_high
            return module
        if type(module) is nn.Linear:
            return _analog_linear(module, mapping, g_low, g_high, zeta)
        if type(module) is nn.Conv2d:
            return _analog_conv(name, module, mapping, g_low, g_high, zeta)
        for child_name, child in list(module.named_children()):
            setattr(module, child_name, swap(f"{name}.{child_name}" if name else child_name, child))
        return module

    return swap("", model)


def set_zeta(model: nn.Module, zeta: float) -> None:
    """Set the HAT perturbation half-width of every analog layer (in place)."""
    zeta = check_zeta(zeta)
    for _, layer in analog_layers(model):
        layer.zeta = zeta

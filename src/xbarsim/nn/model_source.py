"""Bring a user's PyTorch model in without unpickling arbitrary objects (layer 6).

Three sources: a built-in architecture name (:data:`BUILTIN_MODELS`, trained here), a
TorchScript file (an ``nn.Sequential`` rebuilt layer by layer from the scripted modules'
attributes and weights: :func:`load_torchscript`), or ``module:function`` that returns
the model, optionally loading a ``state_dict`` file with ``torch.load(weights_only=True)``
(:func:`load_function_model`). Every failure is one :class:`XbarsimInputError` line.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from xbarsim.errors import XbarsimInputError
from xbarsim.nn.training import convnet, mlp, perceptron

#: Built-in architectures by name: (inputs, channels, size, classes) -> model.
BUILTIN_MODELS: dict[str, Callable[[int, int, int, int], nn.Module]] = {
    "perceptron": lambda n, c, s, k: nn.Sequential(nn.Flatten(), perceptron(n, k, dropout=0.0)),
    "mlp": lambda n, c, s, k: mlp(n, 64, k),
    "convnet": lambda n, c, s, k: convnet(c, s, k, width=8),
}


def _rebuild(name: str, kind: str, m: torch.jit.ScriptModule) -> nn.Module:
    """A plain module equal to the scripted child ``m`` of type ``kind``."""
    if kind == "Linear":
        out_f, in_f = m.weight.shape
        return nn.Linear(in_f, out_f, bias=m.bias is not None)
    if kind == "Conv2d":
        out_c, in_c = m.weight.shape[:2]
        return nn.Conv2d(in_c, out_c, tuple(m.weight.shape[2:]), stride=m.stride,
                         padding=m.padding, dilation=m.dilation, groups=m.groups,
                         bias=m.bias is not None)
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        cls = nn.BatchNorm1d if kind == "BatchNorm1d" else nn.BatchNorm2d
        return cls(m.num_features, eps=m.eps, affine=m.weight is not None)
    if kind == "Flatten":
        return nn.Flatten(m.start_dim, m.end_dim)
    if kind in ("MaxPool2d", "AvgPool2d"):
        cls = nn.MaxPool2d if kind == "MaxPool2d" else nn.AvgPool2d
        return cls(m.kernel_size, m.stride, m.padding)
    simple = {"ReLU": nn.ReLU, "Dropout": nn.Dropout, "Identity": nn.Identity,
              "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh}
    if kind in simple:
        return simple[kind]()
    raise XbarsimInputError(
        f"model: layer {name!r} ({kind}) of the TorchScript file cannot be rebuilt; supported: "
        "Linear, Conv2d, BatchNorm1d/2d, ReLU, Sigmoid, Tanh, Flatten, MaxPool2d, AvgPool2d, "
        "Dropout, Identity"
    )


def load_torchscript(path: str | Path) -> nn.Module:
    """Rebuild the ``nn.Sequential`` saved in a TorchScript file (weights included).

    Raises
    ------
    XbarsimInputError
        The file is not TorchScript, its top module is not a Sequential, or it holds a
        layer with no plain counterpart.
    """
    path = Path(path)
    if not path.is_file():
        raise XbarsimInputError(f"model: {path} is not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is the format
            scripted = torch.jit.load(str(path), map_location="cpu")
    except Exception:
        raise XbarsimInputError(
            f"model: {path} is not a TorchScript file (torch.jit.save); a plain pickle is "
            "never loaded: use module:function with --weights for a state_dict"
        ) from None
    if scripted.original_name != "Sequential":
        raise XbarsimInputError(
            f"model: {path} holds a TorchScript {scripted.original_name}; only nn.Sequential "
            "models are rebuilt (use module:function with --weights)"
        )
    layers = [_rebuild(n, c.original_name, c) for n, c in scripted.named_children()]
    model = nn.Sequential(*layers)
    model.load_state_dict(scripted.state_dict())
    return model.eval()


def load_function_model(target: str, weights: str | Path | None = None) -> nn.Module:
    """Call ``module:function`` (the current directory importable) for the model and load
    ``weights`` (a ``state_dict`` file, ``torch.load(weights_only=True)``) into it.

    Raises
    ------
    XbarsimInputError
        The module does not import, the function is missing or returns no module, or the
        weights do not load.
    """
    module_name, _, function = target.partition(":")
    if not module_name or not function:
        raise XbarsimInputError(f"model: expected module:function, got {target!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise XbarsimInputError(
            f"model: module {module_name!r} does not import ({type(exc).__name__}: {exc})"
        ) from None
    build = getattr(module, function, None)
    if not callable(build):
        raise XbarsimInputError(f"model: {module_name!r} has no function {function!r}")
    model = build()
    if not isinstance(model, nn.Module):
        raise XbarsimInputError(
            f"model: {target}() returned {type(model).__name__}, not a torch.nn.Module"
        )
    if weights is not None:
        try:
            state = torch.load(str(weights), map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except Exception as exc:
            text = " ".join(str(exc).split())[:200]
            raise XbarsimInputError(f"weights: {weights} does not load into {target}(): {text}"
                                    ) from None
    return model.eval()

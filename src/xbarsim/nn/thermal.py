"""Any PyTorch model at die temperature through a chapter-2 mapping (layer 6; thesis 2.4.1).

Chapter 2 does not program networks: every weight of a ``Linear`` / ``Conv2d`` layer is
converted one-to-one into a device pair with a mapping design
(:class:`~xbarsim.mapping.state_optimization.StateOptimization`), the device temperature
model is applied to each device of the pair at the die temperature, and the pair is read
back as an effective weight (our reading of the thesis, section 2.4.1)::

    w_eff(T) = w_max * (I+(T) - I-(T)) / dI_max,    w_max = max |w| of the layer

Biases stay digital. The temperature model is deterministic and elementwise, so
:class:`ThermalWeights` converts every layer once for a whole temperature grid (cached),
and :func:`accuracy_by_temperature` evaluates all temperatures in one batched pass
(``torch.func.vmap`` over the temperature axis).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import Tensor, nn
from torch.func import functional_call, vmap

from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.state_optimization import StateOptimization
from xbarsim.validation import TEMP_RANGE_C  # the one range of every temperature option


def check_temps(temps_c: ArrayLike) -> NDArray[np.float64]:
    """Validate die temperatures (degrees C, finite, within :data:`TEMP_RANGE_C`)."""
    t = np.atleast_1d(np.asarray(temps_c, dtype=np.float64))
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise XbarsimInputError("temps: give at least one finite temperature (degrees C)")
    lo, hi = TEMP_RANGE_C
    if t.min() < lo or t.max() > hi:
        raise XbarsimInputError(
            f"temps: must lie in [{lo:g}, {hi:g}] degrees C, got {t.min():g} ... {t.max():g}"
        )
    return t


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every ``Linear`` and ``Conv2d`` (incl. analog layers) of ``model``."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]


def weights_at(weight: Tensor, design: StateOptimization, temps_c: ArrayLike) -> Tensor:
    """Effective weights of one layer at each temperature, shape ``(len(temps), *weight.shape)``.

    Parameters
    ----------
    weight : Tensor
        The layer's software weights (any shape).
    design : StateOptimization
        Mapping design (stack, mapping, ``dI_max``, ``I_min``/``I_b`` rule).
    temps_c : array_like
        Die temperatures (degrees C).
    """
    w = weight.detach().cpu().double().numpy()
    w_max = float(np.abs(w).max()) or 1.0
    eff = design.effective_weights(w / w_max, check_temps(temps_c)) * w_max
    return torch.as_tensor(eff, dtype=weight.dtype, device=weight.device)


class ThermalWeights:
    """Converted weights of every layer of a model over a temperature grid (cached).

    Parameters
    ----------
    model : torch.nn.Module
    design : StateOptimization
    temps_c : sequence of float
        Die temperatures (degrees C).
    """

    def __init__(
        self, model: nn.Module, design: StateOptimization, temps_c: Sequence[float]
    ) -> None:
        self.design = design
        self.temps_c = check_temps(temps_c)
        self.weights: dict[str, Tensor] = {
            f"{name}.weight" if name else "weight": weights_at(m.weight, design, self.temps_c)
            for name, m in weight_layers(model)
        }

    def at_index(self, index: int) -> dict[str, Tensor]:
        """Weights of temperature ``temps_c[index]``, by parameter name."""
        return {name: w[index] for name, w in self.weights.items()}


def _stacked_inputs(
    model: nn.Module,
    thermal: ThermalWeights,
    bn_sets: dict[str, Tensor] | None,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Per-temperature tensors (vmapped) and shared tensors (broadcast) of ``model``."""
    stacked = dict(thermal.weights)
    if bn_sets:
        stacked.update(bn_sets)
    shared = {
        name: t
        for name, t in [*model.named_parameters(), *model.named_buffers()]
        if name not in stacked
    }
    return stacked, shared


def logits_by_temperature(
    model: nn.Module,
    thermal: ThermalWeights,
    x: Tensor,
    bn_sets: dict[str, Tensor] | None = None,
) -> Tensor:
    """Outputs of ``model`` at every temperature of ``thermal`` in one batched pass.

    Parameters
    ----------
    model : torch.nn.Module
        Evaluated in eval mode, unchanged.
    thermal : ThermalWeights
    x : Tensor
        One input batch.
    bn_sets : dict of Tensor, optional
        Per-temperature batch-norm tensors (leading axis = temperatures), e.g. from
        :meth:`xbarsim.nn.reference_bn.ReferenceBatchNorm.stacked`.

    Returns
    -------
    Tensor, shape ``(len(temps), batch, ...)``
    """
    model.eval()
    stacked, shared = _stacked_inputs(model, thermal, bn_sets)

    def run(per_temp: dict[str, Tensor]) -> Tensor:
        return functional_call(model, {**shared, **per_temp}, (x,))

    with torch.no_grad():
        return vmap(run)(stacked)


def accuracy_by_temperature(
    model: nn.Module,
    thermal: ThermalWeights,
    x: NDArray,
    y: NDArray,
    bn_sets: dict[str, Tensor] | None = None,
    batch_size: int = 500,
) -> NDArray[np.float64]:
    """Test accuracy (fraction) at every temperature of ``thermal`` (batched over them)."""
    correct = np.zeros(len(thermal.temps_c))
    labels = torch.as_tensor(np.asarray(y))
    for start in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[start : start + batch_size])
        out = logits_by_temperature(model, thermal, xb, bn_sets)
        hits = out.argmax(dim=-1) == labels[start : start + batch_size]
        correct += hits.sum(dim=1).double().numpy()
    return correct / max(len(x), 1)

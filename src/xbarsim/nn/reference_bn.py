"""k-reference batch normalization (thesis approach 2, section 2.4.1), for any PyTorch model.

Pre-activation statistics shift and stretch almost monotonically with temperature, so a
per-neuron correction quantized into k sets of batch-norm parameters compensates it. For
each of k reference temperatures the model is deployed there
(:func:`xbarsim.nn.thermal.weights_at`) and only its batch-norm layers are retrained for
one epoch at lr 0.001 (thesis 2.4.1, Fig. 22): the affine ``weight`` / ``bias`` (gamma, beta) and
re-estimated running statistics, everything else frozen (which parameters: an
**assumption**, not given in the source documents). At inference a temperature sensor
picks the set.

Defaults (**assumptions**, not given in the source documents): references at the centres
of k equal bins of [25, 100] degrees C, ``T_j = 25 + (j - 1/2) 75 / k``; selection = the
bin holding the sensed temperature (ends extend outward). Overhead: 2k parameters per neuron.

The sets export with the model: :meth:`ReferenceBatchNorm.state_dict` holds plain tensors
(``torch.save`` / ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import Tensor, nn

from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.state_optimization import StateOptimization
from xbarsim.nn.data import Dataset
from xbarsim.nn.thermal import check_temps, weight_layers, weights_at
from xbarsim.nn.training import seeded, torch_threads
from xbarsim.validation import check_positive_int, check_seed

BN_TENSORS = ("weight", "bias", "running_mean", "running_var")


def check_k(k: object) -> int:
    """Validate the number of reference temperatures (an integer >= 1)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or int(k) < 1:
        raise XbarsimInputError(f"k: must be an integer >= 1, got {k!r}")
    return int(k)


def reference_temperatures(k: int, low_c: float = 25.0, high_c: float = 100.0) -> NDArray:
    """Centres of k equal bins of [low_c, high_c] (degrees C)."""
    k = check_k(k)
    return low_c + (np.arange(k) + 0.5) * (high_c - low_c) / k


def batch_norms(model: nn.Module) -> list[tuple[str, nn.modules.batchnorm._BatchNorm]]:
    """``(name, module)`` of every batch-norm layer of ``model``."""
    return [
        (n, m) for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]


class ReferenceBatchNorm:
    """k sets of batch-norm parameters and the temperatures that select them.

    Parameters
    ----------
    temps_c : sequence of float
        Reference temperatures (degrees C), increasing.
    sets : list of dict
        Per reference: ``"<bn name>.<weight|bias|running_mean|running_var>"`` -> Tensor.
    edges_c : sequence of float, optional
        Bin edges between consecutive references (k - 1 values); default the midpoints.
    """

    def __init__(
        self,
        temps_c: Sequence[float],
        sets: list[dict[str, Tensor]],
        edges_c: Sequence[float] | None = None,
    ) -> None:
        t = np.asarray(temps_c, dtype=np.float64)
        if t.size != len(sets) or t.size == 0 or np.any(np.diff(t) <= 0):
            raise XbarsimInputError("temps_c: need one increasing temperature per BN set")
        self.temps_c = t
        self.sets = sets
        self.edges_c = (t[:-1] + t[1:]) / 2 if edges_c is None else np.asarray(edges_c, float)

    @property
    def k(self) -> int:
        """Number of reference sets."""
        return len(self.sets)

    def select(self, temp_c: ArrayLike) -> NDArray[np.int64]:
        """Index of the set the sensed temperature(s) ``temp_c`` (degrees C) select."""
        return np.searchsorted(self.edges_c, np.asarray(temp_c, dtype=np.float64), side="right")

    def apply(self, model: nn.Module, temp_c: float) -> int:
        """Load the set selected by ``temp_c`` into ``model``'s batch norms; its index."""
        index = int(self.select(temp_c))
        state = dict(model.named_parameters()) | dict(model.named_buffers())
        with torch.no_grad():
            for name, value in self.sets[index].items():
                state[name].copy_(value)
        return index

    def stacked(self, temps_c: ArrayLike) -> dict[str, Tensor]:
        """Per-temperature BN tensors (leading axis = ``temps_c``) for batched evaluation."""
        index = self.select(check_temps(temps_c))
        return {name: torch.stack([self.sets[i][name] for i in index]) for name in self.sets[0]}

    def state_dict(self) -> dict[str, Tensor]:
        """Plain tensors: ``temps_c``, ``edges_c`` and ``set<j>.<name>`` for every set."""
        out = {
            "temps_c": torch.as_tensor(self.temps_c),
            "edges_c": torch.as_tensor(self.edges_c),
        }
        for j, s in enumerate(self.sets):
            out.update({f"set{j}.{name}": v for name, v in s.items()})
        return out

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor]) -> ReferenceBatchNorm:
        """Inverse of :meth:`state_dict`."""
        temps = state["temps_c"].numpy()
        sets: list[dict[str, Tensor]] = [{} for _ in temps]
        for key, value in state.items():
            if key.startswith("set"):
                j, name = key[3:].split(".", 1)
                sets[int(j)][name] = value
        return cls(temps, sets, state["edges_c"].numpy())

    @classmethod
    def fit(
        cls,
        model: nn.Module,
        data: Dataset,
        design: StateOptimization,
        k: int,
        lr: float = 1e-3,
        epochs: int = 1,
        batch_size: int = 64,
        seed: int = 0,
        temps_c: Sequence[float] | None = None,
        threads: int | None = None,
    ) -> ReferenceBatchNorm:
        """Retrain the BN layers of ``model`` at k reference temperatures (module docstring).

        ``model`` is not modified. ``temps_c`` overrides the default bin centres.
        """
        k = check_k(k)
        seed = check_seed(seed)
        epochs = check_positive_int("epochs", epochs)
        refs = reference_temperatures(k) if temps_c is None else check_temps(temps_c)
        if not batch_norms(model):
            raise XbarsimInputError("model: has no batch-norm layers to retrain")
        x = torch.as_tensor(data.x_train)
        y = torch.as_tensor(data.y_train)
        sets = []
        for temp in refs:
            work = copy.deepcopy(model)
            with torch.no_grad():
                for _, m in weight_layers(work):
                    m.weight.copy_(weights_at(m.weight, design, [temp])[0])
            for p in work.parameters():
                p.requires_grad_(False)
            bns = batch_norms(work)
            params = []
            for _, bn in bns:
                bn.reset_running_stats()
                bn.momentum = None  # running statistics: cumulative average over the epoch
                for p in (bn.weight, bn.bias):
                    if p is not None:
                        p.requires_grad_(True)
                        params.append(p)
            opt = torch.optim.Adam(params, lr=lr)
            loss_fn = nn.CrossEntropyLoss()
            shuffle = torch.Generator().manual_seed(seed)
            work.eval()
            for _, bn in bns:
                bn.train()
            with torch_threads(threads), seeded(seed):
                for _ in range(epochs):
                    order = torch.randperm(len(x), generator=shuffle)
                    for start in range(0, len(x), batch_size):
                        idx = order[start : start + batch_size]
                        opt.zero_grad()
                        loss_fn(work(x[idx]), y[idx]).backward()
                        opt.step()
            sets.append(
                {
                    f"{name}.{t}": getattr(bn, t).detach().clone()
                    for name, bn in bns
                    for t in BN_TENSORS
                    if getattr(bn, t) is not None
                }
            )
        return cls(refs, sets)

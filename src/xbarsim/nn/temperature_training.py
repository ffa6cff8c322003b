"""Temperature-sweep training (thesis approach 1, section 2.4.1), for any PyTorch model.

Before every forward pass the model is "deployed" at the training temperature ``T_theta``:
each ``Linear`` / ``Conv2d`` weight goes through the mapping, the device temperature model
at ``T_theta`` and back (:func:`xbarsim.nn.thermal.weights_at`). The gradient computed
with those weights is applied to the ideal weights (straight-through; the thesis does not
say how gradients flow; our assumption). ``T_theta`` follows the triangular schedule
25, 35, ..., 95, 85, ..., 35, 25, 35, ... degrees C, one step per batch (period 14), so
training never sees 100 degrees C.

Default length (an **assumption**, not given in the source documents): fine-tune the
trained baseline for 10 % of its epochs with its optimizer settings.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.state_optimization import StateOptimization
from xbarsim.nn.data import Dataset
from xbarsim.nn.thermal import weight_layers, weights_at
from xbarsim.nn.training import check_training, seeded, torch_threads
from xbarsim.progress import progress_bar


def triangular_temperature(
    step: int, low_c: float = 25.0, high_c: float = 95.0, step_c: float = 10.0
) -> float:
    """``T_theta`` (degrees C) of batch ``step`` on the triangular schedule.

    25 -> 35 -> ... -> 95 -> 85 -> ... -> 35 -> 25 -> 35 ..., ``step_c`` per batch.
    """
    if not step_c > 0 or not high_c > low_c:
        raise XbarsimInputError("schedule: need step_c > 0 and high_c > low_c")
    n = round((high_c - low_c) / step_c)
    phase = int(step) % (2 * n)
    k = phase if phase <= n else 2 * n - phase
    return low_c + k * step_c


def train_temperature_sweep(
    model: nn.Module,
    data: Dataset,
    design: StateOptimization,
    epochs: int = 3,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    low_c: float = 25.0,
    high_c: float = 95.0,
    step_c: float = 10.0,
    progress: bool = False,
    threads: int | None = None,
) -> list[float]:
    """Fine-tune ``model`` in place with the temperature sweep (module docstring).

    Parameters
    ----------
    model : torch.nn.Module
        Any model whose weight layers are ``Linear`` / ``Conv2d``; trained with Adam and
        cross-entropy.
    data : Dataset
    design : StateOptimization
        Mapping design the weights are deployed with.
    epochs, lr, batch_size : training length and settings
    seed : int
        Shuffling seed (deterministic).
    low_c, high_c, step_c : float
        Triangular schedule (degrees C).
    progress : bool
    threads : int, optional
        Torch threads during training.

    Returns
    -------
    list of float
        Mean training loss per epoch.
    """
    epochs, batch_size, seed = check_training(epochs, batch_size, seed, lr)
    x = torch.as_tensor(data.x_train)
    y = torch.as_tensor(data.y_train)
    layers = [m for _, m in weight_layers(model)]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    step = 0
    model.train()
    with torch_threads(threads), seeded(seed), progress_bar(epochs, "T-sweep", progress) as adv:
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=shuffle)
            total = 0.0
            for start in range(0, len(x), batch_size):
                idx = order[start : start + batch_size]
                temp = triangular_temperature(step, low_c, high_c, step_c)
                ideal = [m.weight.detach().clone() for m in layers]
                with torch.no_grad():
                    for m in layers:
                        m.weight.copy_(weights_at(m.weight, design, [temp])[0])
                opt.zero_grad()
                loss = loss_fn(model(x[idx]), y[idx])
                loss.backward()
                with torch.no_grad():
                    for m, w in zip(layers, ideal, strict=True):
                        m.weight.copy_(w)
                opt.step()
                total += loss.item() * len(idx)
                step += 1
            losses.append(total / len(x))
            adv(1)
    model.eval()
    return [float(v) for v in np.asarray(losses)]

"""Small reference models, deterministic training and evaluation (layer 6).

Hardware-aware training (thesis 3.5.1) is training a model converted with ``zeta > 0``
(:func:`xbarsim.nn.convert`); :func:`train` seeds every analog layer's perturbation
generator from the training seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from xbarsim.errors import XbarsimInputError
from xbarsim.nn.convert import analog_layers
from xbarsim.nn.data import Dataset
from xbarsim.progress import progress_bar
from xbarsim.validation import check_positive_int, check_seed, library_seed

OPTIMIZERS = ("adam", "sgd")


def perceptron(
    inputs: int = 64,
    outputs: int = 10,
    dropout: float = 0.5,
    weight_range: tuple[float, float] | None = None,
) -> nn.Sequential:
    """Single-layer perceptron of the paper (Fig. S4): dropout on the inputs, ReLU outputs.

    Parameters
    ----------
    inputs, outputs : int
    dropout : float
        Dropout probability on the inputs during training.
    weight_range : (low, high), optional
        Initialize the weights uniformly in this range (from the global torch RNG; see
        :func:`seeded`) instead of torch's default.
    """
    linear = nn.Linear(inputs, outputs)
    if weight_range is not None:
        nn.init.uniform_(linear.weight, *weight_range)
    return nn.Sequential(nn.Flatten(), nn.Dropout(dropout), linear, nn.ReLU())


def mlp(inputs: int, hidden: int = 64, outputs: int = 10) -> nn.Sequential:
    """Two-layer perceptron ``inputs-hidden-outputs`` with ReLU (thesis MLP: 784-64-10)."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs)
    )


def convnet(channels: int = 1, size: int = 16, outputs: int = 10, width: int = 16) -> nn.Sequential:
    """Compact LeNet-style ConvNet (the thesis ConvNet scaled down).

    Two 3 x 3 convolutions (``width`` and ``2 width`` maps) with batch norm, ReLU and 2 x 2
    max pooling, then a fully connected layer of ``4 width`` neurons and the classifier.

    Parameters
    ----------
    channels : int
        Input channels.
    size : int
        Input height = width (pixels), a multiple of 4.
    outputs : int
    width : int
        Feature maps of the first convolution.
    """
    if size % 4:
        raise XbarsimInputError(f"size: convnet input size must be a multiple of 4, got {size}")
    flat = 2 * width * (size // 4) ** 2
    return nn.Sequential(
        nn.Conv2d(channels, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, 4 * width),
        nn.BatchNorm1d(4 * width),
        nn.ReLU(),
        nn.Linear(4 * width, outputs),
    )


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block (e.g. building a model) under a forked global torch RNG seeded by ``seed``.

    The caller's global RNG state is restored afterwards.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(library_seed(check_seed(seed), 63))
        yield


def layer_arrays(layer: nn.Module) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """A Linear / Conv2d layer's weights in crossbar layout (inputs, outputs) and its bias.

    Returns
    -------
    matrix : ndarray of float64, shape (inputs, outputs)
    bias : ndarray of float64, shape (outputs,), or None
    """
    weight = layer.weight.detach().cpu().double()
    matrix = weight.reshape(weight.shape[0], -1).T.numpy().copy()
    bias = getattr(layer, "bias", None)
    return matrix, None if bias is None else bias.detach().cpu().double().numpy().copy()


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads (None: unchanged), then restore.

    Small models run fastest on one thread, above all on a loaded machine.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_positive_int("threads", threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def seed_hat(model: nn.Module, seed: int) -> None:
    """Give every analog layer its own HAT generator, child ``k`` of ``SeedSequence(seed)``."""
    layers = analog_layers(model)
    children = np.random.SeedSequence(check_seed(seed)).spawn(len(layers))
    for (_, layer), child in zip(layers, children, strict=True):
        gen = torch.Generator(device=layer.weight.device)
        gen.manual_seed(int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)))
        layer.generator = gen


def check_training(
    epochs: object, batch_size: object, seed: object, lr: float
) -> tuple[int, int, int]:
    """Validate the common training arguments; returns ``(epochs, batch_size, seed)``."""
    if not lr > 0:
        raise XbarsimInputError(f"lr: must be > 0, got {lr}")
    return (
        check_positive_int("epochs", epochs),
        check_positive_int("batch_size", batch_size),
        check_seed(seed),
    )


def train(
    model: nn.Module,
    data: Dataset,
    epochs: int = 30,
    lr: float = 0.01,
    batch_size: int = 100,
    optimizer: str = "adam",
    weight_clip: tuple[float, float] | None = None,
    seed: int = 0,
    progress: bool = False,
    threads: int | None = None,
) -> list[float]:
    """Train ``model`` (in place) with cross-entropy on ``data``'s training set.

    Deterministic for a given seed: the shuffling uses a ``torch.Generator`` and dropout
    runs under a forked, seeded global RNG; analog layers get seeded HAT generators.

    Parameters
    ----------
    model : torch.nn.Module
        Outputs class scores.
    data : Dataset
    epochs : int
    lr : float
        Learning rate.
    batch_size : int
    optimizer : {"adam", "sgd"}
    weight_clip : (low, high), optional
        Clip every weight (not bias) into this range after every step (the paper: (0, 1)).
    seed : int
    progress : bool
    threads : int, optional
        Torch intra-op threads during training (restored afterwards); small models train
        fastest on one.

    Returns
    -------
    list of float
        Mean training loss per epoch.
    """
    epochs, batch_size, seed = check_training(epochs, batch_size, seed, lr)
    if optimizer not in OPTIMIZERS:
        raise XbarsimInputError(
            f"optimizer: unknown {optimizer!r}; allowed: {', '.join(OPTIMIZERS)}"
        )
    x = torch.as_tensor(data.x_train)
    y = torch.as_tensor(data.y_train)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else torch.optim.SGD(params, lr=lr)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight") and p.ndim > 1]
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(library_seed(seed, 63))
    seed_hat(model, seed)
    losses: list[float] = []
    model.train()
    with torch_threads(threads), seeded(seed), progress_bar(epochs, "training", progress) as adv:
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=shuffle)
            total = 0.0
            for start in range(0, len(x), batch_size):
                idx = order[start : start + batch_size]
                opt.zero_grad()
                loss = loss_fn(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
                if weight_clip is not None:
                    with torch.no_grad():
                        for w in weights:
                            w.clamp_(*weight_clip)
                total += loss.item() * len(idx)
            losses.append(total / len(x))
            adv(1)
    model.eval()
    return losses


def predict(model: nn.Module, x: NDArray, batch_size: int = 1000) -> NDArray[np.int64]:
    """Predicted classes (argmax of the model's outputs) in eval mode."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(torch.as_tensor(x[start : start + batch_size])).argmax(dim=1))
    return torch.cat(out).numpy().astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def accuracy(model: nn.Module, x: NDArray, y: NDArray) -> float:
    """Classification accuracy (fraction) of ``model`` on ``(x, y)``."""
    return float(np.mean(predict(model, x) == np.asarray(y)))

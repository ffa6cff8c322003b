"""Every I/O and data error is one line naming the file: configs, MNIST, results datasets,
and seeds of any size."""

from __future__ import annotations

import gzip
import json
import os
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim import validation
from xbarsim.devices.config import load_device_config
from xbarsim.errors import XbarsimInputError
from xbarsim.nn.data import load_digits, load_mnist
from xbarsim.sweeps import read_results, run_sweep, sweep_config_from_dict
from xbarsim.sweeps.config import load_sweep_config
from xbarsim.sweeps.store import META_NAME, SCHEMA_VERSION


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> int:
    """Input limits lowered to 64 KiB, so that a bomb of a few KiB stands for gigabytes."""
    limit = 64 * 1024
    monkeypatch.setattr(validation, "MAX_DATA_BYTES", limit)
    monkeypatch.setattr(validation, "MAX_TEXT_BYTES", limit)
    return limit


def test_a_gzip_bomb_stops_at_the_limit(tmp_path: Path, small_limits: int) -> None:
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"\x00" * (1000 * small_limits), 9))  # 64 MiB from 64 KiB
    assert bomb.stat().st_size < small_limits
    tracemalloc.start()
    with pytest.raises(XbarsimInputError, match=r"bomb.gz expands past 64 KiB when") as info:
        validation.read_gzip(bomb, "mnist-dir")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    _one_line(info)
    assert peak < 8 * small_limits  # stopped at the limit, not after 64 MiB
    fine = tmp_path / "fine.gz"
    fine.write_bytes(gzip.compress(b"abc" * 100) + gzip.compress(b"d"))  # two members
    assert validation.read_gzip(fine, "x") == b"abc" * 100 + b"d"


def test_size_is_checked_before_and_while_reading(tmp_path: Path, small_limits: int) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a" * (small_limits + 1))
    with pytest.raises(XbarsimInputError, match=r"^config: .*big.yaml holds 64 KiB, more than"):
        validation.read_text(big, "config")
    with pytest.raises(XbarsimInputError, match=r"^config: .*big.yaml holds"):
        load_device_config(big)
    exact = tmp_path / "exact.yaml"
    exact.write_text("a" * small_limits)
    assert len(validation.read_text(exact, "config")) == small_limits


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "dir"])
def test_only_regular_files_are_opened(tmp_path: Path, special: str) -> None:
    path = Path(special)
    if special == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)  # a reader would block until a writer comes
    elif special == "dir":
        path = tmp_path
    with pytest.raises(XbarsimInputError, match=r"is not a regular file|is a directory") as i:
        validation.read_text(path, "config")
    _one_line(i)


def test_an_image_bomb_is_one_line_and_decodes_nothing(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    path = tmp_path / "bomb.png"
    Image.new("L", (300, 200)).save(path)
    with validation.open_image(path, "image") as img:
        assert img.size == (300, 200)
    monkeypatch.setattr(validation, "MAX_IMAGE_PIXELS", 300 * 200 - 1)
    with pytest.raises(XbarsimInputError, match=r"declares 300 x 200 pixels, more than") as i:
        validation.open_image(path, "image")
    _one_line(i)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL's own bomb error: 2x its limit
    with pytest.raises(XbarsimInputError, match="bomb limit"):
        validation.open_image(path, "image")


def test_idx_header_must_match_its_data(tmp_path: Path) -> None:
    _mnist_dir(tmp_path, [1, 2])
    path = tmp_path / "train-images-idx3-ubyte"
    raw = path.read_bytes()
    path.write_bytes(raw[:4] + struct.pack(">I", 600_000) + raw[8:])  # declares 600k images
    with pytest.raises(XbarsimInputError, match=r"the header declares \(600000, 28, 28\)"):
        load_mnist(tmp_path)


def _one_line(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("loader", [load_device_config, load_sweep_config])
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (bytes(range(256)), "is a binary file"),
        ("name: caf\xe9\n".encode("latin-1"), "is not UTF-8 text (byte 0xe9 at offset 9)"),
        (b"a: [1, 2\nb: {c\n", "expected ',' or ']', but got ':' (line 2, column 2)"),
        (b"a:\n  - 1\n b: 2\n", "(line 3, column 2)"),
    ],
)
def test_config_errors_are_one_line(tmp_path: Path, loader, content: bytes, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(XbarsimInputError) as info:
        loader(path)
    message = _one_line(info)
    assert message.startswith(f"config: {path}") and expected in message


def _idx(data: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 8, data.ndim) + struct.pack(f">{data.ndim}I", *data.shape)
    return header + data.astype(np.uint8).tobytes()


def _mnist_dir(root: Path, labels: list[int]) -> Path:
    n = len(labels)
    for prefix in ("train", "t10k"):
        (root / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(np.zeros((n, 28, 28))))
        (root / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(np.array(labels)))
    return root


def test_mnist_labels_out_of_range(tmp_path: Path) -> None:
    assert load_mnist(_mnist_dir(tmp_path, [0, 9, 3])).y_train.tolist() == [0, 9, 3]
    _mnist_dir(tmp_path, [0, 10, 3])
    with pytest.raises(XbarsimInputError, match=r"train labels must lie in 0..9, found 10") as i:
        load_mnist(tmp_path)
    _one_line(i)


def test_corrupt_gzip_is_one_line(tmp_path: Path) -> None:
    _mnist_dir(tmp_path, [1, 2])
    raw = (tmp_path / "t10k-labels-idx1-ubyte").read_bytes()
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    packed = gzip.compress(raw * 50)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(packed[:30] + b"\x00" * 30 + packed[60:])
    with pytest.raises(XbarsimInputError, match=r"idx1-ubyte\.gz is not a readable") as i:
        load_mnist(tmp_path)
    _one_line(i)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("res") / "runs"
    cfg = {
        "sizes": [4],
        "sigmas": [0.1],
        "targets": [0.05],
        "crossbars": 2,
        "crossbars_per_task": 1,
        "weight_sets": 1,
        "inputs": 8,
        "engine": "cpu",
        "results": str(path),
    }
    run_sweep(sweep_config_from_dict(cfg), workers=0)
    return path


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "corrupt or trunc"),
        (lambda p: p.write_bytes(b"PAR1" + b"\x00" * 100 + b"PAR1"), "corrupt or truncated"),
        (lambda p: pq.write_table(pa.table({"alien": [1.0]}), p), "foreign schema"),
    ],
)
def test_damaged_parts_refused(tmp_path: Path, dataset: Path, damage, expected: str) -> None:
    path = _copy(dataset, tmp_path / "copy")
    assert len(read_results(path)) == 2
    part = sorted(path.glob("part-*.parquet"))[1]
    damage(part)
    with pytest.raises(XbarsimInputError, match=expected) as info:
        read_results(path)
    assert part.name in _one_line(info)


def test_foreign_part_no_longer_mixes_nan_rows(tmp_path: Path, dataset: Path) -> None:
    path = _copy(dataset, tmp_path / "copy")
    pq.write_table(pa.table({"size": [4], "sigma": [0.1]}), path / "part-zzz.parquet")
    with pytest.raises(XbarsimInputError, match=r"part-zzz.parquet does not hold"):
        read_results(path)


@pytest.mark.parametrize(
    ("meta", "expected"),
    [(b"{not json", "is not JSON"), (b"\xff\xfe", "is not JSON"), (b"[1]", "schema version")],
)
def test_bad_metadata(tmp_path: Path, dataset: Path, meta: bytes, expected: str) -> None:
    path = _copy(dataset, tmp_path / "copy")
    (path / META_NAME).write_bytes(meta)
    with pytest.raises(XbarsimInputError, match=expected) as info:
        read_results(path)
    _one_line(info)
    assert json.loads((dataset / META_NAME).read_text())["schema_version"] == SCHEMA_VERSION


@pytest.mark.parametrize("seed", [2**32, 2**64 + 5, 10**40])
def test_any_nonnegative_seed_reaches_the_libraries(seed: int) -> None:
    torch = pytest.importorskip("torch")
    from xbarsim.nn.training import seeded

    a, b = load_digits(seed=seed), load_digits(seed=seed)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    with seeded(seed):
        first = torch.rand(3)
    with seeded(seed):
        np.testing.assert_array_equal(first.numpy(), torch.rand(3).numpy())


def test_small_seeds_keep_their_results() -> None:
    from sklearn.model_selection import train_test_split

    data = load_digits(seed=7, binarize_threshold=None)
    assert data.x_test.shape[0] == 360
    y = load_digits(seed=7).y_train
    from sklearn.datasets import load_digits as sk

    bunch = sk()
    _, _, y_tr, _ = train_test_split(
        bunch.images, bunch.target, test_size=0.2, random_state=7, stratify=bunch.target
    )
    np.testing.assert_array_equal(y, y_tr)


@given(payloads=st.lists(st.binary(max_size=3000), min_size=1, max_size=3),
       level=st.integers(0, 9))
@settings(max_examples=40, deadline=None)
def test_bounded_gzip_reads_back_what_gzip_wrote(payloads: list[bytes], level: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.gz"
        path.write_bytes(b"".join(gzip.compress(p, level) for p in payloads))  # members
        assert validation.read_gzip(path, "x") == b"".join(payloads)
        total = sum(map(len, payloads))
        if total:
            with pytest.raises(XbarsimInputError, match=r"expands past|more than"):
                validation.read_gzip(path, "x", limit=total - 1)

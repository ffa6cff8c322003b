"""Table of bad inputs for every command, and the contract they must meet.

Used by ``tests/test_fuzz.py``; importable on its own so that the same table can be run
against another checkout (``python tests/fuzz_cases.py`` prints how many cases meet the
contract). The contract for a bad input: exit code 2, exactly one line on stderr that
starts with ``error:`` (after the run's ``estimated:`` line when the bad input is a data file
read once the run started), no traceback, and no file created anywhere under the working
directory (which holds every output path of the cases).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import pickle
import struct
import sys
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Case:
    """One bad invocation: ``argv`` with ``{root}`` standing for the fixture directory.

    ``limits`` lowers input limits of :mod:`xbarsim.validation` for the case (name, bytes),
    so that a file bomb of a few kilobytes stands for one of gigabytes.
    """

    name: str
    argv: tuple[str, ...]
    limits: tuple[tuple[str, int], ...] = ()

    def args(self, root: Path) -> list[str]:
        """The argument list with the fixture directory filled in."""
        return [a.replace("{root}", str(root)) for a in self.argv]

    @contextlib.contextmanager
    def limited(self):
        """Apply :attr:`limits` while the case runs."""
        from xbarsim import validation

        saved = {name: getattr(validation, name) for name, _ in self.limits
                 if hasattr(validation, name)}  # an older checkout has no such limit
        try:
            for name, _ in self.limits:
                if name in saved:
                    setattr(validation, name, dict(self.limits)[name])
            yield
        finally:
            for name, value in saved.items():
                setattr(validation, name, value)


def _c(name: str, *argv: str) -> Case:
    return Case(name, argv)


def _small(name: str, limit: int, *argv: str) -> Case:
    """A case run with every input limit lowered to ``limit`` bytes (a small file bomb)."""
    return Case(name, argv, (("MAX_DATA_BYTES", limit), ("MAX_TEXT_BYTES", limit)))


def _sweep_yaml(results: str, **extra: object) -> str:
    data = {
        "sizes": [4],
        "sigmas": [0.1],
        "targets": [0.05],
        "crossbars": 1,
        "weight_sets": 1,
        "inputs": 8,
        "engine": "cpu",
        "results": results,
        **extra,
    }
    return json.dumps(data)  # JSON is YAML


def _idx(data: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 8, data.ndim) + struct.pack(f">{data.ndim}I", *data.shape)
    return header + data.astype(np.uint8).tobytes()


def _mnist(directory: Path, labels: np.ndarray, corrupt_gzip: bool = False) -> None:
    directory.mkdir()
    n = labels.size
    files = {
        "train-images-idx3-ubyte": _idx(np.zeros((n, 28, 28))),
        "train-labels-idx1-ubyte": _idx(labels),
        "t10k-images-idx3-ubyte": _idx(np.zeros((n, 28, 28))),
        "t10k-labels-idx1-ubyte": _idx(labels),
    }
    for name, raw in files.items():
        if corrupt_gzip and name.startswith("train-images"):
            good = gzip.compress(raw)
            (directory / f"{name}.gz").write_bytes(good[:20] + b"\xff" * 40 + good[60:])
        else:
            (directory / name).write_bytes(raw)


class _Exploit:
    """Runs ``touch {root}/pwned`` in a plain unpickler."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _cifar(directory: Path, batch_3: object) -> None:
    directory.mkdir()
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [0, 1]}
        (directory / name).write_bytes(pickle.dumps(batch_3 if name == "data_batch_3" else batch))


def _results(directory: Path, meta: bytes | None, part: bytes | pa.Table | None) -> None:
    directory.mkdir()
    if meta is not None:
        (directory / "_xbarsim_sweep.json").write_bytes(meta)
    if isinstance(part, pa.Table):
        pq.write_table(part, directory / "part-x.parquet")
    elif part is not None:
        (directory / "part-x.parquet").write_bytes(part)


#: Lowered input limit of the file-bomb cases (bytes); each bomb expands to 16 x this.
BOMB_LIMIT = 64 * 1024


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width x height`` pixels and holds none (an image bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


def _reproduce_store(directory: Path, meta_edit=None, rows=None, part_bytes: int = 0) -> None:
    """A minimal reproduce store: metadata (edited by ``meta_edit``) and one part."""
    from xbarsim.experiments.chapter2 import PartStore
    from xbarsim.reproduce import runner as rp

    e = rp.EXPERIMENTS[0]
    meta = rp.store_meta("quick", 0, {e.id: e.settings["quick"]})
    store = PartStore(directory, meta)
    store.init()
    if rows is None:
        rows = [{"id": e.id, "quantity": q.row_key, "instance": 0, "value": 1.0}
                for q in e.quantities]
    if part_bytes:
        rows = [*rows, {"id": e.id, "figure": "pad", "png": "A" * part_bytes}]
    store.write(e.id, rows)
    if meta_edit is not None:
        path = directory / "_xbarsim_study.json"
        path.write_text(json.dumps(meta_edit(json.loads(path.read_text()))))


def make_fixtures(root: Path) -> None:
    """Write every bad input file the cases refer to under ``root``."""
    (root / "afile").write_text("plain file\n")
    (root / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    latin1 = "preset: tio2-64x64-paper\nname: caf\xe9\n".encode("latin-1")
    (root / "latin1.yaml").write_bytes(latin1)
    (root / "broken.yaml").write_text("sizes: [4, 8\nsigmas: {a: 1\n  - b\n")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    (root / "unknown.yaml").write_text("preset: tio2-64x64-paper\nbogus_key: 3\n")
    (root / "broken.toml").write_text("[thresholds\nset_mean_v = \n")
    (root / "badvalue.yaml").write_text("preset: tio2-64x64-paper\nthresholds: {set_mean_v: -1}\n")
    (root / "empty.yaml").write_text("")
    (root / "sweep_bad_size.yaml").write_text(_sweep_yaml(str(root / "r1"), sizes=[1]))
    (root / "sweep_results_file.yaml").write_text(_sweep_yaml(str(root / "afile")))
    (root / "sweep_gpu.yaml").write_text(_sweep_yaml(str(root / "r_gpu"), engine="gpu"))
    (root / "sweep_huge.yaml").write_text(
        _sweep_yaml(str(root / "r_huge"), sizes=[1024], crossbars=100, weight_sets=100)
    )
    (root / "sweep_seed.yaml").write_text(_sweep_yaml(str(root / "r_seed"), seed=-5))
    (root / "sweep_nonjson.yaml").write_text(_sweep_yaml(str(root / "res_nonjson")))
    (root / "picture.png").write_text("not a picture")
    _mnist(root / "mnist_labels", np.array([0, 1, 200]))
    _mnist(root / "mnist_gzip", np.array([0, 1, 2]), corrupt_gzip=True)
    (root / "mnist_trunc").mkdir()
    for name in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        kind = "idx3" if "images" in name else "idx1"
        (root / "mnist_trunc" / f"{name}-{kind}-ubyte").write_bytes(b"\x00\x00\x08")
    _cifar(root / "cifar_exploit", {b"data": _Exploit(root / "pwned"), b"labels": []})
    _cifar(
        root / "cifar_count",
        {b"data": np.zeros((3, 3072), dtype=np.uint8), b"labels": [0, 1]},
    )
    _cifar(root / "cifar_garbage", b"")
    (root / "cifar_garbage" / "data_batch_3").write_bytes(b"\x80\x04\x95garbage")
    good_meta = json.dumps({"schema_version": 1, "study": {}}).encode()
    _results(root / "res_nonjson", b"{not json", None)
    _results(root / "res_corrupt", good_meta, b"PAR1" + b"\x00" * 64)
    _results(root / "res_trunc", good_meta, b"PAR1\x15\x04")
    _results(root / "res_foreign", good_meta, pa.table({"alien": [1.0, 2.0], "task": ["a", "b"]}))
    _results(root / "res_empty", good_meta, None)
    _results(root / "res_listmeta", b"[1, 2]", None)
    (root / "not_a_dataset").mkdir()
    (root / "not_a_dataset" / "x.txt").write_text("x")
    # hardening round 2: FIFOs, bombs, stores with bad metadata, CSVs with extreme values
    os.mkfifo(root / "fifo")
    (root / "big.yaml").write_text("# padding\n" * (BOMB_LIMIT // 5))
    bomb = root / "mnist_bomb"
    _mnist(bomb, np.array([0, 1, 2]))
    (bomb / "train-images-idx3-ubyte").unlink()
    (bomb / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(_idx(np.zeros((16 * BOMB_LIMIT // 784 + 1, 28, 28))), 9))
    _cifar(root / "cifar_big", {b"data": np.zeros((3, 3072), dtype=np.uint8), b"labels": [0]})
    (root / "cifar_big" / "data_batch_1").write_bytes(
        pickle.dumps({b"data": np.zeros((2 * BOMB_LIMIT // 3072, 3072), dtype=np.uint8),
                      b"labels": [0] * (2 * BOMB_LIMIT // 3072)}))
    for split in ("train", "val"):
        (root / "imagenet_bomb" / split / "cat").mkdir(parents=True)
        (root / "imagenet_bomb" / split / "cat" / "a.png").write_bytes(_png_header(20000, 20000))
    csv_head = "device_id,temp_c,g_s,g0_s\n"
    (root / "fit.csv").write_text(csv_head + "".join(
        f"d{k},{t},{1e-4 * (1 + 0.001 * t)},{1e-4}\n" for k in range(3) for t in (25, 50, 85)))
    (root / "fit_huge.csv").write_text(csv_head + "".join(
        f"d{k},{t},1e300,1e-300\n" for k in range(3) for t in (25, 50, 85)))
    (root / "fit_subnormal.csv").write_text(csv_head + "".join(
        f"d{k},{t},5e-324,1e-320\n" for k in range(3) for t in (25, 50, 85)))
    (root / "fit_png_dir").mkdir()
    (root / "fit_png_dir" / "dev.residuals.png").mkdir()
    (root / "settings_huge_n.yaml").write_text("P2: {instances: 100000000}\n")
    (root / "settings_huge_size.yaml").write_text("P2: {size: 10000000}\n")
    (root / "settings_bad_type.yaml").write_text("P2: {size: big}\n")
    (root / "settings_negative.yaml").write_text("P2: {size: -4}\n")
    (root / "sweep_proc.yaml").write_text(_sweep_yaml("/proc/xbarsim-results"))
    _reproduce_store(root / "rs_good")
    _reproduce_store(root / "rs_big_part", part_bytes=2 * BOMB_LIMIT)
    _reproduce_store(root / "rs_script_seed", lambda m: {**m, "seed": "<script>x</script>"})
    _reproduce_store(root / "rs_no_ids", lambda m: {k: v for k, v in m.items() if k != "ids"})
    _reproduce_store(root / "rs_settings_text", lambda m: {**m, "settings": "x"})
    _reproduce_store(root / "rs_string_seed", lambda m: {**m, "seed": "7"})
    _reproduce_store(root / "rs_bad_rows", rows=[1, "x", [2]])
    _reproduce_store(root / "rs_string_values", rows=[
        {"id": "P2_thresholds", "quantity": "set_mean_v", "instance": 0, "value": "high"}])


R = "{root}"
#: Small, valid settings, so that a bad output path found late costs seconds, not hours.
SMALL_NS = ("--models", "mlp", "--sizes", "16", "--sigmas", "0.1", "--instances", "1",
            "--epochs", "1")
SMALL_VMM = ("--sizes", "4", "--sigmas", "0.1", "--crossbars", "1", "--weights", "1",
             "--inputs", "8", "--workers", "0", "--engine", "cpu")
SMALL_CAL = ("--size", "4", "--instances", "1", "--image-seeds", "1", "--image-size", "4",
             "--budget", "2", "--params", "slope_below", "--workers", "0", "--engine", "cpu")
FIT = ("--model", "temperature")
CASES: tuple[Case, ...] = (
    # thresholds
    _c("th-size-0", "thresholds", "--size", "0"),
    _c("th-size-neg", "thresholds", "--size", "-3"),
    _c("th-size-text", "thresholds", "--size", "abc"),
    _c("th-size-float", "thresholds", "--size", "1e3"),
    _c("th-size-huge", "thresholds", "--size", "20000"),
    _c("th-size-absurd", "thresholds", "--size", "9" * 30),
    _c("th-seed-neg", "thresholds", "--seed", "-1"),
    _c("th-seed-text", "thresholds", "--seed", "one"),
    _c("th-sigma-neg", "thresholds", "--sigma", "-0.5"),
    _c("th-sigma-nan", "thresholds", "--sigma", "nan"),
    _c("th-sigma-inf", "thresholds", "--sigma", "inf"),
    _c("th-sigma-text", "thresholds", "--sigma", "wide"),
    _c("th-preset", "thresholds", "--preset", "nope"),
    _c("th-config-missing", "thresholds", "--config", f"{R}/missing.yaml"),
    _c("th-config-dir", "thresholds", "--config", R),
    _c("th-config-binary", "thresholds", "--config", f"{R}/binary.yaml"),
    _c("th-config-latin1", "thresholds", "--config", f"{R}/latin1.yaml"),
    _c("th-config-yaml-error", "thresholds", "--config", f"{R}/broken.yaml"),
    _c("th-config-toml-error", "thresholds", "--config", f"{R}/broken.toml"),
    _c("th-config-list", "thresholds", "--config", f"{R}/list.yaml"),
    _c("th-config-empty", "thresholds", "--config", f"{R}/empty.yaml"),
    _c("th-config-unknown", "thresholds", "--config", f"{R}/unknown.yaml"),
    _c("th-config-value", "thresholds", "--config", f"{R}/badvalue.yaml"),
    _c("th-out-file", "thresholds", "--size", "4", "--out", f"{R}/afile"),
    _c("th-out-under-file", "thresholds", "--size", "4", "--out", f"{R}/afile/x"),
    _c("th-json-dir", "thresholds", "--size", "4", "--out", f"{R}/o1", "--json", R),
    _c("th-json-under-file", "thresholds", "--size", "4", "--json", f"{R}/afile/r.json"),
    _c("th-json-same-as-out", "thresholds", "--size", "4", "--out", f"{R}/o2", "--json", f"{R}/o2"),
    _c("th-max-memory-text", "thresholds", "--max-memory", "lots"),
    _c("th-max-memory-small", "thresholds", "--size", "64", "--max-memory", "1M"),
    _c("th-max-time-text", "thresholds", "--max-time", "soon"),
    _c("th-max-time-zero", "thresholds", "--max-time", "0s"),
    _c("th-max-time-short", "thresholds", "--size", "512", "--out", f"{R}/o3", "--max-time", "1s"),
    _c("pi-max-time-short", "program-image", "--size", "4000", "--max-time", "1m"),
    _c("ns-max-time-short", "network-study", "--out", f"{R}/o4", "--max-time", "1s"),
    _c("th-unknown-option", "thresholds", "--sizee", "4"),
    # program-image
    _c("pi-size-0", "program-image", "--size", "0"),
    _c("pi-size-huge", "program-image", "--size", "20000"),
    _c("pi-engine", "program-image", "--engine", "quantum"),
    _c("pi-image-missing", "program-image", "--size", "4", "--image", f"{R}/missing.png"),
    _c("pi-image-text", "program-image", "--size", "4", "--image", f"{R}/picture.png"),
    _c("pi-image-dir", "program-image", "--size", "4", "--image", R),
    _c("pi-out-file", "program-image", "--size", "4", "--out", f"{R}/afile"),
    _c("pi-config-binary", "program-image", "--config", f"{R}/binary.yaml"),
    _c("pi-seed-text", "program-image", "--seed", "0x10"),
    # mnist-slp
    _c("slp-seed-neg", "mnist-slp", "--seed", "-1"),
    _c("slp-seed-text", "mnist-slp", "--seed", "x"),
    _c("slp-epochs-0", "mnist-slp", "--epochs", "0"),
    _c("slp-epochs-huge", "mnist-slp", "--epochs", "100000000"),
    _c("slp-trials-0", "mnist-slp", "--trials", "0"),
    _c("slp-trials-huge", "mnist-slp", "--trials", "100000000"),
    _c("slp-errors-text", "mnist-slp", "--errors", "a,b"),
    _c("slp-errors-range", "mnist-slp", "--errors", "1.5"),
    _c("slp-errors-empty", "mnist-slp", "--errors", ","),
    _c("slp-engine", "mnist-slp", "--engine", "nope"),
    _c("slp-mnist-missing", "mnist-slp", "--mnist-dir", f"{R}/missing"),
    _c("slp-mnist-file", "mnist-slp", "--mnist-dir", f"{R}/afile"),
    _c("slp-mnist-labels", "mnist-slp", "--mnist-dir", f"{R}/mnist_labels", "--epochs", "1"),
    _c("slp-mnist-gzip", "mnist-slp", "--mnist-dir", f"{R}/mnist_gzip", "--epochs", "1"),
    _c("slp-mnist-trunc", "mnist-slp", "--mnist-dir", f"{R}/mnist_trunc", "--epochs", "1"),
    _c("slp-out-file", "mnist-slp", "--out", f"{R}/afile"),
    _c("slp-json-dir", "mnist-slp", "--epochs", "1", "--trials", "1", "--json", R),
    _c("slp-max-memory", "mnist-slp", "--max-memory", "1K"),
    _c("slp-lines", "mnist-slp", "--lines", "copper"),
    _c("slp-periphery", "mnist-slp", "--periphery", "thesis-3bit"),
    # network-study
    _c("ns-models", "network-study", "--models", "transformer"),
    _c("ns-models-empty", "network-study", "--models", ","),
    _c("ns-sizes-0", "network-study", "--sizes", "0"),
    _c("ns-sizes-text", "network-study", "--sizes", "big"),
    _c("ns-sizes-huge", "network-study", "--sizes", "100000"),
    _c("ns-sigmas-neg", "network-study", "--sigmas", "-0.1"),
    _c("ns-sigmas-nan", "network-study", "--sigmas", "nan"),
    _c("ns-zetas-1", "network-study", "--zetas", "1"),
    _c("ns-algorithms", "network-study", "--algorithms", "magic"),
    _c("ns-instances-0", "network-study", "--instances", "0"),
    _c("ns-instances-huge", "network-study", "--instances", "100000000"),
    _c("ns-epochs-0", "network-study", "--epochs", "0"),
    _c("ns-epochs-huge", "network-study", "--epochs", "100000000"),
    _c("ns-workers-neg", "network-study", "--workers", "-1"),
    _c("ns-lines", "network-study", "--lines", ""),
    _c("ns-periphery", "network-study", "--periphery", "None"),
    _c("ns-n-test-0", "network-study", "--n-test", "0"),
    _c("ns-seed-neg", "network-study", "--seed", "-2"),
    _c("ns-engine", "network-study", "--engine", "nope"),
    _c("ns-cifar-missing", "network-study", "--cifar10-dir", f"{R}/missing"),
    _c("ns-cifar-exploit", "network-study", "--cifar10-dir", f"{R}/cifar_exploit"),
    _c("ns-cifar-count", "network-study", "--cifar10-dir", f"{R}/cifar_count"),
    _c("ns-cifar-garbage", "network-study", "--cifar10-dir", f"{R}/cifar_garbage"),
    _c("ns-out-file", "network-study", "--out", f"{R}/afile"),
    _c("ns-json-dir", "network-study", *SMALL_NS, "--json", R),
    # vmm-study
    _c("vmm-sizes-1", "vmm-study", "--sizes", "1"),
    _c("vmm-sizes-huge", "vmm-study", "--sizes", "5000"),
    _c("vmm-sizes-text", "vmm-study", "--sizes", "a"),
    _c("vmm-sigmas-neg", "vmm-study", "--sigmas", "-1"),
    _c("vmm-targets-0", "vmm-study", "--targets", "0"),
    _c("vmm-targets-1", "vmm-study", "--targets", "1"),
    _c("vmm-algorithms", "vmm-study", "--algorithms", "x"),
    _c("vmm-crossbars-0", "vmm-study", "--crossbars", "0"),
    _c("vmm-inputs-0", "vmm-study", "--inputs", "0"),
    _c("vmm-inputs-huge", "vmm-study", "--inputs", "10000000"),
    _c("vmm-seed-neg", "vmm-study", "--seed", "-1"),
    _c("vmm-engine", "vmm-study", "--engine", "x"),
    _c("vmm-product", "vmm-study", "--sizes", "1024", "--crossbars", "400", "--weights", "400"),
    _c("vmm-results-file", "vmm-study", *SMALL_VMM, "--results", f"{R}/afile"),
    _c("vmm-json-dir", "vmm-study", *SMALL_VMM, "--json", R),
    _c("vmm-workers-neg", "vmm-study", "--workers", "-1"),
    # sweep
    _c("sw-missing", "sweep", f"{R}/missing.yaml"),
    _c("sw-dir", "sweep", R),
    _c("sw-binary", "sweep", f"{R}/binary.yaml"),
    _c("sw-latin1", "sweep", f"{R}/latin1.yaml"),
    _c("sw-yaml-error", "sweep", f"{R}/broken.yaml"),
    _c("sw-list", "sweep", f"{R}/list.yaml"),
    _c("sw-empty", "sweep", f"{R}/empty.yaml"),
    _c("sw-unknown", "sweep", f"{R}/unknown.yaml"),
    _c("sw-bad-size", "sweep", f"{R}/sweep_bad_size.yaml", "--workers", "0"),
    _c("sw-results-file", "sweep", f"{R}/sweep_results_file.yaml", "--workers", "0"),
    _c("sw-engine-gpu", "sweep", f"{R}/sweep_gpu.yaml", "--workers", "0"),
    _c("sw-huge", "sweep", f"{R}/sweep_huge.yaml", "--workers", "0"),
    _c("sw-seed-neg", "sweep", f"{R}/sweep_seed.yaml", "--workers", "0"),
    _c("sw-nonjson-meta", "sweep", f"{R}/sweep_nonjson.yaml", "--workers", "0"),
    _c("sw-workers-neg", "sweep", f"{R}/sweep_bad_size.yaml", "--workers", "-1"),
    # plot
    _c("plot-missing", "plot", f"{R}/missing"),
    _c("plot-file", "plot", f"{R}/afile"),
    _c("plot-not-dataset", "plot", f"{R}/not_a_dataset", "--out", f"{R}/p1"),
    _c("plot-nonjson-meta", "plot", f"{R}/res_nonjson", "--out", f"{R}/p2"),
    _c("plot-list-meta", "plot", f"{R}/res_listmeta", "--out", f"{R}/p3"),
    _c("plot-corrupt-part", "plot", f"{R}/res_corrupt", "--out", f"{R}/p4"),
    _c("plot-truncated-part", "plot", f"{R}/res_trunc", "--out", f"{R}/p5"),
    _c("plot-foreign-part", "plot", f"{R}/res_foreign", "--out", f"{R}/p6"),
    _c("plot-empty", "plot", f"{R}/res_empty", "--out", f"{R}/p7"),
    _c("plot-out-file", "plot", f"{R}/res_foreign", "--out", f"{R}/afile"),
    # calibrate
    _c("cal-budget-text", "calibrate", "--budget", "x"),
    _c("cal-budget-0", "calibrate", "--budget", "0"),
    _c("cal-params-unknown", "calibrate", "--params", "x"),
    _c("cal-params-empty", "calibrate", "--params", ""),
    _c("cal-params-bounds", "calibrate", "--params", "knee=-1:1"),
    _c("cal-size-1", "calibrate", "--size", "1"),
    _c("cal-size-huge", "calibrate", "--size", "513"),
    _c("cal-instances-0", "calibrate", "--instances", "0"),
    _c("cal-store-file", "calibrate", "--store", f"{R}/afile"),
    _c("cal-image-seeds-0", "calibrate", "--image-seeds", "0"),
    _c("cal-image-size-1", "calibrate", "--image-size", "1"),
    _c("cal-seed-neg", "calibrate", "--seed", "-1"),
    _c("cal-engine", "calibrate", "--engine", "x"),
    _c("cal-out-file", "calibrate", "--out", f"{R}/afile"),
    _c("cal-out-under-file", "calibrate", "--out", f"{R}/afile/calibration"),
    _c("cal-json-dir", "calibrate", *SMALL_CAL, "--json", R),
    _c("cal-max-memory", "calibrate", "--max-memory", "10K"),
    # commands of issues 10, 12 and 13
    _c("vc-sizes-0", "vmm-cost", "--sizes", "0"),
    _c("vc-kind", "vmm-cost", "--kind", "x"),
    _c("vc-json-dir", "vmm-cost", "--json", R),
    _c("oc-out-file", "offset-compensation", "--out", f"{R}/afile"),
    _c("oc-json-dir", "offset-compensation", "--json", R),
    _c("oc-tias-0", "offset-compensation", "--tias", "0"),
    _c("oc-tias-huge", "offset-compensation", "--tias", "100000000"),
    _c("oc-seeds-huge", "offset-compensation", "--sweep-seeds", "100000000"),
    _c("oc-engine", "offset-compensation", "--engine", "x"),
    _c("mc-out-file", "mlp-chip", "--out", f"{R}/afile"),
    _c("mc-json-dir", "mlp-chip", "--epochs", "1", "--json", R),
    _c("mc-epochs-0", "mlp-chip", "--epochs", "0"),
    _c("mc-epochs-huge", "mlp-chip", "--epochs", "100000000"),
    _c("mc-mnist-labels", "mlp-chip", "--mnist-dir", f"{R}/mnist_labels"),
    _c("ir-rows-0", "ir-drop", "--rows", "0"),
    _c("ir-rows-huge", "ir-drop", "--rows", "100000", "--cols", "100000"),
    _c("ir-r-neg", "ir-drop", "--r-row", "-1"),
    _c("ir-json-dir", "ir-drop", "--rows", "4", "--cols", "4", "--json", R),
    _c("irs-sizes-huge", "irdrop-study", "--sizes", "100000"),
    _c("irs-instances-huge", "irdrop-study", "--instances", "100000000"),
    _c("irs-inputs-huge", "irdrop-study", "--inputs", "1000000000"),
    _c("irs-out-file", "irdrop-study", "--out", f"{R}/afile"),
    _c("irs-json-dir", "irdrop-study", "--json", R),
    _c("de-config-binary", "device-effects", "--config", f"{R}/binary.yaml"),
    _c("de-instances-huge", "device-effects", "--instances", "100000000"),
    _c("de-temp-nan", "device-effects", "--temp-c", "nan"),
    _c("de-json-dir", "device-effects", "--json", R),
    _c("fd-config-latin1", "fit-device", "--config", f"{R}/latin1.yaml"),
    _c("fd-out-file", "fit-device", "--out", f"{R}/afile"),
    _c("fd-json-dir", "fit-device", "--json", R),
    _c("fd-model", "fit-device", "--model", "x"),
    _c("ts-model", "temperature-study", "--models", "foo"),
    _c("ts-mapping", "temperature-study", "--mappings", "rm9"),
    _c("ts-k-0", "temperature-study", "--k", "0"),
    _c("ts-temps-hot", "temperature-study", "--temps", "25:200:5"),
    _c("ts-approach", "temperature-study", "--approaches", "7"),
    _c("ts-cifar-missing", "temperature-study", "--cifar10-dir", f"{R}/missing"),
    _c("ts-epochs-huge", "temperature-study", "--epochs", "100000000"),
    _c("ts-memory", "temperature-study", "--max-memory", "1M"),
    _c("ts-out-file", "temperature-study", "--out", f"{R}/afile"),
    _c("ts-json-dir", "temperature-study", "--json", R),
    _c("ds-ppm", "defect-study", "--ppm", "2000000"),
    _c("ds-kind", "defect-study", "--kinds", "weird"),
    _c("ds-mitigation", "defect-study", "--mitigations", "foo"),
    _c("ds-instances-0", "defect-study", "--instances", "0"),
    _c("ds-instances-huge", "defect-study", "--instances", "100000000"),
    _c("ds-seed-neg", "defect-study", "--seed", "-1"),
    _c("nls-balancing", "nonlinearity-study", "--balancing", "maybe"),
    _c("nls-mapping", "nonlinearity-study", "--mappings", "fm9"),
    _c("nls-out-file", "nonlinearity-study", "--out", f"{R}/afile"),
    _c("nls-json-dir", "nonlinearity-study", "--json", R),
    # hardening round 2, class 1: markup in a store's metadata
    _c("rep-meta-script-seed", "report", f"{R}/rs_script_seed", "--out", f"{R}/h1.html"),
    # class 2: unbounded or blocking input files
    _c("de-config-devzero", "device-effects", "--config", "/dev/zero"),
    _c("fd-data-devzero", "fit-device", "/dev/zero", *FIT, "--out", f"{R}/h2.yaml"),
    _c("th-config-fifo", "thresholds", "--config", f"{R}/fifo"),
    _c("fd-data-fifo", "fit-device", f"{R}/fifo", *FIT, "--out", f"{R}/h3.yaml"),
    _c("rep-settings-fifo", "reproduce", "--only", "P2", "--settings", f"{R}/fifo",
       "--out", f"{R}/h4"),
    _small("th-config-big", BOMB_LIMIT, "thresholds", "--config", f"{R}/big.yaml"),
    _small("slp-mnist-gzip-bomb", BOMB_LIMIT, "mnist-slp", "--mnist-dir", f"{R}/mnist_bomb",
           "--epochs", "1"),
    _small("mc-mnist-gzip-bomb", BOMB_LIMIT, "mlp-chip", "--mnist-dir", f"{R}/mnist_bomb",
           "--epochs", "1"),
    _small("ns-cifar-big", BOMB_LIMIT, "network-study", "--cifar10-dir", f"{R}/cifar_big"),
    _small("ts-cifar-big", BOMB_LIMIT, "temperature-study", "--cifar10-dir", f"{R}/cifar_big"),
    _small("rep-part-big", BOMB_LIMIT, "report", f"{R}/rs_big_part", "--out", f"{R}/h5.html"),
    _c("ts-imagenet-bomb", "temperature-study", "--imagenet-dir", f"{R}/imagenet_bomb",
       "--models", "convnet", "--epochs", "1"),
    # class 3: counts and ranges that bypassed the guard
    _c("ts-temps-tiny-step", "temperature-study", "--temps", "25:100:1e-7"),
    _c("ts-temps-inf", "temperature-study", "--temps", "25:inf:5"),
    _c("irs-sizes-inputs", "irdrop-study", "--sizes", "700", "--inputs", "1000000"),
    _c("rep-settings-huge-n", "reproduce", "--only", "P2", "--settings",
       f"{R}/settings_huge_n.yaml", "--out", f"{R}/h6"),
    _c("rep-settings-huge-size", "reproduce", "--only", "P2", "--settings",
       f"{R}/settings_huge_size.yaml", "--out", f"{R}/h7"),
    _c("oc-sigma-inf", "offset-compensation", "--sigma-mv", "inf"),
    _c("oc-sigma-1e308", "offset-compensation", "--sigma-mv", "1e308"),
    _c("oc-limit-tiny", "offset-compensation", "--limit-mv", "1e-300"),
    _c("de-temp-cold", "device-effects", "--temp-c", "-300"),
    _c("de-temp-hot", "device-effects", "--temp-c", "151"),
    _c("slp-instances-huge", "mnist-slp", "--instances", "20000"),
    _c("th-max-memory-above-machine", "thresholds", "--size", "4", "--max-memory", "1000T"),
    # class 4: files left behind on refusal
    _c("rep-settings-bad-type", "reproduce", "--only", "P2", "--settings",
       f"{R}/settings_bad_type.yaml", "--out", f"{R}/h8"),
    _c("rep-settings-negative", "reproduce", "--only", "P2", "--settings",
       f"{R}/settings_negative.yaml", "--out", f"{R}/h9"),
    _c("fd-json-unwritable", "fit-device", f"{R}/fit.csv", *FIT, "--out", f"{R}/h10.yaml",
       "--json", f"{R}/afile/r.json"),
    _c("rep-summary-unwritable", "report", f"{R}/rs_good", "--out", f"{R}/h11.html",
       "--summary", f"{R}/afile/s.json"),
    _c("rep-out-empty", "reproduce", "--only", "P2", "--out", ""),
    # class 5: tracebacks
    _c("rep-meta-no-ids", "report", f"{R}/rs_no_ids", "--out", f"{R}/h12.html"),
    _c("rep-meta-settings-text", "report", f"{R}/rs_settings_text", "--out", f"{R}/h13.html"),
    _c("rep-meta-string-seed", "report", f"{R}/rs_string_seed", "--out", f"{R}/h14.html"),
    _c("rep-rows-not-objects", "report", f"{R}/rs_bad_rows", "--out", f"{R}/h15.html"),
    _c("rep-rows-string-values", "report", f"{R}/rs_string_values", "--out", f"{R}/h16.html"),
    _c("rep-out-under-file", "report", f"{R}/rs_good", "--out", f"{R}/afile/r.html"),
    _c("fd-csv-huge-values", "fit-device", f"{R}/fit_huge.csv", *FIT, "--out", f"{R}/h17.yaml"),
    _c("fd-csv-subnormal", "fit-device", f"{R}/fit_subnormal.csv", *FIT, "--out", f"{R}/h18.yaml"),
    _c("fd-sidecar-is-dir", "fit-device", f"{R}/fit.csv", *FIT, "--out",
       f"{R}/fit_png_dir/dev.yaml"),
    _c("ts-results-under-file", "temperature-study", "--results", f"{R}/afile/res"),
    _c("rep-settings-binary", "reproduce", "--only", "P2", "--settings", f"{R}/binary.yaml",
       "--out", f"{R}/h19"),
    _c("sw-results-proc", "sweep", f"{R}/sweep_proc.yaml", "--workers", "0"),
    # class 6: outputs that overwrite inputs or each other
    _c("fd-json-same-as-out", "fit-device", f"{R}/fit.csv", *FIT, "--out", f"{R}/h20.yaml",
       "--json", f"{R}/h20.yaml"),
    _c("fd-json-is-input", "fit-device", f"{R}/fit.csv", *FIT, "--out", f"{R}/h21.yaml",
       "--json", f"{R}/fit.csv"),
    _c("rep-summary-same-as-out", "report", f"{R}/rs_good", "--out", f"{R}/h22.html",
       "--summary", f"{R}/h22.html"),
    # the evaluate command: the same temperature range, bounded counts and files
    _c("ev-temps-hot", "evaluate", "--temps", "400"),
    _c("ev-temps-cold", "evaluate", "--temps", "25,-300"),
    _c("ev-ages-neg", "evaluate", "--ages-h", "-1"),
    _c("ev-ages-inf", "evaluate", "--ages-h", "inf"),
    _c("ev-instances-huge", "evaluate", "--instances", "100000000"),
    _c("ev-weights-fifo", "evaluate", "--model", "m:f", "--weights", f"{R}/fifo"),
    _c("ev-spec-devzero", "evaluate", "--spec", "/dev/zero"),
)

#: The cases of the second hardening round (for the before/after table).
ROUND_2 = tuple(CASES[[c.name for c in CASES].index("rep-meta-script-seed"):])


@dataclass
class Outcome:
    """What one case did."""

    code: int | None
    stderr: str
    created: list[str]
    exception: str | None

    def violations(self) -> list[str]:
        """Ways the outcome breaks the contract (empty: it meets it)."""
        problems = []
        if self.exception is not None:
            problems.append(f"raised {self.exception}")
        if self.code != 2:
            problems.append(f"exit code {self.code}")
        lines = self.stderr.splitlines()
        if lines[:1] and lines[0].startswith("estimated: "):
            lines = lines[1:]  # the run's estimate, printed before reading its data files
        if len(lines) != 1 or not lines[0].startswith("error:"):
            problems.append(f"stderr {self.stderr[-300:]!r}")
        if "Traceback" in self.stderr:
            problems.append("traceback")
        if self.created:
            problems.append(f"created {self.created[:3]}")
        return problems


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run_case(main: Callable[[list[str]], int], argv: list[str], root: Path) -> Outcome:
    """Run ``main(argv)`` in ``root`` with stdout and stderr captured."""
    before = _snapshot(root)
    err, out = io.StringIO(), io.StringIO()
    code, exception = None, None
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:  # a traceback is a contract violation
                exception = f"{type(exc).__name__}: {exc}"[:300]
                traceback.print_exc(file=err)
    finally:
        os.chdir(cwd)
    created = sorted(_snapshot(root) - before)
    return Outcome(code, err.getvalue(), created, exception)


class CaseTimeout(Exception):
    """A case ran past the report's time limit (work started instead of a refusal)."""


if __name__ == "__main__":  # pragma: no cover - a report over the whole table
    import resource
    import signal
    import tempfile

    # an older checkout may start the oversized work the table asks for: cap it
    resource.setrlimit(resource.RLIMIT_AS, (6 * 1024**3, 6 * 1024**3))

    def _alarm(signum: int, frame: object) -> None:
        raise CaseTimeout("still running after 60 s")

    signal.signal(signal.SIGALRM, _alarm)
    from xbarsim.cli import main as cli_main

    def timed_main(argv: list[str]) -> int:
        signal.alarm(60)
        try:
            return cli_main(argv)
        finally:
            signal.alarm(0)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_fixtures(root)
        bad = 0
        for case in CASES:
            with case.limited():
                outcome = run_case(timed_main, case.args(root), root)
            problems = outcome.violations()
            if problems:
                bad += 1
                print(f"FAIL {case.name}: {'; '.join(problems)}"[:400], file=sys.__stderr__)
        print(f"{len(CASES) - bad} of {len(CASES)} meet the contract", file=sys.__stderr__)
        sys.exit(0)

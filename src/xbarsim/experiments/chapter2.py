"""Shared machinery of the chapter-2 studies (temperature, defects, nonlinearity; layer 7).

* data: the embedded 8 x 8 digits up-sampled by pixel repetition (as ``network-study``),
  CIFAR-10 from local pickles, or an ImageNet-style folder
  (:func:`xbarsim.nn.image_folder.load_image_folder`);
* models: the thesis ConvNet and a ResNet-18 in torchvision's layout
  (:mod:`xbarsim.nn.benchmarks`), trained here (Adam, cross-entropy);
* seeds by point identity: :func:`point_seed` hashes the root seed and the point's
  canonical parameters (never its grid position), so adding or reordering grid values
  does not change any other point (through :func:`xbarsim.seeding.point_seed`).
* :func:`run_jobs`: each job (one grid point, returning result rows) runs in process or on
  Dask (a local cluster of ``workers`` processes or ``scheduler``); with ``results`` every
  finished job is written atomically as one Parquet part, and ``resume`` skips finished
  jobs.
"""

from __future__ import annotations

import json
import os
import re
import uuid
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xbarsim import seeding
from xbarsim.errors import XbarsimInputError
from xbarsim.progress import progress_bar
from xbarsim.provenance import provenance
from xbarsim.validation import check_positive_int, read_text

if TYPE_CHECKING:
    from torch import nn

    from xbarsim.nn.data import Dataset

MODELS = ("convnet", "resnet18")
DATASETS = ("digits", "cifar10", "folder")
META_NAME = "_xbarsim_study.json"
PART_PREFIX = "part-"


def check_names(field: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> tuple:
    """Refuse an empty list or a name outside ``allowed`` (one line naming ``field``)."""
    if not values or any(v not in allowed for v in values):
        raise XbarsimInputError(
            f"{field}: each must be one of {', '.join(allowed)}, got {list(values)}"
        )
    return values


def point_seed(root: int, **params: Any) -> int:
    """Seed of a study point from the root seed and its canonical parameters (keywords), by
    :func:`xbarsim.seeding.point_seed`."""
    return seeding.point_seed(root, params)


@dataclass(frozen=True)
class DataSpec:
    """Which data a study uses.

    Attributes
    ----------
    dataset : {"digits", "cifar10", "folder"}
    cifar10_dir : str or None
    folder_dir : str or None
        ImageNet-style folder (``train/<class>``, ``val/<class>``) for dataset "folder".
    image_size : int
        Side the folder's images are resized to (pixels).
    upsample : int
        Pixel repetition of the 8 x 8 digits.
    n_train, n_test : int or None
        Use only the first images (None: all).
    """

    dataset: str = "digits"
    cifar10_dir: str | None = None
    folder_dir: str | None = None
    image_size: int = 64
    upsample: int = 2
    n_train: int | None = None
    n_test: int | None = None

    def validate(self) -> DataSpec:
        """Check the fields (and that a CIFAR-10 directory exists) before any work."""
        if self.dataset not in DATASETS:
            raise XbarsimInputError(
                f"dataset: must be one of {', '.join(DATASETS)}, got {self.dataset!r}"
            )
        if self.dataset == "cifar10":
            if self.cifar10_dir is None:
                raise XbarsimInputError("cifar10_dir: required for dataset 'cifar10'")
            if not Path(self.cifar10_dir).is_dir():
                raise XbarsimInputError(f"cifar10_dir: {self.cifar10_dir} is not a directory")
        if self.dataset == "folder":
            if self.folder_dir is None:
                raise XbarsimInputError("imagenet_dir: required for dataset 'folder'")
            if not Path(self.folder_dir).is_dir():
                raise XbarsimInputError(f"imagenet_dir: {self.folder_dir} is not a directory")
        check_positive_int("image_size", self.image_size)
        check_positive_int("upsample", self.upsample)
        for name in ("n_train", "n_test"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))
        return self

    def load(self, seed: int = 0) -> Dataset:
        """The data (digits grey levels up-sampled, CIFAR-10 or an image folder)."""
        from xbarsim.nn.data import Dataset, load_cifar10, load_digits
        from xbarsim.nn.image_folder import load_image_folder

        if self.dataset == "folder":
            data = load_image_folder(self.folder_dir or "", self.image_size)
        elif self.dataset == "cifar10":
            data = load_cifar10(self.cifar10_dir or "")
        else:
            d = load_digits(seed=seed, binarize_threshold=None)
            k = self.upsample

            def up(x: np.ndarray) -> np.ndarray:
                return np.ascontiguousarray(x.repeat(k, axis=2).repeat(k, axis=3))

            data = Dataset("digits", up(d.x_train), d.y_train, up(d.x_test), d.y_test)
        return data.subset(self.n_train, self.n_test)


def build_model(name: str, data: Dataset, width: int | None = None) -> nn.Module:
    """Untrained ``"convnet"`` (thesis ConvNet) or ``"resnet18"`` for ``data``'s images.

    ``width``: ResNet-18 stage width (default 8 for the small digits, 64 otherwise). On the
    digits the ConvNet is sized down to (16, 32) maps and 96 FC1 neurons (thesis: 65, 120,
    390) so the studies fit a laptop; the layer structure is the thesis's.
    """
    from xbarsim.nn.benchmarks import resnet18, thesis_convnet

    channels, height, _ = data.image_shape
    small = data.name == "digits"
    if name == "convnet":
        if small:
            return thesis_convnet(channels, height, data.classes, maps=(16, 32), hidden=96)
        return thesis_convnet(channels, height, data.classes)
    if name == "resnet18":
        w = width or (8 if small else 64)
        return resnet18(channels, data.classes, width=w)
    raise XbarsimInputError(f"models: unknown {name!r}; allowed: {', '.join(MODELS)}")


def train_baseline(
    name: str,
    data: Dataset,
    seed: int,
    epochs: int,
    lr: float,
    batch_size: int,
    width: int | None = None,
) -> tuple[nn.Module, float]:
    """Train the model ``name`` (seeded by its point identity); returns it and its accuracy."""
    from xbarsim.nn.training import accuracy, seeded, train

    s = point_seed(seed, model=name, dataset=data.name, role="baseline")
    with seeded(s):
        model = build_model(name, data, width)
    train(model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=s, threads=1)
    return model, accuracy(model, data.x_test, data.y_test)


def drop_stats(drops: np.ndarray) -> dict[str, Any]:
    """Mean, std and 5/50/95 % quantiles of accuracy drops (fractions)."""
    d = np.asarray(drops, dtype=np.float64)
    q = np.quantile(d, [0.05, 0.5, 0.95])
    return {
        "drop_mean": float(d.mean()),
        "drop_std": float(d.std()),
        "drop_quantiles": {"5": float(q[0]), "50": float(q[1]), "95": float(q[2])},
    }


@dataclass(frozen=True)
class Job:
    """One grid point: ``fn(*args)`` returns its result rows (JSON-ready dicts)."""

    key: str
    fn: Callable[..., list[dict[str, Any]]]
    args: tuple


class PartStore:
    """A study's results directory: a metadata file and one Parquet part per finished job.

    The metadata file holds the study's parameters and the ``provenance`` of the run that
    created the directory; a resumed run must match the parameters only.
    """

    def __init__(self, path: str | Path, meta: dict[str, Any]) -> None:
        self.path = Path(path)
        self.meta = json.loads(json.dumps(meta, default=str))

    def check(self, resume: bool) -> None:
        """Refuse a directory of another study or one holding parts without ``resume``."""
        p = self.path
        if not p.exists():
            return
        if not p.is_dir():
            raise XbarsimInputError(f"results: {p} exists and is not a directory")
        entries = [e for e in p.iterdir() if not e.name.startswith(".tmp-")]
        if not entries:
            return
        meta = p / META_NAME
        try:
            stored = json.loads(read_text(meta, "results"))  # bounded, regular file
        except (OSError, ValueError):
            raise XbarsimInputError(
                f"results: {p} is not a results directory of this study; choose another"
            ) from None
        if not isinstance(stored, dict) or {
            k: v for k, v in stored.items() if k != "provenance"
        } != self.meta:
            raise XbarsimInputError(
                f"results: {p} was made with different study parameters; choose another"
            )
        if self.finished() and not resume:
            raise XbarsimInputError(
                f"results: {p} already holds results; pass --resume or choose another"
            )

    def finished(self) -> set[str]:
        """Keys of finished jobs."""
        n = len(PART_PREFIX)
        return {q.stem[n:] for q in self.path.glob(f"{PART_PREFIX}*.parquet")}

    def init(self) -> None:
        """Create the directory and the metadata file."""
        self.path.mkdir(parents=True, exist_ok=True)
        meta = self.path / META_NAME
        if not meta.exists():
            seed = self.meta.get("seed")
            content = {
                **self.meta,
                "provenance": provenance(
                    seed if isinstance(seed, int) else None, {"study": self.meta}
                ),
            }
            self._atomic(meta, json.dumps(content, indent=1).encode())

    def _atomic(self, final: Path, data: bytes) -> None:
        tmp = final.parent / f".tmp-{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        os.replace(tmp, final)

    def write(self, key: str, rows: list[dict[str, Any]]) -> None:
        """Write one job's rows (JSON per row) atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"job": [key] * len(rows), "row": [json.dumps(r) for r in rows]})
        tmp = self.path / f".tmp-{uuid.uuid4().hex}"
        pq.write_table(table, tmp)
        os.replace(tmp, self.path / f"{PART_PREFIX}{key}.parquet")

    def read(self, key: str) -> list[dict[str, Any]]:
        """Rows of a finished job."""
        import pyarrow.parquet as pq

        table = pq.read_table(self.path / f"{PART_PREFIX}{key}.parquet")
        return [json.loads(r) for r in table.column("row").to_pylist()]


def check_workers(workers: object) -> int:
    """Validate the number of local Dask workers (0 = in process)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise XbarsimInputError(f"workers: must be an integer >= 0, got {workers!r}")
    return workers


def run_jobs(
    jobs: list[Job],
    workers: int = 0,
    scheduler: str | None = None,
    store: PartStore | None = None,
    resume: bool = False,
    progress: bool = False,
    label: str = "points",
) -> dict[str, list[dict[str, Any]]]:
    """Rows of every job by key, in process or on Dask (module docstring)."""
    check_workers(workers)
    out: dict[str, list[dict[str, Any]]] = {}
    if store is not None:
        store.check(resume)
        store.init()
        for key in store.finished() if resume else set():
            out[key] = store.read(key)
    todo = [j for j in jobs if j.key not in out]

    digest = WarningDigest()

    def finish(job: Job, result: tuple[list[dict[str, Any]], list[tuple[type, str]]]) -> None:
        rows, caught = result
        digest.add(caught)
        out[job.key] = rows
        if store is not None:
            store.write(job.key, rows)

    with progress_bar(len(todo), label, progress) as advance:
        if not todo:
            return out
        if workers == 0 and scheduler is None:
            for job in todo:
                finish(job, capture_warnings(job.fn, *job.args))
                advance(1)
            digest.emit()
            return out
        from distributed import as_completed

        from xbarsim.experiments.cluster import connect

        client, cluster = connect(scheduler, workers)
        # local workers run one task at a time and so can record their warnings; a remote
        # scheduler's workers may run several tasks in threads, where recording is unsafe
        wrap = cluster is not None
        try:
            futures = {
                client.submit(
                    capture_warnings if wrap else job.fn,
                    *((job.fn, *job.args) if wrap else job.args),
                    key=f"xbarsim-{uuid.uuid4().hex[:8]}-{job.key}", pure=False,
                ): job
                for job in todo
            }
            for future in as_completed(futures):
                result = future.result()
                finish(futures[future], result if wrap else (result, []))
                advance(1)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    digest.emit()
    return out


def capture_warnings(
    fn: Callable[..., list[dict[str, Any]]], *args: Any
) -> tuple[list[dict[str, Any]], list[tuple[type, str]]]:
    """``fn(*args)`` and the warnings it raised, as (category, message) pairs."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = fn(*args)
    return rows, [(w.category, str(w.message)) for w in caught]


#: Numbers in a warning's text (values that change from one job to the next).
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class WarningDigest:
    """The warnings of a study's jobs, said once per kind: warnings whose texts differ only
    in their numbers (e.g. the same extrapolation seen by every chip instance with its own
    range) are one kind, said with the first text and how many times it came."""

    def __init__(self) -> None:
        self.kinds: dict[tuple[type, str], list[Any]] = {}

    def add(self, caught: list[tuple[type, str]]) -> None:
        """Count ``caught`` (category, message) pairs."""
        for category, message in caught:
            entry = self.kinds.setdefault((category, _NUMBER.sub("#", message)), [message, 0])
            entry[1] += 1

    def emit(self) -> None:
        """Warn once per kind, in the order the kinds first came."""
        for (category, _), (message, count) in self.kinds.items():
            more = f" (and {count - 1} more like it)" if count > 1 else ""
            warnings.warn(f"{message}{more}", category, stacklevel=3)
        self.kinds.clear()


def open_study(
    setup: Any, study: str, workers: int, results: str | None, resume: bool
) -> tuple[PartStore | None, Any]:
    """Shared opening of a chapter-2 study: check the workers, open (and check) the Parquet
    store of ``results`` for ``study``, then load the data.

    Parameters
    ----------
    setup : dataclass
        The study's validated setup (with ``data`` and ``seed``).
    study : str
        Study name recorded in the store's metadata.
    workers : int
        Local Dask workers (0: in this process).
    results : str or None
        Parquet results directory.
    resume : bool
        Skip jobs that finished in an earlier run.

    Returns
    -------
    (PartStore or None, loaded data)
    """
    check_workers(workers)
    store = None
    if results is not None:
        store = PartStore(results, {"study": study, **asdict(setup)})
        store.check(resume)
    return store, setup.data.load(setup.seed)


def train_baselines(setup: Any, data: Any) -> dict[str, tuple[Any, float]]:
    """Train each model of ``setup`` on ``data`` (:func:`train_baseline`); name -> (model,
    software accuracy)."""
    return {
        name: train_baseline(
            name, data, setup.seed, setup.epochs, setup.lr, setup.batch_size, setup.width
        )
        for name in setup.models
    }


def data_fields(data: Any) -> dict[str, Any]:
    """What a study's accuracies were measured on: ``dataset`` (name), ``test_images`` and
    ``image_accuracy``, the accuracy one test image is worth (fraction)."""
    return {
        "dataset": data.name,
        "test_images": data.test_images,
        "image_accuracy": data.image_accuracy,
    }


@dataclass
class StudyResult:
    """Result of a chapter-2 study: cases (drops as fractions), per-model baselines and
    records, wall times (s) of its phases, and the data it was measured on
    (:func:`data_fields`)."""

    setup: Any
    cases: list[dict[str, Any]]
    models: dict[str, dict[str, Any]]
    seconds: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``{"dataset", "test_images", "image_accuracy", "cases": [...], "models": {...},
        "setup": {...}, "seconds": {...}}``."""
        return {
            **self.data,
            "cases": self.cases,
            "models": self.models,
            "setup": asdict(self.setup),
            "seconds": self.seconds,
        }

"""Parquet results store of a sweep: one file per finished task, written atomically.

A results directory holds ``_xbarsim_sweep.json`` (schema version, the study parameters
that fix the results and the provenance of the run that created it; read bounded and
validated by :class:`StoreMeta` when read) and
``part-<task>.parquet`` files (each checked to be a regular file within the data limit,
declaring rows within it, of :data:`SCHEMA`). Each part is written to a hidden
temporary file in the same directory and renamed into place, so a part either exists
whole or not at all; leftovers of an interrupted write (``.tmp-*``) are ignored by readers
(pyarrow skips names starting with ``.`` or ``_``) and removed on resume.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, ValidationError

from xbarsim import validation
from xbarsim.errors import XbarsimInputError, format_validation_error
from xbarsim.provenance import provenance
from xbarsim.validation import read_bytes

SCHEMA_VERSION = 2
META_NAME = "_xbarsim_sweep.json"
PART_PREFIX = "part-"

#: Columns of a results row and their Arrow types.
SCHEMA = pa.schema(
    [
        ("task", pa.string()),
        ("size", pa.int64()),
        ("sigma", pa.float64()),
        ("target", pa.float64()),
        ("algorithm", pa.string()),
        ("crossbar", pa.int64()),
        ("weight_set", pa.int64()),
        ("tuning_error_p99", pa.float64()),
        ("tuning_error_mean", pa.float64()),
        ("within_tolerance", pa.float64()),
        ("vmm_error_p99", pa.float64()),
        ("vmm_error_mean", pa.float64()),
        ("vmm_error_intrinsic_p99", pa.float64()),
        ("n_hs", pa.float64()),
        ("n_hs_final_pass", pa.float64()),
        ("pulses_per_device", pa.float64()),
        ("history_p99", pa.list_(pa.float64())),
        ("history_mean", pa.list_(pa.float64())),
        ("tuning_error_hist", pa.list_(pa.int64())),
        ("vmm_error_hist", pa.list_(pa.int64())),
    ]
)


class StoreMeta(BaseModel):
    """The metadata file of a results directory: schema version, study parameters and the
    provenance of the run that created it (absent in stores written before it was kept)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    schema_version: int
    study: dict[str, Any]
    provenance: dict[str, Any] | None = None


class ResultStore:
    """A sweep's results directory.

    Parameters
    ----------
    path : str or Path
        The dataset directory.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def meta_path(self) -> Path:
        """Path of the metadata file."""
        return self.path / META_NAME

    def check(self, meta: dict, resume: bool) -> None:
        """Raise :class:`XbarsimInputError` unless the path can take these results.

        Writes nothing. A missing path or an empty directory is fine; an existing dataset
        must carry this schema and the same ``meta``, and needs ``resume`` when it already
        holds parts.
        """
        p = self.path
        if not p.exists():
            return
        if not p.is_dir():
            raise XbarsimInputError(f"results: {p} exists and is not a directory")
        entries = [e for e in p.iterdir() if not e.name.startswith(".tmp-")]
        if not entries:
            return
        if not self.meta_path.is_file():
            raise XbarsimInputError(
                f"results: {p} is not an xbarsim sweep dataset (no {META_NAME}); "
                "choose an empty or new directory"
            )
        stored = self.stored_meta()
        study = stored.get("study")
        diff = sorted(
            k for k in meta if not isinstance(study, dict) or study.get(k) != meta[k]
        )
        if diff:
            raise XbarsimInputError(
                f"results: {p} was made with different study parameters ({', '.join(diff)}); "
                "choose another directory"
            )
        for part in self.parts():
            check_part(part)
        if self.parts() and not resume:
            raise XbarsimInputError(
                f"results: {p} already holds results; pass --resume to continue it "
                "or choose another directory"
            )

    def stored_meta(self) -> dict:
        """The metadata file's content, read bounded and validated by :class:`StoreMeta`."""
        raw = read_bytes(self.meta_path, "results", validation.MAX_TEXT_BYTES)
        try:
            stored = json.loads(raw)
        except ValueError:
            raise XbarsimInputError(f"results: {self.meta_path} is not JSON") from None
        if not isinstance(stored, dict) or stored.get("schema_version") != SCHEMA_VERSION:
            raise XbarsimInputError(
                f"results: {self.path} has a different schema version "
                f"(need {SCHEMA_VERSION}); choose another directory"
            )
        try:
            return StoreMeta.model_validate(stored).model_dump(exclude_unset=True)
        except ValidationError as exc:
            raise XbarsimInputError(
                f"results: {self.meta_path} has bad metadata ({format_validation_error(exc)})"
            ) from None

    def init(self, meta: dict) -> None:
        """Create the directory and metadata file (idempotent); remove stale temporaries.

        A path the system will not create (e.g. under ``/proc``) is one line.
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            for tmp in self.path.glob(".tmp-*"):
                tmp.unlink()
            if not self.meta_path.exists():
                seed = meta.get("seed")
                content = {
                    "schema_version": SCHEMA_VERSION,
                    "study": meta,
                    "provenance": provenance(
                        seed if isinstance(seed, int) else None, {"study": meta}
                    ),
                }
                self._atomic_write_bytes(self.meta_path, json.dumps(content, indent=1).encode())
        except OSError as exc:
            raise XbarsimInputError(
                f"results: cannot create {self.path}: {exc.strerror}"
            ) from None

    def remove_empty(self, remove_dir: bool) -> None:
        """Undo :meth:`init` on a dataset that received no part (a run that failed first).

        Removes the metadata file and temporaries, then, with ``remove_dir``, the directory
        if nothing else is left in it.
        """
        for tmp in self.path.glob(".tmp-*"):
            tmp.unlink()
        self.meta_path.unlink(missing_ok=True)
        if remove_dir and self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()

    def parts(self) -> list[Path]:
        """Finished part files, sorted by name."""
        if not self.path.is_dir():
            return []
        return sorted(self.path.glob(f"{PART_PREFIX}*.parquet"))

    def finished(self) -> set[str]:
        """Task keys with a finished part."""
        n = len(PART_PREFIX)
        return {p.stem[n:] for p in self.parts()}

    def write_part(self, task: str, rows: list[dict]) -> Path:
        """Write one finished task's rows atomically; returns the part's path."""
        table = pa.Table.from_pylist([{"task": task, **r} for r in rows], schema=SCHEMA)
        final = self.path / f"{PART_PREFIX}{task}.parquet"
        tmp = self.path / f".tmp-{uuid.uuid4().hex}"
        pq.write_table(table, tmp)
        os.replace(tmp, final)
        return final

    def _atomic_write_bytes(self, final: Path, data: bytes) -> None:
        tmp = final.parent / f".tmp-{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        os.replace(tmp, final)

    def read(self) -> pd.DataFrame:
        """All finished rows, sorted by grid point and instance."""
        return read_results(self.path)


def check_part(part: Path) -> None:
    """Raise :class:`XbarsimInputError` unless ``part`` is a regular Parquet file of
    :data:`SCHEMA` within the data limit, whose declared uncompressed rows are too."""
    validation.check_input_file(part, "results")
    try:
        meta = pq.read_metadata(part)
        found = pq.read_schema(part)
    except Exception:  # pyarrow raises several types for damaged files
        raise XbarsimInputError(
            f"results: {part} is not a readable Parquet file (corrupt or truncated); "
            "delete it and rerun the sweep with --resume"
        ) from None
    declared = sum(meta.row_group(k).total_byte_size for k in range(meta.num_row_groups))
    if declared > validation.MAX_DATA_BYTES:
        raise XbarsimInputError(
            f"results: {part} declares {validation.format_bytes(declared)} of rows, more than "
            f"the {validation.format_bytes(validation.MAX_DATA_BYTES)} a part may hold"
        )
    if not found.remove_metadata().equals(SCHEMA):
        raise XbarsimInputError(
            f"results: {part} does not hold xbarsim sweep rows (foreign schema); "
            "move it out of the results directory"
        )


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a results dataset into a DataFrame sorted by grid point and instance.

    Raises
    ------
    XbarsimInputError
        If ``path`` is not a sweep dataset or holds no finished parts.
    """
    store = ResultStore(path)
    if not Path(path).is_dir():
        raise XbarsimInputError(f"results: {path} is not a directory")
    if not store.meta_path.is_file():
        raise XbarsimInputError(f"results: {path} is not an xbarsim sweep dataset")
    parts = store.parts()
    if not parts:
        raise XbarsimInputError(f"results: {path} holds no finished results")
    store.stored_meta()
    tables = []
    for part in parts:
        check_part(part)
        try:
            tables.append(pq.read_table(part, schema=SCHEMA))
        except Exception:  # damage past the footer (pages, row groups)
            raise XbarsimInputError(
                f"results: {part} is not a readable Parquet file (corrupt or truncated); "
                "delete it and rerun the sweep with --resume"
            ) from None
    table = pa.concat_tables(tables)
    frame = table.to_pandas()
    keys = ["size", "sigma", "target", "algorithm", "crossbar", "weight_set"]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)

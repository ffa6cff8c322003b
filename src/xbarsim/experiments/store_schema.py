"""Schema of a reproduce store, checked before a page is drawn from it (layer 7).

A store is input like any file a user passes: it may be damaged, written by another
version, or written by hand to attack the page it feeds. :func:`check_store` reads the
metadata and every part bounded (regular files only, sizes within
:data:`xbarsim.validation.MAX_TEXT_BYTES` / :data:`~xbarsim.validation.MAX_DATA_BYTES`, a
Parquet part's declared uncompressed size too), validates the metadata with
:class:`StoreMeta` and every row with :class:`StoreRow` (pydantic, strict types), and
refuses anything else with one line naming the file and the problem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xbarsim import validation
from xbarsim.errors import XbarsimInputError, format_validation_error
from xbarsim.experiments.chapter2 import META_NAME, PART_PREFIX


class StoreMeta(BaseModel):
    """The parameters a reproduce store was made with (its ``_xbarsim_study.json``)."""

    model_config = ConfigDict(extra="allow", strict=True)

    format: str
    store_version: int
    version: str
    mode: Literal["quick", "full"]
    seed: int = Field(ge=0)
    ids: list[str]
    settings: dict[str, dict[str, Any]]
    config_hashes: dict[str, str]

    @model_validator(mode="after")
    def _every_id_has_settings(self) -> StoreMeta:
        missing = [i for i in self.ids if i not in self.settings]
        if missing:
            raise ValueError(f"ids without settings: {', '.join(missing[:3])}")
        return self


class StoreRow(BaseModel):
    """One row of a part: a value per instance, statistics, a figure or a job record."""

    model_config = ConfigDict(extra="allow", strict=True)

    id: str
    quantity: str | None = None
    instance: int | None = None
    value: float | None = None
    mean: float | None = None
    std: float | None = None
    n: int | None = None
    figure: str | None = None
    png: str | None = None
    job: str | None = None
    wall_s: float | None = None
    config_hash: str | None = None
    engine: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> StoreRow:
        kinds = {"value": self.value is not None and self.quantity is not None,
                 "statistics": None not in (self.quantity, self.mean, self.std, self.n),
                 "figure": self.figure is not None and self.png is not None,
                 "job": self.job is not None and self.wall_s is not None}
        if not any(kinds.values()):
            raise ValueError("neither a value, statistics, a figure nor a job record")
        return self


def _problem(exc: ValidationError) -> str:
    return format_validation_error(exc)[:200]


def read_meta(store: Path, fmt: str, version: int) -> dict[str, Any]:
    """The metadata of the store directory ``store`` (format ``fmt``, ``version``), read
    bounded and checked for its format and version, not yet against :class:`StoreMeta`."""
    if not store.is_dir():
        raise XbarsimInputError(f"store: {store} is not a directory")
    path = store / META_NAME
    if not path.exists():
        raise XbarsimInputError(f"store: {store} is not a readable reproduce store")
    text = validation.read_text(path, "store")
    try:
        raw = json.loads(text)
    except ValueError:
        raise XbarsimInputError(f"store: {path} is not JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != fmt:
        raise XbarsimInputError(f"store: {store} is not a reproduce store (another format)")
    if raw.get("store_version") != version:
        raise XbarsimInputError(
            f"store: {store} has store version {raw.get('store_version')!r}, this xbarsim "
            f"reads {version}; rerun `xbarsim reproduce`"
        )
    return raw


def check_meta(store: Path, fmt: str, version: int) -> StoreMeta:
    """The validated metadata of the store directory ``store`` (:func:`read_meta`)."""
    raw = read_meta(store, fmt, version)
    try:
        return StoreMeta.model_validate(raw)
    except ValidationError as exc:
        raise XbarsimInputError(
            f"store: {store / META_NAME} has bad metadata ({_problem(exc)})"
        ) from None


def check_part(path: Path) -> int:
    """Check one Parquet part bounded and every row against :class:`StoreRow`; its rows."""
    import pyarrow.parquet as pq

    size = validation.check_input_file(path, "store")
    limit = validation.MAX_DATA_BYTES
    try:
        with pq.ParquetFile(path) as part:
            meta = part.metadata
            declared = sum(meta.row_group(k).total_byte_size for k in range(meta.num_row_groups))
            if declared > limit:
                raise XbarsimInputError(
                    f"store: {path} declares {validation.format_bytes(declared)} of rows, "
                    f"more than the {validation.format_bytes(limit)} a part may hold"
                )
            rows = part.read(columns=["row"]).column("row").to_pylist()
    except XbarsimInputError:
        raise
    except Exception:  # pyarrow raises several types for damaged files
        raise XbarsimInputError(f"store: {path} is unreadable (not Parquet of this store, "
                                f"{validation.format_bytes(size)})") from None
    for k, text in enumerate(rows):
        try:
            StoreRow.model_validate(json.loads(text) if isinstance(text, str) else text)
        except (ValueError, ValidationError) as exc:
            why = _problem(exc) if isinstance(exc, ValidationError) else "not JSON"
            raise XbarsimInputError(f"store: {path} row {k}: {why}") from None
    return len(rows)


def check_store(path: str | Path, fmt: str, version: int, provenance_name: str) -> StoreMeta:
    """Check a whole reproduce store before anything is drawn from it.

    Parameters
    ----------
    path : str or Path
        The store directory.
    fmt, version : str, int
        The format name and store version this xbarsim writes.
    provenance_name : str
        File name of the provenance record (optional; only its size is checked here).

    Returns
    -------
    StoreMeta
        The validated metadata.

    Raises
    ------
    XbarsimInputError
        One line naming the file and the problem.
    """
    p = Path(path)
    meta = check_meta(p, fmt, version)
    for part in sorted(p.glob(f"{PART_PREFIX}*.parquet")):
        check_part(part)
    if (p / provenance_name).exists():
        validation.check_input_file(p / provenance_name, "store", validation.MAX_TEXT_BYTES)
    return meta

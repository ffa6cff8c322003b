"""What every command writes: results with their provenance (one place for both).

:func:`with_provenance` adds the ``provenance`` object of :func:`xbarsim.provenance.provenance`
to a command's results (the command line as the user typed it is recorded by
:func:`xbarsim.cli.main`), so every ``results.json`` and ``--json`` output carries it;
:func:`write_parquet` puts it into a Parquet file's schema metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xbarsim.provenance import provenance

if TYPE_CHECKING:
    import pandas as pd

#: Key of the provenance object in a Parquet file's schema metadata (JSON).
PARQUET_PROVENANCE_KEY = b"xbarsim.provenance"

def with_provenance(
    data: Mapping[str, Any],
    seeds: Mapping[str, int] | int | None = None,
    configs: Mapping[str, object] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """``data`` plus its ``provenance`` object (seeds, configuration hashes, command, ...).

    Parameters
    ----------
    data : mapping
        The command's JSON-ready results (a ``provenance`` key in it is replaced).
    seeds : int or mapping of name to int, optional
        The run's random seeds.
    configs : mapping of name to configuration, optional
        Every configuration the results depend on (recorded by content hash).
    **extra
        Further provenance entries.
    """
    return {**data, "provenance": provenance(seeds, configs, None, **extra)}


def write_parquet(
    frame: pd.DataFrame,
    path: Path,
    seeds: Mapping[str, int] | int | None = None,
    configs: Mapping[str, object] | None = None,
) -> None:
    """Write ``frame`` to Parquet with its provenance in the schema metadata.

    The provenance object is stored as JSON under :data:`PARQUET_PROVENANCE_KEY`
    (``pyarrow.parquet.read_schema(path).metadata``).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    prov = with_provenance({}, seeds, configs)["provenance"]
    metadata = {**(table.schema.metadata or {}), PARQUET_PROVENANCE_KEY: json.dumps(prov)}
    pq.write_table(table.replace_schema_metadata(metadata), path)

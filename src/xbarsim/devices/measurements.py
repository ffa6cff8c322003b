"""Tidy CSV measurements that device models are fitted to (layer 1).

One row per observation, a header naming the columns (any order, extra columns ignored).
Units are SI: volts, amperes, siemens, seconds, degrees C.

``temperature``
    ``device_id, temp_c, g_s, g0_s``: conductance ``g_s`` of a device at die temperature
    ``temp_c``, tuned to ``g0_s`` at the reference temperature.
``nonlinearity``
    ``device_id, v, i_a, g_tune_s``: current ``i_a`` at read voltage ``v`` of a device whose
    conductance at the tuning voltage is ``g_tune_s``.
``retention``
    ``device_id, t_s, temp_c, g_s, g0_s``: conductance after ``t_s`` seconds at ``temp_c``
    of a device programmed to ``g0_s``.
``thresholds``
    ``device_id, amplitude_v, g_before_s, g_after_s``: one pulse of a threshold sweep
    (positive amplitudes set, negative reset), conductance read before and after it.
``pulse``
    ``device_id, amplitude_v, pulse, g_s``: conductance ``g_s`` of a device after ``pulse``
    identical pulses of signed amplitude ``amplitude_v`` (> 0 potentiation/set, < 0
    depression/reset); the ``pulse = 0`` row of each (device, amplitude) train is its
    conductance before the first pulse.

Every problem is reported as one line naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from xbarsim.errors import XbarsimInputError
from xbarsim.validation import read_text

SCHEMAS: dict[str, tuple[str, ...]] = {
    "temperature": ("device_id", "temp_c", "g_s", "g0_s"),
    "nonlinearity": ("device_id", "v", "i_a", "g_tune_s"),
    "retention": ("device_id", "t_s", "temp_c", "g_s", "g0_s"),
    "thresholds": ("device_id", "amplitude_v", "g_before_s", "g_after_s"),
    "pulse": ("device_id", "amplitude_v", "pulse", "g_s"),
}

#: Columns that must be > 0 (conductances) or >= 0 (times), and temperatures.
_POSITIVE = {"g_s", "g0_s", "g_tune_s", "g_before_s", "g_after_s"}
_NON_NEGATIVE = {"t_s", "pulse"}
_TEMPERATURES = {"temp_c"}
#: Conductances a measurement may hold (S): beyond them a fit overflows or loses precision.
CONDUCTANCE_RANGE_S = (1e-15, 1e3)
#: Largest magnitude of any other cell (SI units).
MAX_MAGNITUDE = 1e15


def read_measurements(path: str | Path, model: str) -> dict[str, NDArray]:
    """Read and validate a tidy CSV for ``model`` (one of :data:`SCHEMAS`).

    Returns
    -------
    dict
        ``device_id`` as an array of str, every other column as float64.

    Raises
    ------
    XbarsimInputError
        Unknown model, unreadable or empty file, missing column, non-numeric, NaN or
        out-of-range cell (message names the line and the column).
    """
    if model not in SCHEMAS:
        raise XbarsimInputError(f"model: unknown model {model!r}; allowed: {', '.join(SCHEMAS)}")
    path = Path(path)
    columns = SCHEMAS[model]
    text = read_text(path, "data")  # a regular file within the text limit, UTF-8
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise XbarsimInputError(f"data: {path} is not valid CSV: {exc}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise XbarsimInputError(f"data: {path} is empty (need a header: {', '.join(columns)})")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        raise XbarsimInputError(
            f"data: {path} lacks column {missing[0]!r} (model {model} needs {', '.join(columns)})"
        )
    if len(rows) == 1:
        raise XbarsimInputError(f"data: {path} has a header but no data rows")
    index = {c: header.index(c) for c in columns}
    out: dict[str, list] = {c: [] for c in columns}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) < len(header):
            raise XbarsimInputError(
                f"data: {path} line {line}: {len(row)} cells, header has {len(header)}"
            )
        for c in columns:
            cell = row[index[c]].strip()
            if c == "device_id":
                if not cell:
                    raise XbarsimInputError(f"data: {path} line {line}, column device_id: empty")
                out[c].append(cell)
                continue
            out[c].append(_number(path, line, c, cell))
    return {c: np.asarray(v, dtype=str if c == "device_id" else np.float64) for c, v in out.items()}


def _number(path: Path, line: int, column: str, cell: str) -> float:
    where = f"data: {path} line {line}, column {column}"
    try:
        value = float(cell)
    except ValueError:
        raise XbarsimInputError(f"{where}: not a number: {cell!r}") from None
    if not math.isfinite(value):
        raise XbarsimInputError(f"{where}: must be finite, got {cell!r}")
    if column in _POSITIVE and value <= 0.0:
        raise XbarsimInputError(f"{where}: a conductance must be > 0 S, got {value:g}")
    lo, hi = CONDUCTANCE_RANGE_S
    if column in _POSITIVE and not lo <= value <= hi:
        raise XbarsimInputError(
            f"{where}: a conductance must lie in [{lo:g}, {hi:g}] S, got {value:g}"
        )
    if abs(value) > MAX_MAGNITUDE:
        raise XbarsimInputError(f"{where}: |value| must be <= {MAX_MAGNITUDE:g}, got {value:g}")
    if column in _NON_NEGATIVE and value < 0.0:
        what = "a pulse count must be >= 0" if column == "pulse" else "a time must be >= 0 s"
        raise XbarsimInputError(f"{where}: {what}, got {value:g}")
    if column in _TEMPERATURES and value <= -273.15:
        raise XbarsimInputError(f"{where}: below absolute zero: {value:g} degC")
    return value

"""Checks that run before any work: output paths, memory, counts and seeds.

Every command goes through these (CLI options -> pydantic / setup validation -> these
checks -> one error formatter), so a refused run has computed and written nothing. Each
check raises :class:`~xbarsim.errors.XbarsimInputError` with one line naming the option.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from xbarsim.errors import XbarsimInputError

GIB = 1024**3
#: Fraction of the available memory a run may plan to use by default.
DEFAULT_MEMORY_FRACTION = 0.8
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": GIB, "t": 1024**4}


def _nearest_existing(path: Path) -> Path:
    """``path`` itself or its closest existing ancestor."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_creatable(path: Path, field: str) -> None:
    """The missing ``path`` can be created: its nearest existing ancestor is a writable dir."""
    base = _nearest_existing(path)
    if not base.is_dir():
        raise XbarsimInputError(f"{field}: cannot create {path}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise XbarsimInputError(f"{field}: cannot create {path}: {base} is not writable")


def check_output_dir(path: Path | str | None, field: str = "out") -> None:
    """Check that ``path`` is, or can become, a writable directory (creates nothing).

    Parameters
    ----------
    path : Path, str or None
        Output directory; None means "no output" and passes.
    field : str
        Option name used in the error message.
    """
    if path is None:
        return
    path = Path(path)
    if str(path) == "":
        raise XbarsimInputError(f"{field}: must be a directory path, got ''")
    if path.exists():
        if not path.is_dir():
            raise XbarsimInputError(f"{field}: {path} exists and is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise XbarsimInputError(f"{field}: directory {path} is not writable")
        return
    _check_creatable(path, field)


def check_output_file(path: Path | str | None, field: str = "json") -> None:
    """Check that the file ``path`` can be written (``"-"``, stdout, and None pass).

    A missing parent directory is fine when it can be created (:func:`write_text` does).
    """
    if path is None or str(path) == "-":
        return
    path = Path(path)
    if str(path) == "" or str(path).endswith(os.sep):
        raise XbarsimInputError(f"{field}: must be a file path, got {str(path)!r}")
    if path.exists():
        if path.is_dir():
            raise XbarsimInputError(f"{field}: {path} is a directory, not a file")
        if not os.access(path, os.W_OK):
            raise XbarsimInputError(f"{field}: {path} is not writable")
        return
    _check_creatable(path, field)


def check_distinct(paths: dict[str, Path | str | None]) -> None:
    """Raise when two output options name the same path (one would overwrite the other)."""
    seen: dict[Path, str] = {}
    for field, path in paths.items():
        if path is None or str(path) == "-":
            continue
        key = Path(path).absolute()
        if key in seen:
            raise XbarsimInputError(f"{field}: {path} is also given as --{seen[key]}")
        seen[key] = field


def create_output_dir(path: Path | str | None, field: str = "out") -> None:
    """Create the checked directory ``path`` (and parents); one-line error on failure."""
    if path is None:
        return
    check_output_dir(path, field)
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise XbarsimInputError(
            f"{field}: cannot create directory {path}: {exc.strerror}"
        ) from None


def write_text(path: Path | str, text: str, field: str) -> None:
    """Write ``text`` to ``path`` (creating its parent directories); one-line error."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise XbarsimInputError(f"{field}: cannot write {path}: {exc.strerror}") from None


def read_text(path: Path | str, field: str) -> str:
    """Read a UTF-8 text file (a config); one-line error if missing, binary or undecodable."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise XbarsimInputError(f"{field}: cannot read {path}: {exc.strerror}") from None
    if b"\x00" in raw:
        raise XbarsimInputError(f"{field}: {path} is a binary file, not a text config")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise XbarsimInputError(
            f"{field}: {path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start})"
        ) from None


def describe_parse_error(exc: Exception) -> str:
    """One line for a YAML/TOML parse error: its first line and the position.

    PyYAML's messages span several lines (context, problem, a quoted excerpt); this keeps
    the problem and "line L, column C" (1-based).
    """
    problem = getattr(exc, "problem", None)
    lines = str(exc).strip().splitlines()
    text = " ".join(str(problem if problem else lines[0] if lines else type(exc).__name__).split())
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        text += f" (line {mark.line + 1}, column {mark.column + 1})"
    return text


def available_memory() -> int:
    """Memory available to a new allocation now (bytes), from psutil or /proc/meminfo."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil is a dependency
        pass
    try:  # pragma: no cover - psutil is a dependency
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 4 * GIB  # pragma: no cover - no way to tell: assume a small machine


def parse_memory(text: str | None, field: str = "max-memory") -> int:
    """The memory limit in bytes: ``"16G"``, ``"512MiB"``, ``"2e9"``; None: the default.

    The default is :data:`DEFAULT_MEMORY_FRACTION` of :func:`available_memory`.
    """
    if text is None:
        return int(DEFAULT_MEMORY_FRACTION * available_memory())
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if match is None:
        raise XbarsimInputError(
            f"{field}: must be a size like 16G, 512M or 2e9 (bytes), got {text!r}"
        )
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if not value >= 1:
        raise XbarsimInputError(f"{field}: must be at least 1 byte, got {text!r}")
    return int(min(value, 2**62))


def format_bytes(n: float) -> str:
    """``n`` bytes as a short human string (GiB / MiB)."""
    if n >= GIB:
        return f"{n / GIB:.1f} GiB"
    return f"{n / 1024**2:.0f} MiB"


def check_memory(estimate: float, limit: int, what: str) -> None:
    """Refuse a request whose peak memory ``estimate`` (bytes) exceeds ``limit`` (bytes).

    Parameters
    ----------
    estimate : float
        Estimated peak memory of the run (bytes).
    limit : int
        Allowed memory (bytes), see :func:`parse_memory`.
    what : str
        What is being estimated, for the message (e.g. ``"thresholds of 20000x20000"``).
    """
    if estimate > limit:
        raise XbarsimInputError(
            f"max-memory: {what} needs about {format_bytes(estimate)}, more than the limit "
            f"{format_bytes(limit)}; shrink the request or raise --max-memory"
        )


def check_count(name: str, value: int, maximum: int) -> int:
    """Refuse a count above ``maximum`` (counts that would otherwise run unbounded)."""
    if value > maximum:
        raise XbarsimInputError(f"{name}: must be at most {maximum:,}, got {value:,}")
    return value


def library_seed(seed: int, bits: int = 32) -> int:
    """A seed in ``[0, 2**bits)`` for libraries with a bounded seed (scikit-learn, torch).

    Seeds already in range pass through unchanged (so results of existing seeds stand);
    larger ones are folded through :class:`numpy.random.SeedSequence`, which accepts any
    non-negative integer.
    """
    if 0 <= seed < 2**bits:
        return int(seed)
    state = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint32)
    value = (int(state[0]) << 32) | int(state[1])
    return value >> (64 - bits)


def check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    """Validate an integer argument, raising a one-line :class:`XbarsimInputError`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise XbarsimInputError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise XbarsimInputError(f"{name}: must be an integer >= {minimum}, got {value}")
    return int(value)


def check_seed(value: object) -> int:
    """Validate a seed (a non-negative integer)."""
    return check_positive_int("seed", value, minimum=0)

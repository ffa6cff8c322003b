"""Checks that run before any work: input files, output paths, memory, counts and seeds.

Every command goes through these (CLI options -> pydantic / setup validation -> these
checks -> one error formatter), so a refused run has computed and written nothing. Each
check raises :class:`~xbarsim.errors.XbarsimInputError` with one line naming the option.

Input files are read bounded: only a regular file is opened (a FIFO, a device such as
``/dev/zero`` or a directory is refused before any read, so nothing hangs), its size is
checked against a limit before reading and the read stops at the limit (the file may grow
meanwhile); a gzip stream is decompressed only up to its limit, so a bomb stops there.
The limits are module constants (tests lower them to make a bomb small).
"""

from __future__ import annotations

import math
import os
import re
import stat
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim.errors import XbarsimInputError

GIB = 1024**3
#: Largest text input read whole: configs, settings, CSVs, store metadata (bytes).
MAX_TEXT_BYTES = 64 * 1024**2
#: Largest data file read whole, and largest decompressed gzip stream (bytes).
MAX_DATA_BYTES = 512 * 1024**2
_GZIP_CHUNK = 16 * 1024**2
#: Most pixels an input image may declare (PIL's default decompression-bomb limit).
MAX_IMAGE_PIXELS = 89_478_485
#: Most points a range such as ``25:100:5`` may expand to.
MAX_RANGE_POINTS = 10_000
#: Temperatures every option accepts (°C): the range the temperature models are stated on.
TEMP_RANGE_C = (0.0, 150.0)
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
        key = Path(os.path.abspath(path))  # "a/../b" and "./b" name "b"
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


def check_input_file(path: Path | str, field: str, limit: int | None = None) -> int:
    """Refuse anything but an existing regular file of at most ``limit`` bytes; its size.

    A FIFO, socket, device (``/dev/zero``) or directory is refused before it is opened, so
    a read can neither hang nor run without end.

    Parameters
    ----------
    path : Path or str
        The input file (symbolic links are followed).
    field : str
        Option name used in the error message.
    limit : int, optional
        Largest size accepted (bytes); None: :data:`MAX_DATA_BYTES`.
    """
    limit = MAX_DATA_BYTES if limit is None else limit
    try:
        info = os.stat(path)
    except OSError as exc:
        raise XbarsimInputError(f"{field}: cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise XbarsimInputError(f"{field}: {path} is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise XbarsimInputError(
            f"{field}: {path} is not a regular file (a FIFO, socket or device); give a file"
        )
    if info.st_size > limit:
        raise XbarsimInputError(
            f"{field}: {path} holds {format_bytes(info.st_size)}, more than the "
            f"{format_bytes(limit)} an input file may hold"
        )
    return int(info.st_size)


def read_bytes(path: Path | str, field: str, limit: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (checked before and while
    reading); one-line error otherwise (see :func:`check_input_file`)."""
    limit = MAX_DATA_BYTES if limit is None else limit
    check_input_file(path, field, limit)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise XbarsimInputError(f"{field}: cannot read {path}: {exc.strerror}") from None
    if len(raw) > limit:
        raise XbarsimInputError(f"{field}: {path} grew past {format_bytes(limit)} while read")
    return raw


def read_gzip(path: Path | str, field: str, limit: int | None = None) -> bytes:
    """The decompressed bytes of a gzip file, stopped at ``limit`` bytes (a bomb is refused
    once it expands past the limit, before more is held); one-line error otherwise."""
    limit = MAX_DATA_BYTES if limit is None else limit
    packed = read_bytes(path, field, limit)
    stream = zlib.decompressobj(wbits=31)  # gzip header and trailer
    parts: list[bytes] = []  # joined once at the end: a refusal holds at most the limit
    size = 0
    data = packed
    try:
        while True:
            part = stream.decompress(data, min(_GZIP_CHUNK, limit + 1 - size))
            parts.append(part)
            size += len(part)
            if size > limit:
                raise XbarsimInputError(
                    f"{field}: {path} expands past {format_bytes(limit)} when decompressed"
                )
            data = stream.unconsumed_tail
            if stream.eof:
                if not stream.unused_data:
                    break
                data = stream.unused_data  # a further gzip member
                stream = zlib.decompressobj(wbits=31)
            elif not data and not part:  # input used up, nothing pending
                break
    except zlib.error as exc:
        raise XbarsimInputError(f"{field}: {path} is not a readable gzip file ({exc})") from None
    if not stream.eof:
        raise XbarsimInputError(f"{field}: {path} is a truncated gzip file")
    return b"".join(parts)


def open_image(path: Path | str, field: str) -> Any:
    """Open a picture with PIL, refused (one line) unless it is a regular file within the
    file limit that declares at most :data:`MAX_IMAGE_PIXELS` pixels; no pixel is decoded
    here, so an image bomb costs only its header.

    Returns
    -------
    PIL.Image.Image
        The opened (lazy) image; the caller closes it.
    """
    from PIL import Image, UnidentifiedImageError

    check_input_file(path, field)
    try:
        image = Image.open(path)
    except Image.DecompressionBombError:
        raise XbarsimInputError(
            f"{field}: {path} declares more pixels than PIL's bomb limit; refused"
        ) from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise XbarsimInputError(f"{field}: cannot read image {path} ({reason})") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise XbarsimInputError(
            f"{field}: {path} declares {width} x {height} pixels, more than the "
            f"{MAX_IMAGE_PIXELS:,} an input image may hold"
        )
    return image


def read_text(path: Path | str, field: str, limit: int | None = None) -> str:
    """Read a UTF-8 text file (a config) of at most ``limit`` bytes (default
    :data:`MAX_TEXT_BYTES`); one-line error if missing, not a regular file, too large,
    binary or undecodable."""
    path = Path(path)
    raw = read_bytes(path, field, MAX_TEXT_BYTES if limit is None else limit)
    if b"\x00" in raw:
        raise XbarsimInputError(f"{field}: {path} is a binary file, not text")
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


def total_memory() -> int:
    """Physical memory of this machine (bytes)."""
    import psutil

    return int(psutil.virtual_memory().total)


def parse_memory(text: str | None, field: str = "max-memory") -> int:
    """The memory limit in bytes: ``"16G"``, ``"512MiB"``, ``"2e9"``; None: the default.

    The default is :data:`DEFAULT_MEMORY_FRACTION` of :func:`available_memory`. A limit
    above the machine's physical memory (:func:`total_memory`) is refused: it would turn
    the guard off and let a run die later in an allocation.
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
    total = total_memory()
    if value > total:
        raise XbarsimInputError(
            f"{field}: {text.strip()} is more than this machine's memory "
            f"({format_bytes(total)}); give at most that"
        )
    return int(value)


def format_bytes(n: float) -> str:
    """``n`` bytes as a short human string (GiB, MiB, KiB or bytes)."""
    if n >= GIB:
        return f"{n / GIB:.1f} GiB"
    if n >= 1024**2:
        return f"{n / 1024**2:.0f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n:.0f} bytes"


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


_TIME_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | None, field: str = "max-time") -> float | None:
    """A time limit in seconds: ``"90s"``, ``"30m"``, ``"2h"``, ``"1.5d"``, ``"600"``
    (seconds); None: no limit."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*(s|m|min|h|d|)\s*", text)
    if match is None:
        raise XbarsimInputError(
            f"{field}: must be a duration like 90s, 30m, 2h or 1d, got {text!r}"
        )
    value = float(match.group(1)) * _TIME_UNITS[match.group(2)]
    if not (math.isfinite(value) and value > 0):
        raise XbarsimInputError(f"{field}: must be a positive duration, got {text!r}")
    return value


def format_seconds(seconds: float) -> str:
    """``seconds`` as a short human duration (s, min, h or d)."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d" if seconds < 10 * 86400 else f"{seconds / 86400:.0f} d"


def check_time(estimate: float, limit: float | None, what: str) -> None:
    """Refuse a request whose run-time ``estimate`` (s) exceeds ``limit`` (s; None: none)."""
    if limit is not None and estimate > limit:
        raise XbarsimInputError(
            f"max-time: {what} takes about {format_seconds(estimate)}, more than the limit "
            f"{format_seconds(limit)}; shrink the request or raise --max-time"
        )


def check_count(name: str, value: int, maximum: int) -> int:
    """Refuse a count above ``maximum`` (counts that would otherwise run unbounded)."""
    if value > maximum:
        raise XbarsimInputError(f"{name}: must be at most {maximum:,}, got {value:,}")
    return value


def expand_range(text: str, field: str, maximum: int | None = None) -> list[float]:
    """``"START:STOP:STEP"`` (inclusive, finite, STEP > 0) as its points, refused before it
    is materialized when it would hold more than ``maximum`` (default
    :data:`MAX_RANGE_POINTS`) points."""
    maximum = MAX_RANGE_POINTS if maximum is None else maximum
    try:
        start, stop, step = (float(v) for v in text.split(":"))
    except ValueError:
        raise XbarsimInputError(f"{field}: use START:STOP:STEP or a list, got {text!r}") from None
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise XbarsimInputError(f"{field}: START, STOP and STEP must be finite, got {text!r}")
    if not step > 0 or stop < start:
        raise XbarsimInputError(f"{field}: need STEP > 0 and STOP >= START, got {text!r}")
    count = math.floor((stop - start) / step + 0.5) + 1
    if count > maximum:
        raise XbarsimInputError(
            f"{field}: {text} expands to {count:,} points, more than {maximum:,}; "
            "use a larger STEP"
        )
    return [start + k * step for k in range(count)]


def check_temperature(field: str, value: float) -> float:
    """Refuse a temperature outside :data:`TEMP_RANGE_C` (°C) or not finite."""
    lo, hi = TEMP_RANGE_C
    if not (isinstance(value, int | float) and lo <= value <= hi):
        raise XbarsimInputError(f"{field}: must lie in [{lo:g}, {hi:g}] °C, got {value!r}")
    return float(value)


def check_outputs(outputs: Mapping[str, Path | str | None],
                  inputs: Mapping[str, Path | str | None] | None = None,
                  directories: frozenset[str] = frozenset()) -> None:
    """Check every output of a run together before any is written.

    Each output must be writable (a directory for the names in ``directories``, else a
    file), no two outputs may name the same path, and no output may name an input.

    Parameters
    ----------
    outputs : mapping of option name to path
        Every path the run will write (sidecar files included); None and ``"-"`` skip.
    inputs : mapping of option name to path, optional
        Files the run reads.
    directories : frozenset of str
        Output names that are directories.
    """
    for name, path in outputs.items():
        if name in directories:
            check_output_dir(path, name)
        else:
            check_output_file(path, name)
    check_distinct(dict(outputs))
    for name, path in outputs.items():
        if path is None or str(path) == "-":
            continue
        out = Path(os.path.abspath(path))
        for in_name, source in (inputs or {}).items():
            if source is None or str(source) == "-":
                continue
            src = Path(os.path.abspath(source))
            if out == src or (out.exists() and src.exists() and os.path.samefile(out, src)):
                raise XbarsimInputError(f"{name}: {path} is the input --{in_name}; "
                                        "writing it would overwrite the input")


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

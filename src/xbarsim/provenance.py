"""Provenance of a result: what produced it, where and when.

:func:`provenance` is the one place that builds the ``provenance`` object that every
``results.json``, ``--json`` output, Parquet store and report carries: package version,
git commit (when the package runs from a checkout), command line, seeds, the content hash
of every configuration, UTC date, Python / numpy / torch / numba versions and the machine
(CPU model, GPU). It imports nothing heavy: torch and numba versions are read from the
installed distributions' metadata; the GPU is looked up once per process.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

#: Keys every provenance object holds.
PROVENANCE_KEYS = (
    "xbarsim_version",
    "git_commit",
    "command",
    "seeds",
    "config_hashes",
    "date_utc",
    "python",
    "numpy",
    "torch",
    "numba",
    "cpu",
    "gpu",
)


def config_hash(config: object) -> str:
    """SHA-256 (hex, first 16 digits) of a configuration's canonical JSON.

    Parameters
    ----------
    config : pydantic model, dataclass, mapping or JSON-ready value
        Pydantic models are dumped in JSON mode, dataclasses field by field; mappings are
        hashed with sorted keys.
    """
    dump = getattr(config, "model_dump", None)
    if callable(dump):
        data = dump(mode="json")
    elif dataclasses.is_dataclass(config) and not isinstance(config, type):
        data = dataclasses.asdict(config)
    else:
        data = config
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


@lru_cache(maxsize=1)
def _git_commit() -> str:
    """HEAD of the checkout the package runs from, or "unknown" (installed wheel, no git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"


@lru_cache(maxsize=1)
def _cpu_model() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


@lru_cache(maxsize=1)
def gpu_name() -> str:
    """Name of the CUDA device numba sees, or "none" (no driver, no numba-cuda)."""
    try:
        from numba import cuda

        if cuda.is_available():
            name = cuda.get_current_device().name
            return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # no CUDA driver or toolkit: a CPU-only machine
        pass
    return "none"


#: The running ``xbarsim`` command as typed, set by the command line's entry point.
_running_command: list[str | None] = [None]


def set_command(args: list[str]) -> None:
    """Record the arguments of the running ``xbarsim`` command (shell-quoted, with
    ``xbarsim`` in front); :func:`command_line` returns it from then on."""
    _running_command[0] = shlex.join(["xbarsim", *args])


def command_line(argv: list[str] | None = None) -> str:
    """The command line as typed: from ``argv``, else the running ``xbarsim`` command
    (:func:`set_command`), else ``sys.argv``."""
    if argv is None and _running_command[0] is not None:
        return _running_command[0]
    args = list(sys.argv if argv is None else argv)
    if args:
        args[0] = Path(args[0]).name
    return shlex.join(args)


def provenance(
    seeds: Mapping[str, int] | int | None = None,
    configs: Mapping[str, object] | None = None,
    command: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The provenance object of one result.

    Parameters
    ----------
    seeds : int or mapping of name to int, optional
        The random seeds of the run (an int is recorded as ``{"seed": value}``).
    configs : mapping of name to configuration, optional
        Every configuration the result depends on; each is recorded by its
        :func:`config_hash`.
    command : str, optional
        The command line (default: this process's, see :func:`command_line`).
    **extra
        Further JSON-ready entries (e.g. ``mode``, ``wall_s``).

    Returns
    -------
    dict
        With every key of :data:`PROVENANCE_KEYS` plus ``extra``.
    """
    import numpy as np

    if seeds is None:
        seed_map: dict[str, int] = {}
    elif isinstance(seeds, Mapping):
        seed_map = {str(k): int(v) for k, v in seeds.items()}
    else:
        seed_map = {"seed": int(seeds)}
    from xbarsim import __version__

    out: dict[str, Any] = {
        "xbarsim_version": __version__,
        "git_commit": _git_commit(),
        "command": command_line() if command is None else command,
        "seeds": seed_map,
        "config_hashes": {str(k): config_hash(v) for k, v in (configs or {}).items()},
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": _version("torch"),
        "numba": _version("numba"),
        "cpu": _cpu_model(),
        "gpu": gpu_name(),
    }
    out.update(extra)
    return out

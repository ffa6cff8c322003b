"""Errors raised for invalid user input, and where warnings point.

Every user-facing failure (bad config, bad argument, unreadable file) raises
:class:`XbarsimInputError` with a one-line message that names the offending field and
its allowed range. The CLI turns it into that line on stderr and exit code 2. Warnings
name what the caller passed and point at the caller's line (:func:`user_stacklevel`).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

#: Files under this folder are xbarsim's own; a warning points at the first frame outside.
_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes the calling function's ``warnings.warn`` point at the
    first frame outside the xbarsim package: the user's line, however deep the library
    call chain that reached the warning.

    Returns 1 (the warning's own line) when no frame outside the package exists.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level if frame is not None else 1


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn with a one-line ``message`` attributed to the user's call into xbarsim."""
    warnings.warn(" ".join(message.split()), category, stacklevel=user_stacklevel())


class XbarsimInputError(ValueError):
    """Invalid input: the message is one line naming the field and what is allowed."""


def format_validation_error(exc: Exception) -> str:
    """Render a pydantic ``ValidationError`` (or any exception) as one line.

    Parameters
    ----------
    exc : Exception
        The exception to describe.

    Returns
    -------
    str
        ``"field: message; other.field: message"`` for pydantic errors, else ``str(exc)``.
    """
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for err in errors():
            loc = ".".join(str(p) for p in err.get("loc", ())) or "config"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        return "; ".join(parts)
    return " ".join(str(exc).split())


def one_line(text: str) -> str:
    """``text`` as a single printable line: tabs, newlines and runs of spaces become one
    space, and every other non-printable character (which a terminal or
    ``str.splitlines`` could take for a line break, e.g. ``\\x1e`` or ``\\u2028``) is shown
    as its escape."""
    escaped = "".join(
        ch if ch.isprintable() or ch in " \t\n\r" else ch.encode("unicode_escape").decode()
        for ch in text
    )
    return " ".join(escaped.split())


class XbarsimRunError(XbarsimInputError):
    """A run that could not finish (lost workers, a task killed repeatedly): one line naming
    the task and the reason. Reported like invalid input (``error: ...``, exit code 2)."""

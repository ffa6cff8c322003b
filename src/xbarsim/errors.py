"""Errors raised for invalid user input.

Every user-facing failure (bad config, bad argument, unreadable file) raises
:class:`XbarsimInputError` with a one-line message that names the offending field and
its allowed range. The CLI turns it into that line on stderr and exit code 2.
"""

from __future__ import annotations


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

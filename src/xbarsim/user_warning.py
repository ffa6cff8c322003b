"""Warnings that point at the user's line, not at library internals (layer 0)."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent) + os.sep


def user_stacklevel() -> int:
    """``stacklevel`` for :func:`warnings.warn` called from inside xbarsim so that the
    warning names the first frame outside the package (the user's call)."""
    level = 1
    frame = sys._getframe(1)
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(
        _PACKAGE
    ):
        frame = frame.f_back
        level += 1
    return level


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn with a one-line ``message`` attributed to the user's call into xbarsim."""
    warnings.warn(" ".join(message.split()), category, stacklevel=user_stacklevel())

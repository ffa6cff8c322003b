"""Loading numba's CUDA target (layer 3), with a shim for numpy >= 2.5.

numba-cuda up to 0.30 registers an overload for ``np.row_stack`` whenever numpy >= 2.0,
but numpy 2.5 removed that alias, so ``numba.cuda`` fails to import there (upstream
NVIDIA/numba-cuda#907). Before importing it, :func:`load_cuda` restores the alias as
``np.vstack`` (what it always was) when it is missing. Nothing else in xbarsim uses it.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


def load_cuda() -> ModuleType:
    """Import and return ``numba.cuda``; raises ImportError when it is unavailable."""
    if not hasattr(np, "row_stack"):
        setattr(np, "row_stack", np.vstack)  # noqa: B010 (the removed alias itself)
    from numba import cuda

    return cuda

"""A restricted unpickler for CIFAR-10's python batches: data, never code.

A pickle can name any importable callable and have it called while loading
(``__reduce__``), so plain :func:`pickle.load` on a downloaded file runs whatever the file
says. CIFAR-10's ``data_batch_*`` / ``test_batch`` files only ever hold a dict of bytes,
lists of ints and bytes, and one uint8 numpy array. :func:`load_data_pickle` admits the
built-in containers (resolved by the pickle machine itself, without globals) and exactly
the handful of numpy reconstruction functions that rebuild arrays, dtypes and scalars;
any other global (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...) is refused
before it is called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

#: ``(module, name)`` globals a genuine CIFAR-10 batch (or a numpy array pickled by any
#: numpy/python version) may reference. None of them runs user-supplied code.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        # protocol-2 pickles written by python 3 spell bytes as _codecs.encode(str, latin1)
        ("_codecs", "encode"),
    }
)


class RefusedPickleError(pickle.UnpicklingError):
    """The pickle names a global outside :data:`ALLOWED_GLOBALS`."""


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in ALLOWED_GLOBALS:
            raise RefusedPickleError(f"refused global {module}.{name}")
        return super().find_class(module, name)


def load_data_pickle(path: Path) -> object:
    """Unpickle ``path`` admitting only plain data and numpy arrays.

    Parameters
    ----------
    path : Path
        The pickle file (read whole into memory first).

    Returns
    -------
    object
        The unpickled object; byte strings stay ``bytes`` (python 2 pickles).

    Raises
    ------
    RefusedPickleError
        The file references any other global; nothing it names has been called.
    pickle.UnpicklingError, EOFError, OSError, ValueError
        Unreadable or malformed file.
    """
    data = Path(path).read_bytes()
    return _DataUnpickler(io.BytesIO(data), encoding="bytes").load()

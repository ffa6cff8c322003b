"""Seeds by point identity.

A study point's random hardware must depend only on (root seed, the point's own canonical
parameters, instance index) -- never on its position in a grid or on which other points
share the run. :func:`point_seed_sequence` hashes the canonical parameters (sorted keys,
numbers normalized so that ``64`` and ``64.0`` or ``0.25`` and ``0.250`` agree) with
SHA-256 into the entropy of a :class:`numpy.random.SeedSequence`; instance indices go in
its spawn key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import numpy as np

from xbarsim.errors import XbarsimInputError


def _canonical(value: object) -> object:
    """JSON-ready canonical form: numbers as floats' repr, mappings with sorted keys."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(float(value))
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    raise XbarsimInputError(f"point parameters: cannot hash a value of type {type(value)!r}")


def point_key(params: Mapping[str, object]) -> str:
    """Canonical text of a point's parameters (the string that is hashed)."""
    return json.dumps(_canonical(dict(params)), sort_keys=True, separators=(",", ":"))


def point_seed_sequence(
    root: int, params: Mapping[str, object], *instance: int
) -> np.random.SeedSequence:
    """SeedSequence of one instance of the point ``params`` under root seed ``root``.

    Parameters
    ----------
    root : int
        Root seed of the study (>= 0).
    params : mapping
        The point's canonical parameters (numbers, strings, booleans, lists, mappings).
    *instance : int
        Instance indices (>= 0), e.g. crossbar and weight-set index.

    Returns
    -------
    numpy.random.SeedSequence
    """
    digest = hashlib.sha256(point_key(params).encode()).digest()
    words = [int.from_bytes(digest[k : k + 4], "little") for k in range(0, 16, 4)]
    return np.random.SeedSequence([int(root), *words], spawn_key=tuple(int(i) for i in instance))


def point_seed(root: int, params: Mapping[str, object], *instance: int) -> int:
    """:func:`point_seed_sequence` as a 63-bit integer, for APIs that take an int seed."""
    state = point_seed_sequence(root, params, *instance).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))

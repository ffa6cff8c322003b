"""Published numbers of the paper and the thesis, shipped as package data (layer 7).

``published.yaml`` (a copy of the project's ``published.yaml``) holds, per experiment id
(``P2_thresholds``, ``P3_image_tuning``, ...), the numbers as printed, with ``value`` in SI
units or fractions, ``approx`` where the text says "~", and the setup.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from xbarsim.errors import XbarsimInputError


@cache
def published() -> dict[str, Any]:
    """All published numbers, keyed by experiment id (parsed once)."""
    text = resources.files("xbarsim.experiments").joinpath("published.yaml").read_text()
    return yaml.safe_load(text)


def published_value(experiment: str, quantity: str) -> Any:
    """The published ``value`` of ``quantity`` in ``experiment``.

    Parameters
    ----------
    experiment : str
        Experiment id, e.g. ``"P2_thresholds"``.
    quantity : str
        Key inside it, e.g. ``"set_mean_v"``.

    Raises
    ------
    XbarsimInputError
        For an unknown experiment or quantity.
    """
    data = published()
    if experiment not in data:
        raise XbarsimInputError(
            f"experiment: unknown id {experiment!r}; allowed: {', '.join(sorted(data))}"
        )
    entry = data[experiment].get(quantity)
    if entry is None:
        raise XbarsimInputError(f"quantity: {experiment} has no {quantity!r}")
    return entry["value"] if isinstance(entry, dict) and "value" in entry else entry

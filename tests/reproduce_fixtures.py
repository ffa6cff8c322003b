"""A synthetic reproduce store for the page tests (no experiment runs)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from matplotlib.figure import Figure

from xbarsim.experiments.chapter2 import PartStore
from xbarsim.reproduce import runner as rp


def _tiny_png() -> str:
    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=20)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def synthetic_store(path: Path, gap_key: str = "set_mean_v", spread: float = 0.0,
                    image_accuracy: float | None = None) -> Path:
    """A store with every built experiment: 3 instances at the published value (x 1.01),
    one quantity (``gap_key`` of P2) far off, trends holding, one figure each.

    ``spread`` scatters the instances of a number by x (1 - spread, 1, 1 + spread) (the
    mean unchanged); ``image_accuracy`` adds the accuracy one test image is worth to every
    experiment with accuracy quantities."""
    settings = {e.id: e.settings["quick"] for e in rp.EXPERIMENTS}
    store = PartStore(path, rp.store_meta("quick", 0, settings))
    store.init()
    png = _tiny_png()
    for e in rp.EXPERIMENTS:
        rows: list[dict] = []
        for q in e.quantities:
            if q.rule in ("trend", "readback-trend"):
                value = 1.0
            elif q.rule == "unpublished":
                value = 0.01
            else:
                value = float(q.compared(e.id)) * (0.5 if q.rule == "bound" else 1.01)
                if q.key == gap_key:
                    value *= 3.0
            if e.id == "T24_25_defects":
                rows.append({"id": e.id, "quantity": q.row_key, "mean": value, "std": 0.0,
                             "n": 4})
                continue
            scatter = 0.0 if q.rule in ("trend", "readback-trend") else spread
            rows += [{"id": e.id, "quantity": q.row_key, "instance": k,
                      "value": value * (1.0 + scatter * (k - 1))} for k in range(3)]
        if image_accuracy is not None and any(q.accuracy for q in e.quantities):
            rows += [{"id": e.id, "quantity": rp.RESOLUTION_KEY, "instance": k,
                      "value": image_accuracy} for k in range(3)]
        rows.append({"id": e.id, "figure": "fig", "png": png})
        rows.append({"id": e.id, "job": e.id, "wall_s": 0.5, "config_hash": "abc",
                     "engine": "numpy"})
        store.write(e.id, rows)
    return path

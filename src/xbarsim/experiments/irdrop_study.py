"""IR-drop study: VMM error and network accuracy vs array size and wire resistance (layer 7).

Two parts, every point solved exactly with :func:`xbarsim.crossbar.irdrop.effective_matrix`:

* **VMM.** For each size N and wire resistance r (the same r for row and column segments,
  ideal drivers and virtual grounds), ``instances`` random N×N crossbars (conductances
  uniform 10-100 µS) and ``inputs`` random input vectors (uniform 0-0.1 V), as in thesis
  Fig. 30: error ``|I − I_ideal| / I_max`` with ``I_max = N·100 µS·0.1 V``. Per instance
  the mean and the 99th percentile over inputs and columns; reported as distributions over
  instances (mean, std, 5/50/95 %). Instance ``k`` of size N is drawn from
  ``SeedSequence(seed, spawn_key=(N, k))``: the same crossbars for every r, independent of
  the grid. With ``through_lines`` the same targets are also programmed by a write-verify
  whose verify reads go through the lines
  (:func:`~xbarsim.crossbar.irdrop.program_through_lines`: every single-device read exact,
  idealized) and the error of that array is reported as ``verified_error_*``: IR drop "in
  programming" against IR drop only in inference. Because a single-device read in the
  thesis's read mode measures exactly the effective-matrix entry that inference uses, such
  programming cancels the IR drop of linear devices completely as long as no device needs
  more than the 200 µS the devices reach; what it costs is the larger conductance far from
  the drivers (``verified_g_ratio_max``: the largest ``G / T``). Points where the verify
  loop cannot settle (devices at 200 µS, lines too resistive) report no verified numbers.
* **Network.** The paper's 64×10 single-layer perceptron on 8×8 digits (Fig. 4 setup:
  weights in [0, 1] mapped to 10-100 µS, 0 / 0.25 V inputs), trained once, its exact target
  conductances cut into N×N kernels (unused devices at 10 µS), every kernel solved with
  lines: test accuracy and drop vs the same kernels without line resistance (and, with
  ``through_lines``, ``verified_accuracy`` of kernels programmed through the lines).
  Deterministic given the seed (no instance spread).

No IR-drop result is published for these arrays (in either source document); the table shows
the derived first-order estimate ``r·G·N(N+1)/2`` at the mean 55 µS beside the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from xbarsim.crossbar.irdrop import check_solver_size, effective_matrix, program_through_lines
from xbarsim.crossbar.lines import Lines
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.differential import weights_to_single
from xbarsim.mapping.tiling import tile, untile
from xbarsim.progress import progress_bar
from xbarsim.report.tables import ComparisonRow
from xbarsim.validation import check_positive_int, check_seed

G_RANGE_S = (10e-6, 100e-6)
#: Largest conductance a device reaches (S): the device presets' soft bound g_max.
G_DEVICE_MAX_S = 200e-6
V_MAX_V = 0.1
QUANTILES = (5, 50, 95)


@dataclass
class IrDropStudy:
    """Results of :func:`run_irdrop_study`.

    Attributes
    ----------
    vmm : list of dict
        One record per (size, r_wire_ohm): statistics over instances of the per-instance
        mean error and 99th-percentile error (fractions of I_max).
    network : list of dict
        One record per (size, r_wire_ohm): ``accuracy`` and ``accuracy_drop``.
    software_accuracy : float or None
        Perceptron accuracy on exact conductances with ideal lines.
    """

    vmm: list[dict[str, Any]] = field(default_factory=list)
    network: list[dict[str, Any]] = field(default_factory=list)
    software_accuracy: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Flat JSON record: ``vmm``, ``network``, ``software_accuracy``."""
        return {"vmm": self.vmm, "network": self.network,
                "software_accuracy": self.software_accuracy}


def _stats(prefix: str, values: NDArray[np.float64]) -> dict[str, float]:
    out = {f"{prefix}_mean": float(values.mean()), f"{prefix}_std": float(values.std())}
    for q, v in zip(QUANTILES, np.percentile(values, QUANTILES), strict=True):
        out[f"{prefix}_p{q}"] = float(v)
    return out


def _wire(r: float) -> Lines:
    return Lines(r_row_ohm=r, r_col_ohm=r)


def vmm_point(size: int, r_wire: float, instances: int, inputs: int, seed: int,
              through_lines: bool = False) -> dict:
    """Error statistics of one (size, r) point over ``instances`` crossbars."""
    lines = _wire(r_wire)
    errors: dict[str, tuple[list[float], list[float]]] = {"error": ([], [])}
    boost: list[float] = []
    if through_lines:
        errors["verified_error"] = ([], [])
    for k in range(instances):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(size, k)))
        g = rng.uniform(*G_RANGE_S, size=(size, size))
        v = rng.uniform(0.0, V_MAX_V, size=(inputs, size))
        programmed = {"error": g}
        if through_lines:
            tuned = _through_lines(g[None], lines)
            if tuned is None:  # unreachable: the point reports no verified numbers
                errors.pop("verified_error", None)
                through_lines = False
            else:
                programmed["verified_error"] = tuned[0]
                boost.append(float(np.max(tuned[0] / g)))
        for name, g_dev in programmed.items():
            err = np.abs(v @ effective_matrix(g_dev, lines) - v @ g)
            err /= size * G_RANGE_S[1] * V_MAX_V
            errors[name][0].append(err.mean())
            errors[name][1].append(np.percentile(err, 99))
    record: dict[str, Any] = {"size": size, "r_wire_ohm": r_wire, "instances": instances}
    for name, (means, p99s) in errors.items():
        record |= _stats(f"{name}_mean", np.asarray(means))
        record |= _stats(f"{name}_p99", np.asarray(p99s))
    if boost and "verified_error" in errors:
        record |= _stats("verified_g_ratio_max", np.asarray(boost))
    return record


def _through_lines(targets: NDArray[np.float64], lines: Lines) -> NDArray[np.float64] | None:
    """Conductances programmed with verify reads through the lines, None if unreachable."""
    try:
        return program_through_lines(targets, lines, G_DEVICE_MAX_S)
    except XbarsimInputError:
        return None


def _perceptron(seed: int) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Trained 64×10 perceptron (paper Fig. 4 setup): weights, bias, test images, labels."""
    from xbarsim.nn.data import load_digits
    from xbarsim.nn.training import layer_arrays, perceptron, seeded, train

    data = load_digits(seed=seed)
    with seeded(seed):
        model = perceptron(64, 10, 0.5, weight_range=(0.0, 1.0))
    train(model, data, epochs=60, lr=0.01, batch_size=100, optimizer="adam",
          weight_clip=(0.0, 1.0), seed=seed, threads=1)
    weights, bias = layer_arrays(model[2])
    x = data.x_test.reshape(len(data.x_test), -1).astype(np.float64)
    return weights, bias, x, data.y_test


def _accuracy(matrix: NDArray, bias: NDArray, x: NDArray, y: NDArray, v_in: float) -> float:
    """Readout of the paper's perceptron: currents to weight units, plus bias."""
    currents = (x * v_in) @ matrix
    dg = G_RANGE_S[1] - G_RANGE_S[0]
    pre = (currents / v_in - G_RANGE_S[0] * x.sum(axis=1)[:, None]) / dg + bias
    return float(np.mean(np.argmax(pre, axis=1) == y))


def network_points(sizes: list[int], r_wires: list[float], seed: int,
                   through_lines: bool = False, advance=lambda n=1: None) -> tuple[float, list]:
    """Perceptron accuracy with each kernel size and wire resistance."""
    weights, bias, x, y = _perceptron(seed)
    targets = weights_to_single(weights, *G_RANGE_S)
    software = _accuracy(targets, bias, x, y, 0.25)
    records = []
    for size in sizes:
        kernels, layout = tile(targets - G_RANGE_S[0], size)
        kernels = kernels + G_RANGE_S[0]  # unused devices at the low state
        for r in r_wires:
            matrix, _ = untile(effective_matrix(kernels, _wire(r)), layout)
            acc = _accuracy(matrix, bias, x, y, 0.25)
            record = {"size": size, "r_wire_ohm": r, "accuracy": acc,
                      "accuracy_drop": software - acc}
            tuned = _through_lines(kernels, _wire(r)) if through_lines else None
            if tuned is not None:
                matrix, _ = untile(effective_matrix(tuned, _wire(r)), layout)
                record["verified_accuracy"] = _accuracy(matrix, bias, x, y, 0.25)
            records.append(record)
            advance()
    return software, records


def run_irdrop_study(
    sizes: list[int],
    r_wires: list[float],
    instances: int = 8,
    inputs: int = 200,
    seed: int = 0,
    network: bool = True,
    through_lines: bool = True,
    progress: bool = False,
) -> IrDropStudy:
    """Run both parts of the study (see the module docstring).

    Raises
    ------
    XbarsimInputError
        For empty or invalid sizes / resistances, bad counts, or sizes too large to solve.
    """
    if not sizes or not r_wires:
        raise XbarsimInputError("sizes, r_wire: need at least one value each")
    sizes = [check_positive_int("sizes", s) for s in sizes]
    for r in r_wires:
        if not (np.isfinite(r) and r >= 0.0):
            raise XbarsimInputError(f"r_wire: must be finite and >= 0 ohm, got {r!r}")
    instances = check_positive_int("instances", instances)
    inputs = check_positive_int("inputs", inputs)
    seed = check_seed(seed)
    for s in sizes:
        check_solver_size(s, s)
    study = IrDropStudy()
    total = len(sizes) * len(r_wires) * (2 if network else 1)
    with progress_bar(total, "IR-drop study", enabled=progress) as advance:
        for s in sizes:
            for r in r_wires:
                study.vmm.append(vmm_point(s, r, instances, inputs, seed, through_lines))
                advance()
        if network:
            study.software_accuracy, study.network = network_points(
                sizes, r_wires, seed, through_lines, advance
            )
    return study


def first_order(size: int, r_wire: float) -> float:
    """First-order estimate (derived): far-device deficit ``r·G·N(N+1)/2`` at G = 55 µS."""
    return r_wire * 55e-6 * size * (size + 1) / 2


def comparison_rows(study: IrDropStudy) -> list[ComparisonRow]:
    """One row per point: our first-order estimate (derived) beside the exact VMM error and the
    network accuracy drop."""
    net = {(p["size"], p["r_wire_ohm"]): p for p in study.network}
    rows = []
    for p in study.vmm:
        key = (p["size"], p["r_wire_ohm"])
        text = f"p99 err {p['error_p99_p50']:.3g}"
        if "verified_error_p99_p50" in p:
            text += f" (verified through lines {p['verified_error_p99_p50']:.3g})"
        if key in net:
            text += f", acc drop {100 * net[key]['accuracy_drop']:.2f} pp"
        rows.append(ComparisonRow(f"N={key[0]}, r={key[1]:g} ohm",
                                  f"~{first_order(*key):.3g} (derived)", text))
    return rows


def write_figures(study: IrDropStudy, out: str | Path) -> list[Path]:
    """``irdrop_vmm.png`` (p99 error vs N per r) and ``irdrop_network.png`` (accuracy drop
    vs N per r)."""
    out = Path(out)
    paths = []
    panels = [("irdrop_vmm.png", study.vmm, "error_p99_p50", "VMM error p99 / I_max (median)")]
    if study.network:
        panels.append(("irdrop_network.png", study.network, "accuracy_drop",
                       "accuracy drop (fraction)"))
    for name, records, key, label in panels:
        fig = Figure(figsize=(5, 3.6))
        ax = fig.add_subplot()
        for r in sorted({p["r_wire_ohm"] for p in records}):
            pts = sorted((p["size"], p[key]) for p in records if p["r_wire_ohm"] == r)
            ax.plot([s for s, _ in pts], [v for _, v in pts], marker="o", label=f"{r:g} ohm")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("array size N")
        ax.set_ylabel(label)
        ax.legend(title="wire segment")
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        paths.append(out / name)
    return paths

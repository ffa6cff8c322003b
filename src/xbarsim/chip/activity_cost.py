"""Energy, latency and area of a network chip from recorded activity (layer 5).

:func:`activity_cost` turns what a network's forward passes actually did on the chip --
per layer: matrix evaluations (convolution windows x images), operations, converter
conversions and the column currents the arrays drew -- into energy and latency per
inference, with a per-layer and a per-component breakdown. The component models (TIA
settling and power, DAC and ADC power and rate, array supply, areas) are those of
:mod:`xbarsim.chip.cost`; only the activity is new.

Accounting (the thesis MLP chip's, generalized to layers evaluated several times):

* A layer whose matrix is evaluated ``n`` times per inference (``n`` = windows of a
  convolution, 1 for a fully connected layer) evaluates them one after another on its
  crossbars. One evaluation takes the layer's settling chain: local sensing (when the
  layer spans several row blocks, design R_f of a ``rows``-device bit line) plus the
  neuron (R_f per ``neuron_r_f_ohm``, else the design value for ``inputs`` devices), plus a
  DAC period where the layer's inputs are converted and an ADC period where its outputs
  are. Layers run one after another: the latency ``T`` of an inference is the sum over
  layers of ``n`` times that chain.
* Every circuit is biased for the whole inference (as the thesis's "everything on for one
  settling chain"): each TIA, DAC and ADC contributes its power times ``T``.
* A layer's inputs are held from one evaluation to the next, so each of its ``n``
  evaluations lasts ``T / n``: the arrays draw ``V_dd * sum_j |I_j|`` for that long, with
  ``I_j`` the column currents of every crossbar (both devices of every pair, per row
  block) that the recorded evaluations produced. For ``n = 1`` this is the MLP chip's
  ``V_dd * mean sum |I| * T`` exactly.
* Converters: ``converters="network"`` puts DACs on the first layer's input lines and ADCs
  on the last layer's outputs (layers chained in analog, the thesis chip);
  ``"layer"`` on every layer's (activations digital between layers: batch norm, pooling).
* Ops: 2 per weight per evaluation (a multiply and an add), every window counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from xbarsim.chip.cost import (
    ArrayGroup,
    CostParameters,
    estimate_programming_cost,
    logged_programming_cost,
    programming_cost,
)
from xbarsim.errors import XbarsimInputError
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.port import PulseLog
from xbarsim.programming.result import ProgramResult

Converters = Literal["network", "layer"]
CONVERTERS: tuple[str, ...] = ("network", "layer")


@dataclass(frozen=True)
class LayerActivity(ArrayGroup):
    """What one analog layer (an :class:`~xbarsim.chip.cost.ArrayGroup`) did over the
    recorded forward passes.

    Attributes
    ----------
    name, inputs, outputs, arrays, rows, cols, row_blocks
        The layer on the chip, as :class:`~xbarsim.chip.cost.ArrayGroup`.
    samples : int
        Inferences (images) recorded.
    evaluations : int
        Matrix evaluations recorded (windows x images).
    column_current_a : float
        Sum over evaluations, crossbars and columns of ``|I_j|`` (A), from the conductances
        the layer computed with and the row voltages it was driven with.
    """

    samples: int
    evaluations: int
    column_current_a: float

    @property
    def evaluations_per_inference(self) -> float:
        """Matrix evaluations per inference (windows of a convolution)."""
        return self.evaluations / self.samples

    @property
    def ops(self) -> int:
        """Operations recorded: 2 per weight per evaluation."""
        return 2 * self.inputs * self.outputs * self.evaluations

    @property
    def dac_conversions(self) -> int:
        """Input-line conversions if the layer's inputs come from DACs."""
        return self.inputs * self.evaluations

    @property
    def adc_conversions(self) -> int:
        """Output conversions if the layer's outputs go to ADCs."""
        return self.outputs * self.evaluations

    @property
    def local_tias(self) -> int:
        """Local sensing TIAs: one per *used* column per crossbar when row blocks are summed
        (the printed chip's model counts every column of every crossbar)."""
        return 2 * self.row_blocks * self.outputs if self.row_blocks > 1 else 0

    @property
    def tia_conversions(self) -> int:
        """TIA settlings recorded (local sensing and neuron TIAs, every evaluation)."""
        return (self.local_tias + self.outputs) * self.evaluations

    def merged(self, other: LayerActivity) -> LayerActivity:
        """This layer's activity plus ``other``'s (more forward passes of the same layer)."""
        if (self.name, self.inputs, self.outputs) != (other.name, other.inputs, other.outputs):
            raise XbarsimInputError(
                f"activity: cannot merge layer {other.name!r} into {self.name!r}"
            )
        return replace(
            self,
            samples=self.samples + other.samples,
            evaluations=self.evaluations + other.evaluations,
            column_current_a=self.column_current_a + other.column_current_a,
        )


def check_converters(converters: str) -> str:
    """Validate a converter placement (``"network"`` or ``"layer"``)."""
    if converters not in CONVERTERS:
        raise XbarsimInputError(
            f"converters: unknown placement {converters!r}; allowed: {', '.join(CONVERTERS)}"
        )
    return converters


def activity_cost(
    layers: list[LayerActivity],
    params: CostParameters | None = None,
    converters: str = "network",
    neuron_r_f_ohm: dict[str, float] | None = None,
) -> dict[str, object]:
    """Energy and latency per inference of recorded activity, with breakdowns.

    Parameters
    ----------
    layers : list of LayerActivity
        In the order the network evaluates them; all recorded over the same inferences.
    params : CostParameters, optional
    converters : {"network", "layer"}
        Where DACs and ADCs sit (module docstring).
    neuron_r_f_ohm : dict, optional
        Neuron transimpedance per layer name (Ohm); default the design value.

    Returns
    -------
    dict
        ``ops_per_inference, energy_per_inference_j, latency_s, power_w, ops_per_j,
        ops_per_s, area_mm2, dacs, adcs, tias, arrays, inferences`` and
        ``energy_breakdown_j`` (per component), ``latency_breakdown_s``,
        ``area_breakdown_mm2``, ``layers`` (per layer: evaluations, ops, conversions, column
        current, energy and latency per inference).
    """
    if not layers:
        raise XbarsimInputError("activity: no analog layer was evaluated")
    samples = {a.samples for a in layers}
    if len(samples) != 1 or 0 in samples:
        raise XbarsimInputError(
            f"activity: every layer must be recorded over the same inferences, got {samples}"
        )
    converters = check_converters(converters)
    p = CostParameters() if params is None else params
    (n_inferences,) = samples
    last = len(layers) - 1
    t_dac, t_adc = 1.0 / p.dac_rate_sps, 1.0 / p.adc_rate_sps
    tia_w = p.tia_power_w()
    latency: dict[str, float] = {}
    chain: list[dict[str, float]] = []
    for k, a in enumerate(layers):
        n = a.evaluations_per_inference
        has_dac = converters == "layer" or k == 0
        has_adc = converters == "layer" or k == last
        steps = {}
        if has_dac:
            steps["dac"] = t_dac
        if a.row_blocks > 1:
            steps["local sensing"] = p.settling_time_s(p.feedback_resistance_ohm(a.rows))
        r_f = None if neuron_r_f_ohm is None else neuron_r_f_ohm.get(a.name)
        r_f = p.feedback_resistance_ohm(a.inputs) if r_f is None else r_f
        steps["neurons"] = p.settling_time_s(r_f)
        if has_adc:
            steps["adc"] = t_adc
        for step, t in steps.items():
            latency[f"{a.name} {step}"] = n * t
        chain.append({"dac": float(has_dac), "adc": float(has_adc), "n": n})
    total_t = sum(latency.values())
    energy: dict[str, float] = {}
    area: dict[str, float] = {}
    per_layer: list[dict[str, object]] = []
    dacs = adcs = tias = 0
    for a, info in zip(layers, chain, strict=True):
        n_dac = a.inputs if info["dac"] else 0
        n_adc = a.outputs if info["adc"] else 0
        dacs, adcs, tias = dacs + n_dac, adcs + n_adc, tias + a.local_tias + a.outputs
        parts = {
            "arrays": p.v_dd_v * a.column_current_a / n_inferences * total_t / info["n"],
            "local sensing": a.local_tias * tia_w * total_t,
            "neurons": a.outputs * tia_w * total_t,
            "dacs": n_dac * p.dac_power_w * total_t,
            "adcs": n_adc * p.adc_power_w * total_t,
        }
        for part, e in parts.items():
            if e or part in ("arrays", "neurons"):
                energy[f"{a.name} {part}"] = e
        area[f"{a.name} arrays"] = a.arrays * a.rows * a.cols * p.cell_area_um2 * 1e-6
        area[f"{a.name} x-blocks"] = a.arrays * (a.rows + a.cols) * p.electrode_area_um2 * 1e-6
        area[f"{a.name} tias"] = (a.local_tias + a.outputs) * p.tia_area_um2 * 1e-6
        if n_dac:
            area[f"{a.name} dacs"] = n_dac * p.dac_area_um2 * 1e-6
        if n_adc:
            area[f"{a.name} adcs"] = n_adc * p.adc_area_um2 * 1e-6
        per_layer.append(
            {
                **{k: v for k, v in asdict(a).items() if k != "column_current_a"},
                "evaluations_per_inference": a.evaluations_per_inference,
                "ops_per_inference": a.ops / n_inferences,
                "dac_conversions_per_inference": n_dac * info["n"],
                "adc_conversions_per_inference": n_adc * info["n"],
                "tia_conversions_per_inference": a.tia_conversions / n_inferences,
                "column_current_a_per_inference": a.column_current_a / n_inferences,
                "energy_j": sum(parts.values()),
                "latency_s": sum(t for k, t in latency.items() if k.startswith(f"{a.name} ")),
            }
        )
    ops = sum(a.ops for a in layers) / n_inferences
    total_e = sum(energy.values())
    total_a = sum(area.values())
    return {
        "inferences": n_inferences,
        "converters": converters,
        "ops_per_inference": ops,
        "energy_per_inference_j": total_e,
        "latency_s": total_t,
        "power_w": total_e / total_t,
        "ops_per_j": ops / total_e,
        "ops_per_s": ops / total_t,
        "area_mm2": total_a,
        "arrays": sum(a.arrays for a in layers),
        "dacs": dacs,
        "adcs": adcs,
        "tias": tias,
        "energy_breakdown_j": energy,
        "latency_breakdown_s": latency,
        "area_breakdown_mm2": area,
        "layers": per_layer,
    }


def run_programming_cost(
    result: ProgramResult | None,
    algorithm: WriteVerify | None,
    params: CostParameters | None = None,
    log: PulseLog | None = None,
    groups: dict[str, NDArray[np.intp]] | None = None,
) -> dict[str, object]:
    """Programming energy (J) and time (s) of a deployment's run.

    From the pulse log where one was recorded (:func:`xbarsim.chip.cost.programming_cost`,
    exact), else from the pulse counts and write power every engine
    records (:func:`xbarsim.chip.cost.logged_programming_cost`, per group with
    ``groups``), else (a result without amplitudes) from the pulse counts on the
    algorithm's ramp grid (:func:`xbarsim.chip.cost.estimate_programming_cost`, an upper
    estimate); zeros when nothing was programmed (targets loaded exactly).
    ``programming_method`` names which.
    """
    if log is not None:
        return {**programming_cost(log, params), "programming_method": "pulse log"}
    if result is None or algorithm is None:
        return {
            "programming_energy_j": 0.0,
            "write_energy_j": 0.0,
            "read_energy_j": 0.0,
            "programming_time_s": 0.0,
            "pulses": 0.0,
            "reads": 0.0,
            "programming_method": "none (targets loaded exactly)",
        }
    if result.pulse_power_w is not None:
        return logged_programming_cost(result, params, groups)
    return {
        **estimate_programming_cost(result, algorithm, params),
        "programming_method": "ramp-grid upper estimate",
    }

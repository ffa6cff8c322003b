"""Energy, area and latency of VMMs and chips, from simulated activity (layer 5, thesis 4.1.2).

Component models in physical units (our reading of the thesis, section 4.1.2, Figs. 51, 53
and 56). Every parameter carries its source in :data:`SOURCES`: ``P`` published, ``D``
derived from published numbers, ``U`` not given in the source documents (our default, an
assumption printed in every report).

* TIA: fixed current budget per TIA (60 uA, published) from V_dd; 1 % settling time
  ``t0 + ln(100) R_f C`` with ``R_f = V_out,d / I_max`` (published formula; the constants are
  our assumptions).
* Array (inference): the printed ``(N/2) V_max G_avg V_dd`` per VMM (``array_power =
  "thesis"``, the form that gives the published linear trend) or that column power summed
  over the array's columns (``"per_column_sum"``, ``cols x (rows/2) V_max G_avg V_dd``);
  from simulated VMMs, the supply current the columns actually drew, ``V_dd * sum_j |I_j|``
  (:func:`array_supply_power_w`).
* DAC 361 uW at 62.5 MS/s, flash ADC 1.6 mW at 500 MS/s (published); a conversion period each in
  the mixed-signal latency.
* Area of the active circuitry only (published): cells, TIAs, per-electrode periphery
  (tuning and inference switches, decoder slice, level shifter), DACs, ADCs (the values are
  not given in the source documents; our assumptions).
* Programming: energy and time from a write-verify :class:`~xbarsim.programming.port.PulseLog`
  (every pulse's whole-array power, half-selected devices included), from what every
  engine records per device (pulse counts and the sum of the pulses' squared amplitudes,
  :func:`logged_programming_cost`), or, for a result without the latter, an upper
  estimate from the algorithm's ramp grid (:func:`estimate_programming_cost`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from xbarsim.errors import XbarsimInputError
from xbarsim.periphery import ADC, DAC
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.port import PulseLog
from xbarsim.programming.pulse_power import POWER_PARTS
from xbarsim.programming.result import ProgramResult

_DAC = DAC.thesis()
_ADC = ADC()

VmmKind = Literal["analog", "mixed"]
KINDS: tuple[str, ...] = ("analog", "mixed")

#: Where each :class:`CostParameters` value comes from (status, source).
SOURCES: dict[str, tuple[str, str]] = {
    "v_dd_v": ("U", "supply for array and TIA power; thesis core supply 1.8 V (4.1.1, Fig. 39)"),
    "v_max_v": ("P", "largest WL input, thesis 4.1.2a"),
    "g_avg_s": ("P", "average device conductance, thesis 4.1.2a"),
    "v_out_range_v": ("P", "TIA output range 0.1-1.2 V, thesis 4.1.3, Fig. 58"),
    "tia_current_a": ("P", "TIA current budget 60 uA, thesis 4.1.2a"),
    "settle_t0_s": ("U", "TIA slewing part of the 1 % settling time (our assumption)"),
    "settle_load_f": ("P", "20 fF load of the TIA simulations, thesis 4.1.2a"),
    "dac_power_w": ("P", "5-bit current-steering DAC, thesis 4.1.2b"),
    "dac_rate_sps": ("P", "thesis 4.1.2b"),
    "adc_power_w": ("P", "5-bit flash ADC, thesis 4.1.2b"),
    "adc_rate_sps": ("P", "thesis 4.1.2b"),
    "cell_area_um2": ("D", "(2F)^2 with F = 250 nm, thesis Fig. 45"),
    "tia_area_um2": ("U", "per TIA; our assumption (thesis Fig. 51 gives no area)"),
    "electrode_area_um2": (
        "U", "switches, decoder slice, level shifter per electrode; our assumption"
    ),
    "dac_area_um2": ("U", "per DAC; our assumption (thesis Fig. 53 gives no area)"),
    "adc_area_um2": ("U", "per ADC; our assumption (thesis Fig. 53 gives no area)"),
    "array_power": ("E", "printed formula is one column's power; 'thesis' or summed over columns"),
    "pulse_width_s": ("P", "1 ms write pulses, paper Fig. 2 protocol"),
    "read_time_s": ("U", "one verify read (DC current measurement)"),
    "read_voltage_v": ("P", "verify reads at 0.25 V, paper"),
}


class CostParameters(BaseModel):
    """Parameters of the energy, area and latency models (SI units; see :data:`SOURCES`).

    Attributes
    ----------
    v_dd_v : float
        Supply voltage (V).
    v_max_v, g_avg_s : float
        Largest input (V) and average device conductance (S) of the TIA design.
    v_out_range_v : float
        TIA output swing (V).
    tia_current_a : float
        Current budget per TIA (A).
    settle_t0_s, settle_load_f : float
        1 % settling time ``t0 + ln(100) R_f C``: t0 (s), C (F).
    dac_power_w, dac_rate_sps, adc_power_w, adc_rate_sps : float
        Converter power (W) and rate (samples/s).
    cell_area_um2, tia_area_um2, electrode_area_um2, dac_area_um2, adc_area_um2 : float
        Areas (um^2).
    array_power : {"thesis", "per_column_sum"}
        Printed per-VMM array power (one column's), or that column power summed over the
        array's columns.
    pulse_width_s, read_time_s, read_voltage_v : float
        Write pulse duration (s), verify read duration (s) and voltage (V).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    v_dd_v: float = Field(1.8, gt=0.0, le=10.0)
    v_max_v: float = Field(0.1, gt=0.0, le=5.0)
    g_avg_s: float = Field(50e-6, gt=0.0, lt=1.0)
    v_out_range_v: float = Field(1.1, gt=0.0, le=10.0)
    tia_current_a: float = Field(60e-6, ge=0.0, le=1.0)
    settle_t0_s: float = Field(8e-9, ge=0.0, le=1.0)
    settle_load_f: float = Field(20e-15, ge=0.0, le=1e-6)
    dac_power_w: float = Field(_DAC.power_w, ge=0.0)
    dac_rate_sps: float = Field(_DAC.rate_sps, gt=0.0)
    adc_power_w: float = Field(_ADC.power_w, ge=0.0)
    adc_rate_sps: float = Field(_ADC.rate_sps, gt=0.0)
    cell_area_um2: float = Field(0.25, ge=0.0)
    tia_area_um2: float = Field(2000.0, ge=0.0)
    electrode_area_um2: float = Field(300.0, ge=0.0)
    dac_area_um2: float = Field(3000.0, ge=0.0)
    adc_area_um2: float = Field(5000.0, ge=0.0)
    array_power: Literal["thesis", "per_column_sum"] = "thesis"
    pulse_width_s: float = Field(1e-3, gt=0.0, le=10.0)
    read_time_s: float = Field(10e-6, ge=0.0, le=10.0)
    read_voltage_v: float = Field(0.25, gt=0.0, le=5.0)

    def report(self) -> list[tuple[str, float | str, str, str]]:
        """(name, value, status, source) of every parameter, for printing beside results."""
        return [(k, getattr(self, k), *SOURCES[k]) for k in type(self).model_fields]

    def tia_power_w(self) -> float:
        """Power of one TIA (W): its current budget from V_dd."""
        return self.tia_current_a * self.v_dd_v

    def feedback_resistance_ohm(self, n: int) -> float:
        """Design R_f = V_out,d / ((N/2) G_avg V_max) of an N-device bit line (Ohm)."""
        return self.v_out_range_v / (0.5 * n * self.g_avg_s * self.v_max_v)

    def settling_time_s(self, r_f_ohm: float) -> float:
        """1 % settling time of a TIA with feedback ``r_f_ohm`` (s)."""
        return self.settle_t0_s + math.log(100.0) * r_f_ohm * self.settle_load_f

    def array_power_w(self, rows: int, cols: int | None = None) -> float:
        """Average inference power of a ``rows`` x ``cols`` array (W), per ``array_power``.

        One column of ``rows`` devices at the design current draws
        ``P_col = (rows / 2) V_max G_avg V_dd``; ``"thesis"`` is that printed figure,
        ``"per_column_sum"`` sums it over the array's ``cols`` columns (default
        ``cols = rows``, a square array).
        """
        column = 0.5 * rows * self.v_max_v * self.g_avg_s * self.v_dd_v
        if self.array_power == "thesis":
            return column
        return (rows if cols is None else cols) * column


def _check_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise XbarsimInputError(f"size: must be an integer >= 1, got {size!r}")
    return int(size)


def check_kind(kind: str) -> str:
    """Validate a VMM kind (``"analog"`` or ``"mixed"``)."""
    if kind not in KINDS:
        raise XbarsimInputError(f"kind: unknown VMM kind {kind!r}; allowed: {', '.join(KINDS)}")
    return kind


def vmm_cost(size: int, kind: str, params: CostParameters | None = None) -> dict[str, object]:
    """Power, latency, area and efficiencies of one N x N VMM (thesis Figs. 51, 53).

    Parameters
    ----------
    size : int
        N (rows = columns), >= 1.
    kind : {"analog", "mixed"}
        Fully analog (off-chip converters not counted) or mixed-signal (N DACs, N ADCs).
    params : CostParameters, optional

    Returns
    -------
    dict
        ``size, kind, power_w, latency_s, energy_per_op_j, ops_per_s, ops_per_s_per_mm2,
        energy_eff_op_per_j, area_mm2, ops`` and ``power_breakdown_w``,
        ``area_breakdown_mm2``, ``latency_breakdown_s``.
    """
    n = _check_size(size)
    kind = check_kind(kind)
    p = CostParameters() if params is None else params
    power = {"tia": n * p.tia_power_w(), "array": p.array_power_w(n)}
    area = {
        "cells": n * n * p.cell_area_um2 * 1e-6,
        "tia": n * p.tia_area_um2 * 1e-6,
        "x_block": 2 * n * p.electrode_area_um2 * 1e-6,
    }
    latency = {"tia": p.settling_time_s(p.feedback_resistance_ohm(n))}
    if kind == "mixed":
        power.update(dac=n * p.dac_power_w, adc=n * p.adc_power_w)
        area.update(dac=n * p.dac_area_um2 * 1e-6, adc=n * p.adc_area_um2 * 1e-6)
        latency.update(dac=1.0 / p.dac_rate_sps, adc=1.0 / p.adc_rate_sps)
    ops = 2 * n * n
    total_p = sum(power.values())
    total_t = sum(latency.values())
    total_a = sum(area.values())
    ops_per_s = ops / total_t
    return {
        "size": n,
        "kind": kind,
        "ops": ops,
        "power_w": total_p,
        "latency_s": total_t,
        "energy_per_op_j": total_p * total_t / ops,
        "energy_eff_op_per_j": ops / (total_p * total_t),
        "ops_per_s": ops_per_s,
        "area_mm2": total_a,
        "ops_per_s_per_mm2": ops_per_s / total_a,
        "power_breakdown_w": power,
        "area_breakdown_mm2": area,
        "latency_breakdown_s": latency,
    }


def loglog_slope(x: ArrayLike, y: ArrayLike) -> float:
    """Least-squares slope of log(y) against log(x)."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    return float(np.polyfit(lx, ly, 1)[0])


def array_supply_power_w(currents_a: ArrayLike, params: CostParameters | None = None) -> float:
    """Average array power (W) of simulated VMM evaluations: the supply current the columns
    actually drew, ``V_dd * mean over evaluations of sum_j |I_j|``.

    Parameters
    ----------
    currents_a : array_like, shape (evaluations, ...)
        Column currents of every evaluation (A); trailing axes are summed.
    params : CostParameters, optional
    """
    p = CostParameters() if params is None else params
    i = np.abs(np.asarray(currents_a, dtype=np.float64))
    if i.ndim == 0 or i.shape[0] == 0:
        raise XbarsimInputError("currents_a: need at least one evaluation")
    return float(p.v_dd_v * i.reshape(i.shape[0], -1).sum(axis=1).mean())


def programming_cost(log: PulseLog, params: CostParameters | None = None) -> dict[str, float]:
    """Energy (J) and time (s) of a logged write-verify run, half-selected devices included.

    Write energy: each pulse's whole-array power times the pulse width. Read energy: each
    verify read as ``V_read^2 G_avg`` over the read time (an estimate: the sensed device
    plus, at 0 V, nothing else on its bit line).
    """
    p = CostParameters() if params is None else params
    write = float(log.array_power_w.sum() * p.pulse_width_s)
    read = log.reads * p.read_voltage_v**2 * p.g_avg_s * p.read_time_s
    return {
        "programming_energy_j": write + read,
        "write_energy_j": write,
        "read_energy_j": read,
        "programming_time_s": log.pulses * p.pulse_width_s + log.reads * p.read_time_s,
        "pulses": float(log.pulses),
        "reads": float(log.reads),
    }


def estimate_programming_cost(
    result: ProgramResult, algorithm: WriteVerify, params: CostParameters | None = None
) -> dict[str, float]:
    """Programming energy (J) and time (s) estimated from pulse counts (compiled engines).

    Each device's pulses are taken as consecutive set ramps from ``ramp_start_v`` in
    ``step_set_v`` steps, restarting at the cap; each pulse's power is ``V^2 G`` on the
    selected device (its target) plus ``(V f)^2`` on the other devices of its row and column
    (their targets, ``f`` the scheme's line fraction) and ``(V f_o)^2`` on the rest. Reads:
    one per pulse plus one per device and pass. Treating a device's pulses of all passes as
    one ramp overstates the amplitudes: on 8 x 8 crossbars (thesis algorithm, 3 passes,
    sigma 5 % and 25 %, 5 seeds) the write energy came out 2.1-2.4 times the exact
    :func:`programming_cost` of the logged run, so read it as an upper estimate.
    """
    p = CostParameters() if params is None else params
    g = result.target
    f_line = algorithm.scheme.line_fraction
    f_other = abs(algorithm.scheme.other_fraction)
    length = algorithm.ramp_length(1)
    write = 0.0
    for b in range(g.shape[0]):
        gb = g[b]
        row_sum = gb.sum(axis=1, keepdims=True) - gb
        col_sum = gb.sum(axis=0, keepdims=True) - gb
        rest = gb.sum() - gb - row_sum - col_sum
        weight = gb + f_line**2 * (row_sum + col_sum) + f_other**2 * rest
        counts = result.pulses[b]
        full, part = np.divmod(counts, length)
        k = np.arange(length)
        v2_cum = np.concatenate(
            [[0.0], np.cumsum((algorithm.ramp_start_v + k * algorithm.step_set_v) ** 2)]
        )
        v2 = full * v2_cum[-1] + v2_cum[part]
        write += float((weight * v2).sum())
    write *= p.pulse_width_s
    pulses = int(result.pulses.sum())
    reads = pulses + result.pulses.size * result.pulses_per_pass.shape[1]
    read = reads * p.read_voltage_v**2 * p.g_avg_s * p.read_time_s
    return {
        "programming_energy_j": write + read,
        "write_energy_j": write,
        "read_energy_j": read,
        "programming_time_s": pulses * p.pulse_width_s + reads * p.read_time_s,
        "pulses": float(pulses),
        "reads": float(reads),
    }


def logged_programming_cost(
    result: ProgramResult,
    params: CostParameters | None = None,
    groups: dict[str, NDArray[np.intp]] | None = None,
) -> dict[str, object]:
    """Programming energy (J) and time (s) from what the run recorded.

    Every engine records, per crossbar, the power sums of its write pulses in the selected
    devices, their half-selected line neighbours and the other devices
    (:attr:`~xbarsim.programming.result.ProgramResult.pulse_power_w`, W; from each device's
    squared amplitudes and its conductance midway between its start and its target, see
    :mod:`xbarsim.programming.pulse_power`); times the pulse width they are the write
    energy. On 8 x 8 crossbars (thesis and paper algorithms, six seeds each) this came
    within 0.99-1.09 of the exact :func:`programming_cost` of the logged run at sigma 5 %
    and 0.79-0.98 at sigma 25 % (median 0.93, an underestimate). Reads: one verify read
    after every pulse plus one per switchable device and pass, each ``V_read^2 G_avg`` over
    the read time. Time: pulses times the pulse width plus reads times the read time.

    Parameters
    ----------
    result : ProgramResult
        With ``pulse_power_w`` (every engine records it).
    params : CostParameters, optional
    groups : dict of str to ndarray of int, optional
        Batch indices of the crossbars of each named group (e.g. a network layer's
        ``G+`` and ``G-`` kernels): adds ``programming_layers`` with each group's energy,
        time, pulses and reads.

    Returns
    -------
    dict
        ``programming_energy_j, write_energy_j, read_energy_j, programming_time_s,
        pulses, reads``, ``programming_energy_breakdown_j`` (selected devices, half-selected
        line devices, other devices, verify reads), ``programming_method`` and, with
        ``groups``, ``programming_layers``.

    Raises
    ------
    XbarsimInputError
        When the result has no ``pulse_power_w``.
    """
    if result.pulse_power_w is None:
        raise XbarsimInputError(
            "result: no write power recorded per crossbar (pulse_power_w); use "
            "estimate_programming_cost"
        )
    p = CostParameters() if params is None else params
    parts = {name: result.pulse_power_w[:, k] for k, name in enumerate(POWER_PARTS)}
    passes = result.pulses_per_pass.shape[1]
    pulses = result.pulses.sum(axis=(1, 2))
    reads = pulses + (~result.unswitchable).sum(axis=(1, 2)) * passes
    per_read = p.read_voltage_v**2 * p.g_avg_s * p.read_time_s

    def summed(index: NDArray[np.intp] | slice) -> dict[str, object]:
        write = {k: float(v[index].sum() * p.pulse_width_s) for k, v in parts.items()}
        read = float(reads[index].sum() * per_read)
        n_pulses, n_reads = int(pulses[index].sum()), int(reads[index].sum())
        return {
            "programming_energy_j": sum(write.values()) + read,
            "write_energy_j": sum(write.values()),
            "read_energy_j": read,
            "programming_time_s": n_pulses * p.pulse_width_s + n_reads * p.read_time_s,
            "pulses": float(n_pulses),
            "reads": float(n_reads),
            "programming_energy_breakdown_j": {**write, "verify reads": read},
        }

    out = summed(slice(None))
    out["programming_method"] = "pulse amplitudes recorded per device"
    if groups is not None:
        out["programming_layers"] = {name: summed(index) for name, index in groups.items()}
    return out


@dataclass(frozen=True)
class ArrayGroup:
    """One network layer on a tiled chip (thesis 4.1.2c).

    Attributes
    ----------
    name : str
    inputs, outputs : int
        Logical input lines (bias row included) and output neurons.
    arrays : int
        Physical crossbars (both devices of every differential pair).
    rows, cols : int
        Size of each physical crossbar.
    row_blocks : int
        Crossbars summed per output column per sign; above 1 each crossbar column has a
        local sensing TIA whose outputs are summed at the neuron.
    """

    name: str
    inputs: int
    outputs: int
    arrays: int
    rows: int
    cols: int
    row_blocks: int

    @property
    def synapses(self) -> int:
        """Logical weights (bias included)."""
        return self.inputs * self.outputs

    @property
    def local_tias(self) -> int:
        """Local sensing TIAs (one per crossbar column when crossbars are summed)."""
        return self.arrays * self.cols if self.row_blocks > 1 else 0


def chip_cost(
    groups: list[ArrayGroup],
    params: CostParameters | None = None,
    array_power_w: dict[str, float] | None = None,
    neuron_r_f_ohm: dict[str, float] | None = None,
) -> dict[str, object]:
    """Power, latency, energy and area of a tiled, mixed-signal network chip.

    Components: one DAC per input line of the first layer; each crossbar's array power
    (``array_power_w[name]`` from simulated currents, else the printed per-array formula);
    local sensing TIAs; one neuron TIA per output; one ADC per output of the last layer;
    X-block periphery per electrode. Latency: DAC period + per layer the 1 % settling of the
    local sensing (design R_f of a ``rows``-device bit line) and of the neuron (``R_f`` from
    ``neuron_r_f_ohm[name]``, else the design value for ``inputs`` devices) + ADC period.
    Ops: 2 per synapse per inference.

    Returns
    -------
    dict
        ``synapses, devices, tiles, dacs, adcs, tias, ops_per_inference, latency_s,
        power_w, energy_per_inference_j, ops_per_j, ops_per_s, area_mm2,
        ops_per_mm2`` and ``power_breakdown_w``, ``area_breakdown_mm2``,
        ``latency_breakdown_s``.
    """
    if not groups:
        raise XbarsimInputError("groups: a chip needs at least one layer")
    p = CostParameters() if params is None else params
    tia_w = p.tia_power_w()
    dacs = groups[0].inputs
    adcs = groups[-1].outputs
    power = {"dacs": dacs * p.dac_power_w}
    area = {"dacs": dacs * p.dac_area_um2 * 1e-6}
    latency = {"dac": 1.0 / p.dac_rate_sps}
    tias = 0
    for g in groups:
        measured = None if array_power_w is None else array_power_w.get(g.name)
        power[f"{g.name} arrays"] = (
            measured if measured is not None else g.arrays * p.array_power_w(g.rows, g.cols)
        )
        power[f"{g.name} local sensing"] = g.local_tias * tia_w
        power[f"{g.name} neurons"] = g.outputs * tia_w
        tias += g.local_tias + g.outputs
        area[f"{g.name} arrays"] = g.arrays * g.rows * g.cols * p.cell_area_um2 * 1e-6
        area[f"{g.name} x-blocks"] = g.arrays * (g.rows + g.cols) * p.electrode_area_um2 * 1e-6
        area[f"{g.name} tias"] = (g.local_tias + g.outputs) * p.tia_area_um2 * 1e-6
        if g.local_tias:
            latency[f"{g.name} local sensing"] = p.settling_time_s(
                p.feedback_resistance_ohm(g.rows)
            )
        r_f = None if neuron_r_f_ohm is None else neuron_r_f_ohm.get(g.name)
        r_f = p.feedback_resistance_ohm(g.inputs) if r_f is None else r_f
        latency[f"{g.name} neurons"] = p.settling_time_s(r_f)
    power["adcs"] = adcs * p.adc_power_w
    area["adcs"] = adcs * p.adc_area_um2 * 1e-6
    latency["adc"] = 1.0 / p.adc_rate_sps
    synapses = sum(g.synapses for g in groups)
    ops = 2 * synapses
    total_p, total_t, total_a = sum(power.values()), sum(latency.values()), sum(area.values())
    energy = total_p * total_t
    return {
        "synapses": synapses,
        "devices": 2 * synapses,
        "tiles": sum(g.arrays for g in groups if g.row_blocks > 1),
        "arrays": sum(g.arrays for g in groups),
        "dacs": dacs,
        "adcs": adcs,
        "tias": tias,
        "neurons": sum(g.outputs for g in groups),
        "ops_per_inference": ops,
        "latency_s": total_t,
        "power_w": total_p,
        "energy_per_inference_j": energy,
        "ops_per_j": ops / energy,
        "ops_per_s": ops / total_t,
        "area_mm2": total_a,
        "ops_per_mm2": ops / total_a,
        "power_breakdown_w": power,
        "area_breakdown_mm2": area,
        "latency_breakdown_s": latency,
    }

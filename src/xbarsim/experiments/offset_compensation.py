"""Thesis Figs. 59-61: cancelling TIA offsets with memristor pairs (layer 7).

Procedure (thesis 4.1.3): draw an offset per TIA; measure each in the
X-block's sensing-circuit monitoring mode (zero input current, ``V_out - V_cm``); compute
the compensation pair (corrected condition, one device at ~6 uS, dV = 400 mV); program the
2 x T compensation array (row 0: the devices to ``V_cm - dV``, row 1: to ``V_cm + dV``,
column k: TIA k's summing node) with write-verify through the X-block, so tuning errors,
half-select disturbance and unswitchable devices are real; measure again. A sensitivity
sweep over tuning accuracy and R_f (same offsets and devices, engine-programmed) shows which
parameter decides the published "all 40 below 1 mV".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from xbarsim.chip.cost import CostParameters, programming_cost
from xbarsim.chip.offset import OffsetComp, draw_offsets
from xbarsim.chip.xblock import XBlock
from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.config import DeviceConfig, preset
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.published import published_value
from xbarsim.periphery import TIA
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import program
from xbarsim.programming.port import Mode, PulseLog, program_port
from xbarsim.report.tables import ComparisonRow
from xbarsim.validation import check_positive_int, check_seed

EXPERIMENT = "T60_offset_compensation"
THRESHOLD_V = 1e-3


@dataclass
class TracingPort:
    """An X-block that also records every verify read (for the Fig. 61 trajectory)."""

    xblock: XBlock
    reads: list[tuple[int, int, float]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Word lines."""
        return self.xblock.rows

    @property
    def cols(self) -> int:
        """Bit lines."""
        return self.xblock.cols

    def select(self, row: int, col: int) -> None:
        """Select a device."""
        self.xblock.select(row, col)

    def set_mode(self, mode: Mode) -> None:
        """Set the mode."""
        self.xblock.set_mode(mode)

    def apply_pulse(self, amplitude_v: float) -> float:
        """Pulse; returns array power (W)."""
        return self.xblock.apply_pulse(amplitude_v)

    def read(self) -> float:
        """Read the selected device (S) and record it."""
        g = self.xblock.read()
        self.reads.append((self.xblock.wl_register.address, self.xblock.bl_register.address, g))
        return g


def measure_offsets(
    tias: list[TIA], comp: OffsetComp, pair: NDArray[np.float64] | None, xblock: XBlock
) -> NDArray[np.float64]:
    """Offsets (V) measured in sensing-circuit monitoring mode: zero applied current,
    ``V_out - V_cm`` of each TIA, with its compensation pair ``pair[:, k]`` (S) attached
    (none before compensation)."""

    def sense(col: int, current_a: float) -> float:
        node = 0.0 if pair is None else comp.node_current_a(tias[col], pair[0, col], pair[1, col])
        return float(tias[col].output(current_a + node).v_out[()])

    xblock.sense = sense
    out = np.empty(len(tias))
    for k, tia in enumerate(tias):
        xblock.select(0, k)
        xblock.set_mode(Mode.MONITOR_SENSE)
        out[k] = xblock.monitor_sense(0.0) - tia.v_cm_v
    return out


@dataclass
class OffsetRun:
    """Outcome of one offset-compensation experiment (see :func:`run_offset_compensation`)."""

    summary: dict[str, object]
    offset_before_v: NDArray[np.float64]
    offset_after_v: NDArray[np.float64]
    offset_current_a: NDArray[np.float64]
    pair_trace: list[tuple[int, int, float]]
    targets_s: NDArray[np.float64]
    log: PulseLog


def _setup(tias: int, seed: int, sigma_v: float, limit_v: float) -> NDArray[np.float64]:
    tias = check_positive_int("tias", tias)
    root = np.random.SeedSequence(check_seed(seed))
    offsets_seq, _ = root.spawn(2)
    return draw_offsets(tias, sigma_v, limit_v, offsets_seq)


def _devices(tias: int, seed: int, device: DeviceConfig) -> Crossbar:
    _, devices_seq = np.random.SeedSequence(seed).spawn(2)
    child = int(devices_seq.generate_state(1)[0])
    return Crossbar.sample(device, (2, tias), seed=child)


def _residuals(
    offsets: NDArray, conductance: NDArray, r_f_ohm: float, comp: OffsetComp
) -> NDArray[np.float64]:
    out = np.empty(offsets.size)
    for k, v in enumerate(offsets):
        tia = TIA(r_f_ohm=r_f_ohm, offset_v=float(v))
        node = comp.node_current_a(tia, conductance[0, k], conductance[1, k])
        out[k] = float(tia.output(node).v_out[()]) - tia.v_cm_v
    return out


def run_offset_compensation(
    tias: int = 40,
    seed: int = 0,
    sigma_v: float = 0.035,
    limit_v: float = 0.1,
    r_f_ohm: float = 18.4e3,
    tolerance: float = 0.01,
    comp: OffsetComp | None = None,
    device: DeviceConfig | None = None,
    cost: CostParameters | None = None,
) -> OffsetRun:
    """Measure, compensate (write-verify through the X-block) and re-measure TIA offsets.

    Parameters
    ----------
    tias : int
        Number of TIAs (>= 1); the thesis used 40.
    seed : int
        Root seed: child 0 draws the offsets, child 1 the compensation devices.
    sigma_v, limit_v : float
        Offset distribution: Normal(0, sigma) truncated at +/- limit (V); an assumption.
    r_f_ohm : float
        TIA feedback resistance (Ohm); the thesis measured 18.4 kOhm.
    tolerance : float
        Write-verify target accuracy (fraction); the thesis used 1 %.
    comp : OffsetComp, optional
    device : DeviceConfig, optional
        Compensation devices (default: the paper's preset).
    cost : CostParameters, optional
        For the programming energy and time.
    """
    comp = OffsetComp() if comp is None else comp
    device = preset("tio2-64x64-paper") if device is None else device
    offsets = _setup(tias, seed, sigma_v, limit_v)
    if not r_f_ohm > 0.0:
        raise XbarsimInputError(f"r_f_ohm: must be > 0 Ohm, got {r_f_ohm}")
    tia_list = [TIA(r_f_ohm=r_f_ohm, offset_v=float(v)) for v in offsets]
    xbars = _devices(tias, seed, device)
    xblock = XBlock(xbars)
    before = measure_offsets(tia_list, comp, None, xblock)
    g_c1, g_c2 = comp.pair(before, TIA(r_f_ohm=r_f_ohm))
    targets = np.stack([g_c1, g_c2])
    algorithm = WriteVerify.thesis(tolerance=tolerance)
    port = TracingPort(xblock)
    result, log = program_port(port, targets, algorithm, skip=xbars.unswitchable[0])
    after = measure_offsets(tia_list, comp, result.conductance[0], xblock)
    current = comp.offset_current_a(offsets, result.conductance[0, 0], result.conductance[0, 1])
    below = np.abs(after) < THRESHOLD_V
    # a TIA whose pair holds an unswitchable device: the experimenters would pick another one
    stuck_pair = xbars.unswitchable[0].any(axis=0)
    tuned = np.abs(after)[~stuck_pair]
    costs = programming_cost(log, cost)
    summary: dict[str, object] = {
        "tias": tias,
        "seed": seed,
        "r_f_ohm": r_f_ohm,
        "tolerance": tolerance,
        "offset_sigma_v": sigma_v,
        "offset_limit_v": limit_v,
        "delta_v": comp.delta_v,
        "g_min_s": comp.g_min_s,
        "offset_before_v": before.tolist(),
        "offset_after_v": after.tolist(),
        "fraction_below_1mv": float(below.mean()),
        "max_abs_before_v": float(np.abs(before).max()),
        "max_abs_after_v": float(np.abs(after).max()),
        "tias_with_unswitchable_device": int(stuck_pair.sum()),
        "max_abs_after_switchable_v": float(tuned.max()) if tuned.size else float("nan"),
        "targets_ohm": (1.0 / targets.T).tolist(),
        "programmed_ohm": (1.0 / result.conductance[0].T).tolist(),
        "tuning_error_max": float(np.nanmax(result.error)),
        "unswitchable_devices": int(xbars.unswitchable.sum()),
        "write_pulses": log.pulses,
        "programming_energy_j": costs["programming_energy_j"],
        "programming_time_s": costs["programming_time_s"],
        "published": {
            "tias": int(published_value(EXPERIMENT, "tias")),
            "all_below_1mv": True,
            "example_targets_ohm": list(published_value(EXPERIMENT, "example_targets_ohm")),
        },
    }
    trace = [(r, c, g) for r, c, g in port.reads if c == 0]
    return OffsetRun(summary, before, after, current, trace, targets, log)


def sensitivity(
    tias: int,
    seeds: list[int],
    tolerances: list[float],
    r_fs_ohm: list[float],
    sigma_v: float = 0.035,
    limit_v: float = 0.1,
    comp: OffsetComp | None = None,
    device: DeviceConfig | None = None,
    engine: str = "reference",
) -> list[dict[str, float]]:
    """Fraction of TIAs below 1 mV for every (tuning accuracy, R_f), over ``seeds``.

    The offsets and devices of a seed are the same at every point (they derive from the seed
    alone), so the points differ only in the swept parameter. Programming goes through
    :func:`xbarsim.programming.program` (same algorithm as the X-block path).

    Returns
    -------
    list of dict
        ``tolerance, r_f_ohm, mean, std, q05, q50, q95`` of the fraction below 1 mV over
        seeds, ``all_below_rate`` (share of seeds with every TIA below 1 mV),
        ``max_abs_after_v`` (worst over seeds), ``failed_pairs_mean`` (pairs with an
        unswitchable or abandoned device, per seed) and ``fraction_below_working_pairs``
        (the fraction among the other pairs, mean over seeds).
    """
    comp = OffsetComp() if comp is None else comp
    device = preset("tio2-64x64-paper") if device is None else device
    rows = []
    for tol in tolerances:
        for r_f in r_fs_ohm:
            fractions, working, failed, worst = [], [], [], 0.0
            for s in seeds:
                offsets = _setup(tias, s, sigma_v, limit_v)
                g_c1, g_c2 = comp.pair(offsets, TIA(r_f_ohm=r_f))
                xbars = _devices(tias, s, device)
                res = program(
                    xbars, np.stack([g_c1, g_c2]), WriteVerify.thesis(tolerance=tol), engine
                )
                after = _residuals(offsets, res.conductance[0], r_f, comp)
                ok = np.abs(after) < THRESHOLD_V
                broken = res.excluded[0].any(axis=0)
                fractions.append(float(np.mean(ok)))
                working.append(float(np.mean(ok[~broken])) if (~broken).any() else np.nan)
                failed.append(float(broken.sum()))
                worst = max(worst, float(np.abs(after).max()))
            f = np.asarray(fractions)
            q05, q50, q95 = np.quantile(f, [0.05, 0.5, 0.95])
            rows.append(
                {
                    "tolerance": tol,
                    "r_f_ohm": r_f,
                    "mean": float(f.mean()),
                    "std": float(f.std()),
                    "q05": float(q05),
                    "q50": float(q50),
                    "q95": float(q95),
                    "all_below_rate": float(np.mean(f == 1.0)),
                    "max_abs_after_v": worst,
                    "fraction_below_working_pairs": float(np.nanmean(working)),
                    "failed_pairs_mean": float(np.mean(failed)),
                }
            )
    return rows


def implied_offset_v(
    r_c1_ohm: float, r_c2_ohm: float, r_f_ohm: float = 18.4e3, comp: OffsetComp | None = None
) -> float:
    """Offset (V) that a programmed pair cancels exactly on the finite-gain TIA.

    Solves ``V_out(V_os) = V_cm`` for the TIA of :class:`xbarsim.periphery.TIA` (gain 2200,
    feedback ``r_f_ohm``) with the pair attached and zero input current: the circuit form of
    the corrected condition (our correction of the printed one), not its closed form
    (:meth:`OffsetComp.cancelled_offset_v`).

    Parameters
    ----------
    r_c1_ohm, r_c2_ohm : float
        Resistances (Ohm) of the devices to ``V_cm - dV`` and ``V_cm + dV``.
    r_f_ohm : float
        TIA feedback resistance (Ohm); the thesis measured 18.4 kOhm.
    comp : OffsetComp, optional
    """
    from scipy.optimize import brentq

    comp = OffsetComp() if comp is None else comp
    for name, r in (("r_c1_ohm", r_c1_ohm), ("r_c2_ohm", r_c2_ohm), ("r_f_ohm", r_f_ohm)):
        if not (np.isfinite(r) and r > 0.0):
            raise XbarsimInputError(f"{name}: must be a finite resistance > 0 Ohm, got {r!r}")
    g_c1, g_c2 = 1.0 / r_c1_ohm, 1.0 / r_c2_ohm

    def residual(offset_v: float) -> float:
        tia = TIA(r_f_ohm=r_f_ohm, offset_v=offset_v)
        node = comp.node_current_a(tia, g_c1, g_c2)
        return float(tia.output(node).v_out[()]) - tia.v_cm_v

    edge = 0.99 * comp.delta_v
    if residual(-edge) * residual(edge) > 0.0:
        raise XbarsimInputError(
            f"r_c1_ohm, r_c2_ohm: the pair cancels no offset within +/- {edge:g} V"
        )
    return float(brentq(residual, -edge, edge, xtol=1e-12))


def comparison_rows(summary: dict[str, object]) -> list[ComparisonRow]:
    """Published (thesis Fig. 60) beside ours."""
    tias = int(published_value(EXPERIMENT, "tias"))
    r1, r2 = (float(x) for x in published_value(EXPERIMENT, "example_targets_ohm"))
    return [
        ComparisonRow("TIAs", str(tias), str(summary["tias"])),
        ComparisonRow(
            "offset before, max |V_os|",
            "~100 mV allowance",
            f"{summary['max_abs_before_v'] * 1e3:.1f} mV",
        ),
        ComparisonRow("below 1 mV after", f"all {tias}", f"{summary['fraction_below_1mv']:.1%}"),
        ComparisonRow("max |offset| after", "< 1 mV", f"{summary['max_abs_after_v'] * 1e3:.3f} mV"),
        ComparisonRow(
            "example pair", f"{r1 / 1e3:.0f} kOhm / {r2 / 1e3:.0f} kOhm", "see targets_ohm"
        ),
        ComparisonRow("write pulses", "-", f"{summary['write_pulses']:,}"),
        ComparisonRow("programming energy", "-", f"{summary['programming_energy_j']:.3g} J"),
    ]


def write_figures(run: OffsetRun, out: Path) -> list[Path]:
    """Fig. 60 (offsets before/after, offset current) and Fig. 61 (one pair's tuning)."""
    from xbarsim.report.chip_figures import offset_histograms, pair_trajectory

    return [
        offset_histograms(
            out / "fig60_offsets.png", run.offset_before_v, run.offset_after_v, run.offset_current_a
        ),
        pair_trajectory(out / "fig61_pair_tuning.png", run.pair_trace, run.targets_s[:, 0]),
    ]

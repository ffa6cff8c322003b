"""Improved tuning of differential pairs (thesis 3.5.2), orchestrated over :func:`program`.

Three measures, each switchable:

(a) **Decreasing write cap.** Pass ``p`` runs with the amplitude cap
    ``max_amplitude_v - p * cap_decrease_per_pass_v`` (:meth:`WriteVerify.cap`), so the
    half-select disturbance shrinks pass by pass.
(b) **Pre-stage.** Before pass 1, devices whose set threshold exceeds ``set_cutoff_v`` are
    driven to ``high_state_s`` (they will then only need resets), and devices whose reset
    threshold exceeds ``reset_cutoff_v`` to ``low_state_s`` (then only sets). A device above
    both cut-offs goes high when ``v_set - set_cutoff_v >= v_reset - reset_cutoff_v`` (the
    harder polarity is then the one it no longer needs), else low.
(c) **Partner compensation.** In every pass, a device that is out of tolerance and whose
    threshold for the polarity it needs is above that pass's cap is left alone ("frozen");
    its differential partner (the same position in the other crossbar of the pair) is
    retuned instead to the target that restores ``G+ - G-``:
    ``T-' = T- + (G+ - T+)`` for a frozen ``G+``, ``T+' = T+ + (G- - T-)`` for a frozen
    ``G-``, clipped into the device bounds. Frozen devices also include those abandoned at
    the cap in an earlier pass.

The simulator knows every device's true thresholds; they stand in for the measured
thresholds (e.g. from a threshold scan as in the paper's Fig. 2) that a real tuner would
use for (b) and (c).

Batch layout: the first half of the batch holds the ``G+`` crossbars, the second half the
``G-`` crossbars; crossbar ``k`` and ``k + batch/2`` form a differential pair.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from xbarsim.crossbar.array import Crossbar
from xbarsim.errors import XbarsimInputError
from xbarsim.programming.algorithm import PAPER_CAP_V, WriteVerify
from xbarsim.programming.engine import program
from xbarsim.programming.pulse_power import POWER_PARTS
from xbarsim.programming.result import HISTORY_KEYS, ProgramResult, error_statistics, relative_error
from xbarsim.programming.targets import broadcast_targets, leave_alone

#: Relative margin that keeps "stay where you are" targets strictly inside the bounds.
_EDGE = 1e-6


class ImprovedTuning(BaseModel):
    """Parameters of the improved tuning algorithm (thesis 3.5.2).

    Attributes
    ----------
    base : WriteVerify
        The write-verify run pass by pass; its ``cap_decrease_per_pass_v`` is measure (a).
    prestage : bool
        Measure (b).
    set_cutoff_v, reset_cutoff_v : float
        Set / reset threshold magnitudes (V) above which (b) drives a device high / low.
    high_state_s, low_state_s : float or None
        States (S) used by (b); ``None`` uses the largest / smallest target of the batch.
    prestage_tolerance : float
        Relative tolerance of the pre-stage writes (fraction).
    compensate : bool
        Measure (c).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    base: WriteVerify = WriteVerify.thesis(
        max_amplitude_v=PAPER_CAP_V, abandon_at_cap=True, cap_decrease_per_pass_v=0.1
    )
    prestage: bool = True
    set_cutoff_v: float = Field(1.8, gt=0.0, le=20.0)
    reset_cutoff_v: float = Field(2.0, gt=0.0, le=20.0)
    high_state_s: float | None = Field(None, gt=0.0, lt=1.0)
    low_state_s: float | None = Field(None, gt=0.0, lt=1.0)
    prestage_tolerance: float = Field(0.05, gt=0.0, lt=1.0)
    compensate: bool = True

    @classmethod
    def thesis(cls, tolerance: float = 0.01, **overrides: object) -> ImprovedTuning:
        """Defaults on top of :meth:`WriteVerify.thesis` with the given ``tolerance``.

        Measure (a) is a cap by definition: it starts at the 2.5 V of the paper's instrument
        and falls by 0.1 V per pass (1.6 V in pass 10); devices that reach it are abandoned
        (frozen) and compensated by their partners.
        """
        base = WriteVerify.thesis(
            tolerance=tolerance,
            max_amplitude_v=PAPER_CAP_V,
            abandon_at_cap=True,
            cap_decrease_per_pass_v=0.1,
        )
        params: dict[str, object] = {"base": base}
        params.update(overrides)
        return cls(**params)


def _stay_targets(xbars: Crossbar) -> NDArray[np.float64]:
    """Targets (S) equal to the present states, nudged strictly inside the bounds."""
    lo, hi = xbars.device.g_min_s, xbars.device.g_max_s
    return np.clip(xbars.conductance, lo * (1 + _EDGE), hi * (1 - _EDGE))


def _partner(a: NDArray) -> NDArray:
    """Swap the G+ and G- halves of a batch-first array."""
    half = a.shape[0] // 2
    return np.concatenate([a[half:], a[:half]])


def prestage_selection(
    xbars: Crossbar, tuning: ImprovedTuning
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Devices that measure (b) drives to the high and to the low state.

    Returns
    -------
    high, low : ndarray of bool, shape (batch, rows, cols)
    """
    over_set = xbars.v_set - tuning.set_cutoff_v
    over_reset = xbars.v_reset - tuning.reset_cutoff_v
    switchable = ~xbars.unswitchable
    with np.errstate(invalid="ignore"):  # inf - inf of never-switching devices: not chosen
        high = switchable & (over_set > 0) & (over_set - over_reset >= 0)
    low = switchable & (over_reset > 0) & ~high
    return high, low


def frozen_devices(
    xbars: Crossbar, target: NDArray, tolerance: float, cap_v: float
) -> NDArray[np.bool_]:
    """Out-of-tolerance devices whose threshold for the needed polarity exceeds ``cap_v``."""
    g = xbars.conductance
    out = np.abs(g - target) > tolerance * target
    threshold = np.where(g < target, xbars.v_set, xbars.v_reset)
    return out & (threshold > cap_v) & ~xbars.unswitchable


def compensated_targets(
    xbars: Crossbar, target: NDArray, frozen: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """Targets (S) after partner compensation of ``frozen`` devices (measure c).

    Where exactly one device of a pair is frozen, the partner's target becomes the one
    that restores ``G+ - G-``; elsewhere the targets are unchanged.
    """
    lo, hi = xbars.device.g_min_s, xbars.device.g_max_s
    offset = xbars.conductance - target
    partner_frozen = _partner(frozen)
    shifted = target + _partner(offset)
    use = partner_frozen & ~frozen
    return np.where(use, np.clip(shifted, lo * (1 + _EDGE), hi * (1 - _EDGE)), target)


def program_improved(
    xbars: Crossbar,
    targets: ArrayLike,
    tuning: ImprovedTuning | None = None,
    engine: str = "auto",
    progress: bool = False,
    skip: ArrayLike | None = None,
) -> ProgramResult:
    """Program differential pairs (in place) with the improved algorithm.

    Parameters
    ----------
    xbars : Crossbar
        An even batch: ``G+`` crossbars first, then their ``G-`` partners.
    targets : array_like, shape (batch, rows, cols)
        Target conductances (S).
    tuning : ImprovedTuning, optional
        Defaults to :meth:`ImprovedTuning.thesis`.
    engine : str
        Engine for every :func:`program` call.
    progress : bool
        Progress bars of the underlying calls.
    skip : array_like of bool, optional
        Devices left alone by every stage (as in :func:`program`).

    Returns
    -------
    ProgramResult
        ``target`` holds the effective targets of the last pass: a compensating partner's
        is its shifted target, every other device's (frozen ones included) its original
        target, so ``error`` counts frozen devices at their full miss. The weights
        ``G+ - G-`` are best judged against the original targets. ``pulses`` include the
        pre-stage; ``history`` (over devices outside the fault map, as in
        :func:`program`) and ``n_hs_per_pass`` cover the main passes (each pass is
        one :func:`program` call, so ``n_hs_ever`` is the largest per-pass value, not the
        union); ``abandoned`` marks the devices frozen in the last pass.
    """
    tuning = ImprovedTuning.thesis() if tuning is None else tuning
    base = tuning.base
    if xbars.batch % 2:
        raise XbarsimInputError(
            f"xbars: improved tuning needs an even batch (G+ then G- halves), got {xbars.batch}"
        )
    original = broadcast_targets(xbars, targets)
    fault_map = xbars.unswitchable.copy()
    xbars, skipped = leave_alone(xbars, skip)
    batch = xbars.batch
    passes = base.passes
    pulses = np.zeros(original.shape, dtype=np.int32)
    v2_sum: NDArray[np.float64] | None = np.zeros(original.shape)
    pulses_per_pass = np.zeros((batch, passes), dtype=np.int64)
    n_hs = np.zeros((batch, passes))
    ever = np.zeros(batch)
    exposures: NDArray[np.int64] | None = np.zeros((batch, passes), dtype=np.int64)
    history = {key: np.zeros((batch, passes + 1)) for key in HISTORY_KEYS}
    switchable = ~xbars.unswitchable
    power: NDArray[np.float64] | None = np.zeros((batch, len(POWER_PARTS)))

    if tuning.prestage:
        high, low = prestage_selection(xbars, tuning)
        if high.any() or low.any():
            hi_state = original.max() if tuning.high_state_s is None else tuning.high_state_s
            lo_state = original.min() if tuning.low_state_s is None else tuning.low_state_s
            pre_targets = np.where(high, hi_state, np.where(low, lo_state, _stay_targets(xbars)))
            pre = program(
                xbars,
                pre_targets,
                base.model_copy(
                    update={
                        "passes": 1,
                        "tolerance": tuning.prestage_tolerance,
                        "cap_decrease_per_pass_v": 0.0,
                    }
                ),
                engine=engine,
                progress=progress,
            )
            pulses += pre.pulses
            v2_sum = _added(v2_sum, pre.pulse_v2_sum)
            power = _added(power, pre.pulse_power_w)

    effective = original.copy()
    abandoned = np.zeros(original.shape, dtype=bool)  # at a cap in some pass, as in program()
    stuck = np.zeros(original.shape, dtype=bool)

    def record(column: int) -> None:
        err = relative_error(xbars.conductance, effective)
        stats = error_statistics(err, base.tolerance, switchable)
        for key in HISTORY_KEYS:
            history[key][:, column] = stats[key]

    record(0)
    for p in range(passes):
        cap = base.cap(p)
        frozen = abandoned.copy()
        if tuning.compensate:
            frozen |= frozen_devices(xbars, original, base.tolerance, cap)
            effective = compensated_targets(xbars, original, frozen)
        else:
            effective = original
        pass_targets = np.where(frozen, _stay_targets(xbars), effective)
        res = program(
            xbars,
            pass_targets,
            base.model_copy(
                update={"passes": 1, "max_amplitude_v": cap, "cap_decrease_per_pass_v": 0.0}
            ),
            engine=engine,
            progress=progress,
        )
        pulses += res.pulses
        v2_sum = _added(v2_sum, res.pulse_v2_sum)
        power = _added(power, res.pulse_power_w)
        pulses_per_pass[:, p] = res.pulses_per_pass[:, 0]
        n_hs[:, p] = res.n_hs_per_pass[:, 0]
        if res.hs_exposures_per_pass is None:
            exposures = None
        elif exposures is not None:
            exposures[:, p] = res.hs_exposures_per_pass[:, 0]
        ever = np.maximum(ever, res.n_hs_ever)
        abandoned |= res.abandoned
        if res.stuck is not None:
            stuck |= res.stuck
        record(p + 1)
    return ProgramResult(
        target=effective,
        conductance=xbars.conductance.copy(),
        pulses=pulses,
        abandoned=abandoned | frozen,
        unswitchable=fault_map,
        tolerance=base.tolerance,
        history=history,
        pulses_per_pass=pulses_per_pass,
        n_hs_per_pass=n_hs,
        n_hs_ever=ever,
        hs_exposures_per_pass=exposures,
        engine=res.engine,
        stuck=stuck,
        pulse_v2_sum=v2_sum,
        pulse_power_w=power,
        skipped=skipped if skipped.any() else None,
    )


def _added(
    total: NDArray[np.float64] | None, part: NDArray[np.float64] | None
) -> NDArray[np.float64] | None:
    """``total + part`` of squared-amplitude or power sums; None once a run did not record
    them."""
    return None if total is None or part is None else total + part

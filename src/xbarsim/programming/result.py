"""The outcome of programming a batch of crossbars (layer 3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Statistics recorded in :attr:`ProgramResult.history` after every pass.
HISTORY_KEYS = ("mean", "median", "p99", "max", "within_tolerance")

#: The one exclusion rule of every reported tuning-error statistic (history, "tuning error
#: p99" of ``vmm-study``, ``calibrate`` and the benchmarks): devices of the fault map
#: (never switchable) are left out; every other device counts, including devices the
#: algorithm abandoned at its amplitude cap. Reported in JSON as ``tuning_error_exclusion``.
TUNING_ERROR_EXCLUSION = "fault-map"


def relative_error(conductance: NDArray, target: NDArray) -> NDArray[np.float64]:
    """|G - T| / T elementwise (fraction)."""
    return np.abs(conductance - target) / target


def tuning_error_p99(error: NDArray, unswitchable: NDArray[np.bool_]) -> float:
    """99th percentile of the relative tuning errors of one instance (fraction).

    The rule :data:`TUNING_ERROR_EXCLUSION`: fault-map devices are excluded, every other
    device of the arrays passed counts (e.g. both crossbars of a differential pair).

    Parameters
    ----------
    error : ndarray
        Relative errors |G - T| / T of the instance's devices.
    unswitchable : ndarray of bool, same shape
        The fault map.

    Returns
    -------
    float
        NaN when every device is in the fault map.
    """
    kept = np.asarray(error)[~np.asarray(unswitchable, dtype=bool)]
    return float(np.percentile(kept, 99)) if kept.size else float("nan")


def error_statistics(
    error: NDArray, tolerance: float, include: NDArray[np.bool_]
) -> dict[str, NDArray[np.float64]]:
    """Per-crossbar statistics of relative errors over the ``include``d devices.

    Parameters
    ----------
    error : ndarray, shape (batch, rows, cols)
    tolerance : float
    include : ndarray of bool, shape (batch, rows, cols)

    Returns
    -------
    dict of ndarray, shape (batch,)
        Keys :data:`HISTORY_KEYS`.
    """
    masked = np.where(include, error, np.nan).reshape(error.shape[0], -1)
    with np.errstate(invalid="ignore"):
        return {
            "mean": np.nanmean(masked, axis=1),
            "median": np.nanmedian(masked, axis=1),
            "p99": np.nanpercentile(masked, 99, axis=1),
            "max": np.nanmax(masked, axis=1),
            "within_tolerance": np.nanmean(
                np.where(np.isnan(masked), np.nan, masked <= tolerance), axis=1
            ),
        }


@dataclass
class ProgramResult:
    """Per-device and per-pass record of a programming run.

    Half-select readings (n_HS)
    ---------------------------
    The thesis defines n_HS as "the average number of devices affected with V/2
    disturbance normalized by N^2"; a device is *affected* by a pulse when it is not the
    selected device and the pulse drives it at or above its switching threshold for the
    polarity it sees. Three readings of "average", each a fraction of the crossbar's devices:

    * per pass (:attr:`n_hs_per_pass`): devices affected at least once during a pass;
    * per pulse (:attr:`n_hs_per_pulse`): devices affected by one pulse, averaged over every
      write pulse of the run (:attr:`hs_exposures_per_pass` over the pulses);
    * whole run (:attr:`n_hs_ever`, alias :attr:`n_hs`): devices affected at least once
      during the run (the union over passes).

    Attributes
    ----------
    target : ndarray, shape (batch, rows, cols)
        Target conductances (S).
    conductance : ndarray, shape (batch, rows, cols)
        Conductances after programming (S); the crossbars' own array when the run was
        asked not to copy it (``program(..., copy_conductance=False)``).
    pulses : ndarray of int32, shape (batch, rows, cols)
        Write pulses applied to each device as the selected device (a run gives one device
        at most passes x ramps x ramp length, about 10^5; the per-pass and total counts are
        int64).
    abandoned : ndarray of bool, shape (batch, rows, cols)
        Devices left alone for the rest of the run: a ramp reached the amplitude cap
        without passing the target and the algorithm abandons at the cap, or the device
        was declared stuck (``stuck`` with the algorithm's ``stuck_detection``).
    unswitchable : ndarray of bool, shape (batch, rows, cols)
        Devices of the fault map (never switch).
    tolerance : float
        The algorithm's target relative error.
    history : dict of ndarray, shape (batch, passes + 1)
        Error statistics (:data:`HISTORY_KEYS`) before tuning (column 0) and after every
        pass, over every device outside the fault map (:data:`TUNING_ERROR_EXCLUSION`) and
        not ``skipped``; arrays without columns when the run did not keep it
        (``program(..., keep_history=False)``, compiled and GPU engines).
    pulses_per_pass : ndarray of int64, shape (batch, passes)
    n_hs_per_pass : ndarray, shape (batch, passes)
        Half-select statistic per pass: the fraction of the crossbar's devices that
        received, during that pass, at least one disturbing (non-selected) pulse whose
        amplitude reached their switching threshold for its polarity.
    n_hs_ever : ndarray, shape (batch,)
        The same, over the whole run (the union over passes); :attr:`n_hs`.
    engine : str
        Name of the engine that produced the result.
    refreshed : ndarray of int64, shape (batch, rows, cols), or None
        Outlier threshold refreshes per device before tuning (None when not enabled).
    stuck : ndarray of bool, shape (batch, rows, cols), or None
        Devices the run saw stuck: a ramp reached the amplitude cap and moved the read
        conductance by less than
        :data:`~xbarsim.programming.algorithm.STUCK_MOVE_FRACTION` of its value at the
        ramp's start. Recorded whether or not the algorithm's ``stuck_detection`` acted on
        it; None for results that do not track it.
    ramps_per_pass : ndarray of int64, shape (batch, passes), or None
        Ramps started per pass (the compiled CPU engines count them; None from the others).
    pulse_v2_sum : ndarray, shape (batch, rows, cols), or None
        Sum over each device's write pulses (as the selected device) of the squared applied
        amplitude (V^2). Every engine accumulates it (the compiled ones per ramp in closed
        form, :func:`~xbarsim.programming.algorithm.ramp_square_sum`); it is kept unless
        the run was asked not to (``program(..., keep_pulse_v2=False)``, one float per
        device less); None then and for results built without it.
    pulse_power_w : ndarray, shape (batch, 3), or None
        Per crossbar, the power sums of the run's write pulses (W) in the selected devices,
        their half-selected line neighbours and the other devices
        (:data:`~xbarsim.programming.pulse_power.POWER_PARTS`,
        :func:`~xbarsim.programming.pulse_power.pulse_power`): times the pulse width, the
        write energy the chip's cost model reports
        (:func:`xbarsim.chip.cost.logged_programming_cost`). Every engine records it;
        None for results built without it.
    hs_exposures_per_pass : ndarray of int64, shape (batch, passes), or None
        Affected (device, pulse) pairs per pass: the sum over the pass's write pulses of the
        number of non-selected devices each drove at or above threshold (None where not
        tracked).
    skipped : ndarray of bool, shape (batch, rows, cols), or None
        Devices the run left alone (``program(..., skip=...)``): no pulse, not in
        ``history``; None when none were skipped.
    """

    target: NDArray[np.float64]
    conductance: NDArray[np.float64]
    pulses: NDArray[np.int32]
    abandoned: NDArray[np.bool_]
    unswitchable: NDArray[np.bool_]
    tolerance: float
    history: dict[str, NDArray[np.float64]]
    pulses_per_pass: NDArray[np.int64]
    n_hs_per_pass: NDArray[np.float64]
    n_hs_ever: NDArray[np.float64]
    engine: str
    refreshed: NDArray[np.int64] | None = None
    stuck: NDArray[np.bool_] | None = None
    ramps_per_pass: NDArray[np.int64] | None = None
    pulse_v2_sum: NDArray[np.float64] | None = None
    pulse_power_w: NDArray[np.float64] | None = None
    hs_exposures_per_pass: NDArray[np.int64] | None = None
    skipped: NDArray[np.bool_] | None = None

    @property
    def error(self) -> NDArray[np.float64]:
        """Relative tuning error |G - T| / T per device (fraction)."""
        return relative_error(self.conductance, self.target)

    @property
    def excluded(self) -> NDArray[np.bool_]:
        """Devices that could not be switched (fault map, abandoned at the cap) or were
        skipped."""
        out = self.unswitchable | self.abandoned
        return out if self.skipped is None else out | self.skipped

    @property
    def n_hs(self) -> NDArray[np.float64]:
        """n_HS per crossbar, the thesis's reading ("during write operation"): the fraction
        of devices disturbed at or above their threshold at any time during the run."""
        return self.n_hs_ever

    @property
    def n_hs_per_pulse(self) -> NDArray[np.float64]:
        """n_HS per crossbar averaged over pulses: the mean fraction of the crossbar's devices
        one write pulse drives at or above threshold (non-selected devices), over every pulse
        of the run; NaN without pulses or where :attr:`hs_exposures_per_pass` is not
        tracked."""
        if self.hs_exposures_per_pass is None:
            return np.full(self.pulses.shape[0], np.nan)
        devices = self.pulses.shape[1] * self.pulses.shape[2]
        pulses = self.pulses_per_pass.sum(axis=1)
        exposures = self.hs_exposures_per_pass.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pulses > 0, exposures / (pulses * devices), np.nan)

    @property
    def n_hs_final_pass(self) -> NDArray[np.float64]:
        """The same statistic restricted to the final pass (see ``n_hs_per_pass``)."""
        return self.n_hs_per_pass[:, -1]

    def within(self, tolerance: float | None = None, exclude_unswitchable: bool = True) -> float:
        """Fraction of devices within ``tolerance`` (default: the algorithm's)."""
        tol = self.tolerance if tolerance is None else tolerance
        err = self.error
        keep = ~self.excluded if exclude_unswitchable else np.ones_like(err, dtype=bool)
        return float(np.mean(err[keep] <= tol))

    @property
    def total_pulses(self) -> int:
        """All write pulses of the run."""
        return int(self.pulses.sum())

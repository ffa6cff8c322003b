"""Touch-up passes after write-verify: a few more passes under a low amplitude cap (layer 3).

At a threshold spread of about 26 % a write-verify run does not settle: in its last passes
the devices with high thresholds still ramp to 2-2.6 V, and their half-selects (1-1.3 V)
push low-threshold neighbours in their rows and columns off target again, sometimes a whole
column to a rail. Touch-up passes re-tune those neighbours with ramps capped at
``cap_v``, whose half-selects stay below most thresholds; a device that would need more
reaches the cap and is left for the rest of the touch-up (abandoning at the cap). The
stuck-device rule is off during the touch-up (no device is declared stuck at the lower
cap); the main run's record of abandoned and stuck devices is kept.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field

from xbarsim.crossbar.array import Crossbar
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import program
from xbarsim.programming.result import ProgramResult


class TouchUp(BaseModel):
    """Parameters of the touch-up passes.

    Attributes
    ----------
    passes : int
        Touch-up passes over the crossbar (>= 1).
    cap_v : float
        Amplitude cap of the touch-up ramps (V); the default 1.6 V sits about 0.6 sigma above
        the paper device's mean reset threshold (1.39 V), so its 0.8 V half-selects reach
        the thresholds of about one device in ten.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    passes: int = Field(2, ge=1, le=100)
    cap_v: float = Field(1.6, gt=0.0, le=20.0)

    def algorithm(self, base: WriteVerify) -> WriteVerify:
        """The write-verify of the touch-up: ``base`` with this cap and pass count,
        abandoning at the cap, no stuck-device rule, no refresh."""
        return base.model_copy(
            update={
                "passes": self.passes,
                "max_amplitude_v": max(self.cap_v, base.ramp_start_v),
                "cap_decrease_per_pass_v": 0.0,
                "abandon_at_cap": True,
                "stuck_detection": False,
                "refresh": None,
            }
        )


def touch_up(
    xbars: Crossbar,
    targets: ArrayLike,
    main: ProgramResult,
    params: TouchUp,
    base: WriteVerify,
    engine: str = "auto",
    skip: ArrayLike | None = None,
    keep_pulse_v2: bool = True,
    keep_history: bool = True,
    copy_conductance: bool = True,
) -> ProgramResult:
    """Run the touch-up passes on crossbars a write-verify run ``main`` has just programmed.

    Parameters
    ----------
    xbars : Crossbar
        The programmed crossbars (updated in place).
    targets : array_like
        The targets of the main run (S).
    main : ProgramResult
        The main run's result.
    params : TouchUp
    base : WriteVerify
        The main run's algorithm (tolerance, steps, bias scheme).
    engine : str
    skip : array_like of bool, optional
        Devices the main run skipped; devices it abandoned are skipped as well.
    keep_pulse_v2, keep_history, copy_conductance : bool
        Keep the per-device squared-amplitude sums and the per-pass history, copy the
        conductances (see :func:`program`).

    Returns
    -------
    ProgramResult
        The main run continued: ``pulses`` add up; ``history``, ``pulses_per_pass`` and
        ``n_hs_per_pass`` gain the touch-up passes as further columns (the touch-up's
        ``history`` also leaves out the devices the main run abandoned); ``n_hs_ever`` is the
        larger of the two runs' (a lower bound of the union); ``pulse_v2_sum`` and
        ``pulse_power_w`` add up; ``abandoned`` and ``stuck`` are the main run's.
    """
    left = main.abandoned if skip is None else main.abandoned | np.asarray(skip, dtype=bool)
    extra = program(xbars, targets, params.algorithm(base), engine=engine, skip=left,
                    keep_pulse_v2=keep_pulse_v2, keep_history=keep_history,
                    copy_conductance=copy_conductance)

    def joined(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        return None if a is None or b is None else np.concatenate([a, b], axis=1)

    def added(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        return None if a is None or b is None else a + b

    return ProgramResult(
        target=main.target,
        conductance=extra.conductance,
        pulses=main.pulses + extra.pulses,
        abandoned=main.abandoned,
        unswitchable=main.unswitchable,
        tolerance=main.tolerance,
        history={k: np.concatenate([v, extra.history[k][:, 1:]], axis=1)
                 for k, v in main.history.items()},
        pulses_per_pass=np.concatenate([main.pulses_per_pass, extra.pulses_per_pass], axis=1),
        n_hs_per_pass=np.concatenate([main.n_hs_per_pass, extra.n_hs_per_pass], axis=1),
        n_hs_ever=np.maximum(main.n_hs_ever, extra.n_hs_ever),
        engine=main.engine,
        refreshed=main.refreshed,
        stuck=main.stuck,
        ramps_per_pass=joined(main.ramps_per_pass, extra.ramps_per_pass),
        pulse_v2_sum=added(main.pulse_v2_sum, extra.pulse_v2_sum),
        pulse_power_w=added(main.pulse_power_w, extra.pulse_power_w),
        hs_exposures_per_pass=joined(main.hs_exposures_per_pass, extra.hs_exposures_per_pass),
        skipped=main.skipped,
    )

"""Write-verify tuning algorithm parameters (layer 3).

One algorithm, two published parameter sets:

* thesis 3.2 (:meth:`WriteVerify.thesis`): devices tuned one by one in raster order; the
  amplitude ramps from 0.5 V in 10 mV steps "to the switching voltage of the device"; the
  device is read after every pulse; when the target is passed the direction flips and the
  ramp restarts; at most 5 ramps per device; stop at the tolerance; 10 passes over the
  crossbar (only devices out of tolerance get pulses). The thesis names no amplitude cap
  and no abandoning. Our reading: a ramp simply continues until the device switches past
  its target; :data:`THESIS_CAP_V` (5 V, twice the paper's instrument limit) only bounds
  the loop, and a device that still does not switch is retried in the next pass
  (``abandon_at_cap=False``).
* the paper (:meth:`WriteVerify.paper`): 4 mV / 8 mV set / reset increments, the
  instrument's 2.5 V cap, 3 passes; a device whose ramp reaches the cap is abandoned
  (``abandon_at_cap=True``), as the paper counts devices it cannot switch.

A ramp that reaches the amplitude cap without passing the target ends the device's tuning
for the pass; with ``abandon_at_cap`` the device is also left alone for the remaining passes.

Stuck-device rule (``stuck_detection``, on by default): a device whose ramp reaches the
amplitude bound while its conductance moved by less than :data:`STUCK_MOVE_FRACTION` of
its value at the start of that ramp is declared stuck, left alone for the remaining passes
and reported (:attr:`~xbarsim.programming.result.ProgramResult.stuck`). Without the rule
the thesis variant retries such a device in every pass, and each retry ramps its row and
column to half the 5 V bound, far above the neighbours' switching thresholds.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.crossbar.bias import BiasScheme
from xbarsim.programming.refresh import ThresholdRefresh

#: Amplitude cap of the thesis variant (V): no instrument limit is named, so the bound sits
#: far above the switching voltages (set mean 1.19 V; at sigma 0.35 about 1e-5 of set and
#: 5e-5 of reset thresholds exceed it) and only keeps a ramp finite.
THESIS_CAP_V = 5.0
#: The paper's instrument limit (V).
PAPER_CAP_V = 2.5
#: "Did not move" of the stuck-device rule: a ramp that reaches the amplitude bound with
#: |G_end - G_start| < STUCK_MOVE_FRACTION * G_start (G_start, G_end: the conductance, as the
#: verify read reports it (S), before the ramp's first pulse and after its last one) marks
#: the device stuck. 1e-3 is a tenth of the thesis's 1 % tolerance: a working device driven
#: to the bound moves far more (tens of percent), a stuck one not at all.
STUCK_MOVE_FRACTION = 1e-3


def did_not_move(err_start: float, err_end: float, target: float) -> bool:
    """The stuck-device rule's test on one ramp that reached the amplitude cap.

    Parameters
    ----------
    err_start, err_end : float
        Read conductance minus target (S) before the ramp's first pulse and after its
        last one.
    target : float
        Target conductance (S).

    Returns
    -------
    bool
        ``|G_end - G_start| < STUCK_MOVE_FRACTION * G_start`` (the compiled engines make the
        same comparison in the same order of operations).
    """
    return abs(err_end - err_start) < STUCK_MOVE_FRACTION * (err_start + target)


def ramp_square_sum(n: int, start_v: float, step_v: float) -> float:
    """Sum of the squared amplitudes of a ramp's first ``n`` pulses (V^2), closed form.

    ``sum_{k<n} (start + k step)^2 = n start^2 + start step n (n - 1)
    + step^2 (n - 1) n (2n - 1) / 6``. Every engine adds it per ramp to the selected
    device's :attr:`~xbarsim.programming.result.ProgramResult.pulse_v2_sum` (the reference
    engine pulse by pulse), which the chip's cost model turns into write energy.
    """
    return (
        n * start_v * start_v
        + start_v * step_v * (n * (n - 1))
        + step_v * step_v * ((n - 1) * n * (2 * n - 1)) / 6.0
    )


class WriteVerify(BaseModel):
    """Parameters of the write-verify algorithm.

    Attributes
    ----------
    tolerance : float
        Target relative tuning error |G - T| / T (fraction).
    passes : int
        Passes over the whole crossbar.
    ramp_start_v : float
        First amplitude of every ramp (V).
    step_set_v, step_reset_v : float
        Amplitude increments of set and reset ramps (V).
    max_amplitude_v : float
        Amplitude cap (V, > 0): :data:`THESIS_CAP_V` for the thesis variant,
        :data:`PAPER_CAP_V` for the paper's.
    max_ramps : int
        Ramps per device per pass.
    cap_decrease_per_pass_v : float
        Lower the amplitude cap by this much after every pass (V); 0 keeps it fixed.
        Part of the thesis's improved tuning (3.5.2). The cap never drops below
        ``ramp_start_v``.
    abandon_at_cap : bool
        Leave a device alone for the rest of the tuning once a ramp reaches the cap
        without passing its target (paper variant); False retries it in every pass
        (thesis variant).
    stuck_detection : bool
        The stuck-device rule: a device whose ramp reaches the amplitude cap with its
        conductance moved by less than :data:`STUCK_MOVE_FRACTION` of its value at the
        ramp's start (relative change, fraction) is declared stuck and left alone for the
        remaining passes. Devices seen stuck are reported in either case; off, they are
        retried like any other (and :func:`~xbarsim.programming.program` warns).
    scheme : BiasScheme
        Write bias scheme (V/2, V/3, or none for an ideal selector).
    refresh : ThresholdRefresh or None
        Refresh low-threshold outliers before tuning (thesis 3.5.3,
        :mod:`xbarsim.programming.refresh`); None = off.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    tolerance: float = Field(0.01, gt=0.0, lt=1.0)
    passes: int = Field(10, ge=1, le=1000)
    ramp_start_v: float = Field(0.5, gt=0.0, le=20.0)
    step_set_v: float = Field(0.01, gt=0.0, le=5.0)
    step_reset_v: float = Field(0.01, gt=0.0, le=5.0)
    max_amplitude_v: float = Field(THESIS_CAP_V, gt=0.0, le=20.0)
    max_ramps: int = Field(5, ge=1, le=1000)
    cap_decrease_per_pass_v: float = Field(0.0, ge=0.0, le=20.0)
    abandon_at_cap: bool = False
    stuck_detection: bool = True
    scheme: BiasScheme = BiasScheme.V2
    refresh: ThresholdRefresh | None = None

    @model_validator(mode="after")
    def _check_cap(self) -> WriteVerify:
        if self.max_amplitude_v < self.ramp_start_v:
            raise ValueError(
                f"max_amplitude_v ({self.max_amplitude_v} V) must be >= ramp_start_v "
                f"({self.ramp_start_v} V)"
            )
        return self

    @classmethod
    def thesis(cls, **overrides: object) -> WriteVerify:
        """Thesis 3.2: 0.5 V start, 10 mV steps, 5 ramps, 10 passes, 1 % target, no instrument
        cap (:data:`THESIS_CAP_V` bounds the ramp), no abandoning at the cap; devices that do
        not move at the bound are declared stuck (``stuck_detection``)."""
        return cls(**overrides)

    @classmethod
    def paper(cls, **overrides: object) -> WriteVerify:
        """The paper's variant: 4 mV / 8 mV set / reset steps, 2.5 V cap with abandoning,
        3 passes, 5 %."""
        params: dict[str, object] = {
            "tolerance": 0.05,
            "passes": 3,
            "step_set_v": 0.004,
            "step_reset_v": 0.008,
            "max_amplitude_v": PAPER_CAP_V,
            "abandon_at_cap": True,
        }
        params.update(overrides)
        return cls(**params)

    def cap(self, pass_index: int) -> float:
        """Amplitude cap (V) during pass ``pass_index`` (0-based)."""
        return max(
            self.ramp_start_v, self.max_amplitude_v - pass_index * self.cap_decrease_per_pass_v
        )

    def ramp_length(self, direction: int, pass_index: int = 0) -> int:
        """Pulses in a full ramp of the given direction (+1 set, -1 reset) in a pass."""
        step = self.step_set_v if direction > 0 else self.step_reset_v
        return math.floor((self.cap(pass_index) - self.ramp_start_v) / step + 1e-9) + 1

    def amplitude(self, direction: int, k: int) -> float:
        """Amplitude (V, positive) of pulse ``k`` (0-based) of a ramp."""
        step = self.step_set_v if direction > 0 else self.step_reset_v
        return self.ramp_start_v + k * step

"""Validated device configurations and named presets (layer 1).

Everything a simulated device population needs: conductance bounds, threshold statistics
(log-normal by default, or normal / truncated normal; correlated set/reset), the pulse law
with its optional sub-threshold leak and cycle-to-cycle variation, unswitchable devices and
the initial (as-fabricated) conductance distribution. Units: siemens (S), volts (V).
"""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.devices.conditions import OperatingModels
from xbarsim.devices.dynamics import PulseLaw
from xbarsim.errors import XbarsimInputError, format_validation_error
from xbarsim.validation import describe_parse_error, read_text

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


#: Marginal distributions of the switching thresholds
#: (:attr:`DeviceConfig.threshold_distribution`).
ThresholdDistribution = Literal["lognormal", "normal", "truncated_normal"]


class ThresholdStatistics(BaseModel):
    """Switching thresholds with device-to-device variation (log-normal by default; the
    marginal distribution is :attr:`DeviceConfig.threshold_distribution`).

    Attributes
    ----------
    set_mean_v, set_std_v : float
        Mean and standard deviation of the set threshold (V, positive).
    reset_mean_v, reset_std_v : float
        Mean and standard deviation of the reset threshold *magnitude* (V, positive; the
        reset pulse itself is negative).
    correlation : float
        Correlation of the underlying standard normal variables of set and reset thresholds
        (a Gaussian copula, whatever the marginal distribution; for ``"normal"`` it is the
        thresholds' own correlation). The paper's Fig. S3 shows a positive correlation
        without a number.
    """

    model_config = _STRICT

    set_mean_v: float = Field(1.19, gt=0.0, le=10.0)
    set_std_v: float = Field(0.31, ge=0.0, le=10.0)
    reset_mean_v: float = Field(1.39, gt=0.0, le=10.0)
    reset_std_v: float = Field(0.37, ge=0.0, le=10.0)
    correlation: float = Field(0.7, ge=-1.0, le=1.0)

    @property
    def set_sigma(self) -> float:
        """Normalized set-threshold variation std/mean (dimensionless)."""
        return self.set_std_v / self.set_mean_v

    @property
    def reset_sigma(self) -> float:
        """Normalized reset-threshold variation std/mean (dimensionless)."""
        return self.reset_std_v / self.reset_mean_v

    def with_sigma(self, sigma: float) -> ThresholdStatistics:
        """Same means, both spreads set to ``sigma`` times the mean."""
        if not (math.isfinite(sigma) and sigma >= 0.0):
            raise XbarsimInputError(f"sigma: must be a finite number >= 0, got {sigma}")
        return self.model_copy(
            update={"set_std_v": sigma * self.set_mean_v, "reset_std_v": sigma * self.reset_mean_v}
        )


class ExponentialDynamics(BaseModel):
    """Single-slope soft-bounded exponential-rate law: ``d = d0 exp((|V| - Vth) / slope)``."""

    model_config = _STRICT

    kind: Literal["exponential"] = "exponential"
    slope_v: float = Field(0.05, gt=0.0, le=5.0)

    def slopes(self) -> tuple[float, float]:
        """Slopes (V) below and above threshold."""
        return self.slope_v, self.slope_v

    def far_piece(self) -> tuple[float, float]:
        """Knee above threshold and far slope (V): none (``inf``)."""
        return math.inf, self.slope_v


class TwoSlopeDynamics(BaseModel):
    """Two-slope soft-bounded law: a steep slope below threshold, a gentle one above.

    The defaults (0.032 V below, 0.3 V above) were the best candidate of
    :func:`xbarsim.experiments.calibration.calibrate` on a 20-point grid and stay on the
    Pareto front of the wider-target calibration (both algorithm variants, per-round,
    n_HS, sigma = 0 and small-array targets, three-piece laws; ``docs/calibration``), where
    no candidate is better on the joint targets; see docs/experiments/calibration.md for the
    residuals.
    """

    model_config = _STRICT

    kind: Literal["two-slope"] = "two-slope"
    slope_below_v: float = Field(0.032, gt=0.0, le=5.0)
    slope_above_v: float = Field(0.3, gt=0.0, le=5.0)

    def slopes(self) -> tuple[float, float]:
        """Slopes (V) below and above threshold."""
        return self.slope_below_v, self.slope_above_v

    def far_piece(self) -> tuple[float, float]:
        """Knee above threshold and far slope (V): none (``inf``)."""
        return math.inf, self.slope_above_v


class ThreePieceDynamics(BaseModel):
    """Three-piece soft-bounded law: the two-slope law plus a third slope from
    ``knee_v`` above threshold on (:class:`~xbarsim.devices.dynamics.PulseLaw`).

    A ``slope_far_v`` gentler than ``slope_above_v`` makes the dose saturate with
    amplitude: devices disturbed far above their threshold (half-selects of a long ramp at
    sigma = 25 %) receive less than the two-slope law gives them. Defaults equal the
    two-slope defaults with a 0.3 V knee and no change of slope.
    """

    model_config = _STRICT

    kind: Literal["three-piece"] = "three-piece"
    slope_below_v: float = Field(0.032, gt=0.0, le=5.0)
    slope_above_v: float = Field(0.3, gt=0.0, le=5.0)
    knee_v: float = Field(0.3, gt=0.0, le=5.0)
    slope_far_v: float = Field(0.3, gt=0.0, le=100.0)

    def slopes(self) -> tuple[float, float]:
        """Slopes (V) below and above threshold."""
        return self.slope_below_v, self.slope_above_v

    def far_piece(self) -> tuple[float, float]:
        """Knee above threshold and far slope (V)."""
        return self.knee_v, self.slope_far_v


Dynamics = Annotated[
    ExponentialDynamics | TwoSlopeDynamics | ThreePieceDynamics, Field(discriminator="kind")
]


class FaultStatistics(BaseModel):
    """Devices that cannot be switched at all, scattered uniformly (not whole lines).

    Attributes
    ----------
    unswitchable_fraction : float
        Fraction of devices that never switch (paper: 45 of 4096, about 1.1 %).
    stuck_state : {"low", "high"}
        Where such devices sit: ``"low"`` = at ``g_min`` (the paper's stuck-at-HRS devices),
        ``"high"`` = at ``g_max``.
    """

    model_config = _STRICT

    unswitchable_fraction: float = Field(0.011, ge=0.0, lt=1.0)
    stuck_state: Literal["low", "high"] = "low"


class DeviceConfig(BaseModel):
    """A device population: bounds, thresholds, pulse law, faults, initial state.

    Attributes
    ----------
    name : str
        Free-form label.
    g_min_s, g_max_s : float
        Soft conductance bounds of the pulse law (S).
    read_voltage_v : float
        Read voltage (V); conductances are specified at this voltage.
    initial_mean_s, initial_std_s : float
        Normal distribution of as-fabricated conductances (S), clipped into the bounds
        (thesis 3.2: 36.25 uS +/- 9 uS).
    threshold_change : float
        Relative change that defines the operational threshold (paper: 0.2).
    set_reference_s, reset_reference_s : float
        States a set (reset) threshold is measured from (paper Fig. 2: 14 uS and 50 uS);
        they fix the dose of a pulse at threshold.
    thresholds : ThresholdStatistics
    dynamics : ExponentialDynamics | TwoSlopeDynamics | ThreePieceDynamics
    faults : FaultStatistics
    conditions : OperatingModels
        Temperature, nonlinearity, retention, read-noise and stuck-device models
        (:mod:`xbarsim.devices.conditions`).
    threshold_distribution : {"lognormal", "normal", "truncated_normal"}
        Marginal distribution of the set and reset thresholds, each with the mean and std of
        :attr:`thresholds` (V) and the same correlation (:mod:`xbarsim.devices.sampling`).
        ``"lognormal"`` (default) is the paper's model; ``"normal"`` may draw thresholds at
        or below 0 V for large spreads (such a device switches under any pulse);
        ``"truncated_normal"`` is a normal truncated to positive values whose parent is
        chosen so that the truncated distribution has exactly the configured mean and std
        (needs std < mean).
    leak_dose : float
        Sub-threshold leak floor (dimensionless dose per pulse, >= 0; default 0 = none):
        added to the dose of every pulse a switchable device sees with a nonzero amplitude,
        selected or disturbed, in that pulse's polarity (:class:`PulseLaw`). Still additive:
        ``n`` pulses add ``n * leak_dose``.
    cycle_to_cycle : float
        Cycle-to-cycle variation (dimensionless relative std, >= 0; default 0 = none): the
        dose of every pulse on the *selected* device is multiplied by a log-normal factor of
        mean 1 and this relative std, drawn from a counter-based stream keyed by the
        crossbar, the device and the device's pulse count
        (:mod:`xbarsim.devices.pulse_noise`), so every engine sees the same factors.
    """

    model_config = _STRICT

    name: str = "custom"
    g_min_s: float = Field(1.0e-6, gt=0.0, lt=1.0)
    g_max_s: float = Field(200.0e-6, gt=0.0, lt=1.0)
    read_voltage_v: float = Field(0.25, gt=0.0, le=1.0)
    initial_mean_s: float = Field(36.25e-6, gt=0.0, lt=1.0)
    initial_std_s: float = Field(9.0e-6, ge=0.0, lt=1.0)
    threshold_change: float = Field(0.2, gt=0.0, lt=1.0)
    set_reference_s: float = Field(14.0e-6, gt=0.0, lt=1.0)
    reset_reference_s: float = Field(50.0e-6, gt=0.0, lt=1.0)
    thresholds: ThresholdStatistics = ThresholdStatistics()
    dynamics: Dynamics = TwoSlopeDynamics()
    faults: FaultStatistics = FaultStatistics()
    conditions: OperatingModels = OperatingModels()
    threshold_distribution: ThresholdDistribution = "lognormal"
    leak_dose: float = Field(0.0, ge=0.0, le=1.0)
    cycle_to_cycle: float = Field(0.0, ge=0.0, le=10.0)

    @model_validator(mode="after")
    def _check_bounds(self) -> DeviceConfig:
        if self.g_max_s <= self.g_min_s:
            raise ValueError(
                f"g_max_s must exceed g_min_s (got g_min_s={self.g_min_s:g} S, "
                f"g_max_s={self.g_max_s:g} S)"
            )
        for field in ("set_reference_s", "reset_reference_s", "initial_mean_s"):
            value = getattr(self, field)
            if not self.g_min_s < value < self.g_max_s:
                raise ValueError(
                    f"{field} must lie in (g_min_s, g_max_s) = "
                    f"({self.g_min_s:g}, {self.g_max_s:g}) S, got {value:g}"
                )
        stuck = self.conditions.stuck
        if not self.g_min_s <= stuck.g_low_s < stuck.g_high_s <= self.g_max_s:
            raise ValueError(
                f"conditions.stuck: g_low_s and g_high_s must lie in [g_min_s, g_max_s] = "
                f"[{self.g_min_s:g}, {self.g_max_s:g}] S"
            )
        if self.threshold_distribution == "truncated_normal":
            th = self.thresholds
            if th.set_std_v >= th.set_mean_v or th.reset_std_v >= th.reset_mean_v:
                raise ValueError(
                    "threshold_distribution 'truncated_normal' needs each threshold std "
                    "below its mean (a normal truncated at 0 V has std < mean)"
                )
        try:
            self.pulse_law()
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return self

    def pulse_law(self) -> PulseLaw:
        """The numeric pulse law of this population."""
        below, above = self.dynamics.slopes()
        knee, far = self.dynamics.far_piece()
        return PulseLaw.from_threshold_definition(
            g_min=self.g_min_s,
            g_max=self.g_max_s,
            slope_below=below,
            slope_above=above,
            threshold_change=self.threshold_change,
            set_reference_s=self.set_reference_s,
            reset_reference_s=self.reset_reference_s,
            knee=knee,
            slope_far=far,
            leak_dose=self.leak_dose,
        )

    def with_sigma(self, sigma: float) -> DeviceConfig:
        """Copy with normalized threshold variation ``sigma`` for set and reset."""
        return self.model_copy(update={"thresholds": self.thresholds.with_sigma(sigma)})

    def without_faults(self) -> DeviceConfig:
        """Copy with no unswitchable devices."""
        return self.model_copy(update={"faults": FaultStatistics(unswitchable_fraction=0.0)})


class DevicePreset(StrEnum):
    """Named device populations with values from the source documents."""

    TIO2_64X64_PAPER = "tio2-64x64-paper"
    THESIS_UNIFORMITY = "thesis-uniformity"


def preset(name: str | DevicePreset) -> DeviceConfig:
    """Return a named preset.

    ``tio2-64x64-paper``: the paper's Al2O3/TiO2-x crossbar: set 1.19 +/- 0.31 V, reset
    -1.39 +/- 0.37 V, rho = 0.7, 1.1 % unswitchable (stuck low), read at 0.25 V,
    calibrated two-slope law (0.032 V below, 0.3 V above threshold).

    ``thesis-uniformity``: the thesis's VMM study (3.3): same means and law, no
    unswitchable devices; pair it with :meth:`DeviceConfig.with_sigma`.

    Raises
    ------
    XbarsimInputError
        For an unknown name.
    """
    try:
        key = DevicePreset(name)
    except ValueError:
        allowed = ", ".join(p.value for p in DevicePreset)
        raise XbarsimInputError(f"preset: unknown preset {name!r}; allowed: {allowed}") from None
    if key is DevicePreset.TIO2_64X64_PAPER:
        return DeviceConfig(name=key.value)
    return DeviceConfig(name=key.value, faults=FaultStatistics(unswitchable_fraction=0.0))


def load_device_config(path: str | Path) -> DeviceConfig:
    """Load a :class:`DeviceConfig` from a YAML or TOML file.

    A file may name a ``preset`` and override fields of it.

    Raises
    ------
    XbarsimInputError
        If the file is unreadable or the values are invalid.
    """
    path = Path(path)
    text = read_text(path, "config")
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except Exception as exc:
        raise XbarsimInputError(
            f"config: {path} is not valid YAML/TOML: {describe_parse_error(exc)}"
        ) from None
    if not isinstance(data, dict):
        raise XbarsimInputError(f"config: {path} must hold a mapping of fields")
    return device_config_from_dict(data)


def device_config_from_dict(data: dict) -> DeviceConfig:
    """Validate a mapping (optionally with ``preset``) into a :class:`DeviceConfig`."""
    data = dict(data)
    base = preset(data.pop("preset")).model_dump() if "preset" in data else {}
    merged = _deep_merge(base, data)
    try:
        return DeviceConfig.model_validate(merged)
    except Exception as exc:
        raise XbarsimInputError(f"device config: {format_validation_error(exc)}") from None


def _deep_merge(base: dict, update: dict) -> dict:
    out = dict(base)
    if "kind" in update and update["kind"] != base.get("kind"):
        return dict(update)  # another model of a union: nothing to inherit
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out

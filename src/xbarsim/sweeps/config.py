"""Sweep configuration (pydantic, extra keys forbidden), loadable from YAML.

Example ``fig30.yaml``::

    sizes: [16, 32, 64]
    sigmas: [0.0, 0.05, 0.15, 0.25, 0.30]
    targets: [0.01, 0.05]
    algorithms: [baseline, no-hs]
    crossbars: 20
    weight_sets: 20
    inputs: 1000
    seed: 1
    engine: auto
    results: runs/fig30
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from xbarsim.devices.config import DevicePreset
from xbarsim.errors import XbarsimInputError, format_validation_error
from xbarsim.experiments.vmm_study import (
    Algorithm,
    NonlinearityName,
    VmmCase,
    nonlinearity_model,
)
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import EngineName
from xbarsim.validation import describe_parse_error, read_text


class SweepConfig(BaseModel):
    """A grid of VMM-study cases and how to run it.

    Attributes
    ----------
    sizes : list of int
        Crossbar sizes N (>= 2).
    sigmas : list of float
        Normalized threshold variations (>= 0).
    targets : list of float
        Tuning tolerances (fraction, in (0, 1)).
    algorithms : list of {"baseline", "improved", "no-hs"}
    crossbars, weight_sets, inputs : int
        Crossbar pairs and weight sets per grid point; input vectors per instance.
    crossbars_per_task : int or None
        Crossbar pairs per task (each with every weight set); ``None``: the whole grid
        point in one task. Results do not depend on it.
    weight_std, g_low_s, g_high_s, input_max_v, device, max_amplitude_v, abandon_at_cap,
    nonlinearity, read_voltage_v
        As in :class:`~xbarsim.experiments.vmm_study.VmmCase` (S, V).
    seed : int
        Master seed (>= 0).
    engine : str
        Programming engine (one of :data:`xbarsim.programming.ENGINES`).
    results : str
        Results dataset directory.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    sizes: list[int] = Field(min_length=1)
    sigmas: list[float] = Field(min_length=1)
    targets: list[float] = Field(min_length=1)
    algorithms: list[Algorithm] = Field(default=["baseline"], min_length=1)
    crossbars: int = Field(20, ge=1, le=100_000)
    weight_sets: int = Field(20, ge=1, le=100_000)
    inputs: int = Field(1000, ge=1, le=1_000_000)
    crossbars_per_task: int | None = Field(None, ge=1)
    weight_std: float = Field(0.5, gt=0.0, le=10.0)
    g_low_s: float = Field(10e-6, gt=0.0, lt=1.0)
    g_high_s: float = Field(100e-6, gt=0.0, lt=1.0)
    input_max_v: float = Field(0.1, gt=0.0, le=10.0)
    device: str = DevicePreset.THESIS_UNIFORMITY.value
    max_amplitude_v: float | None = Field(None, gt=0.0, le=20.0)
    abandon_at_cap: bool | None = None
    nonlinearity: NonlinearityName = "none"
    read_voltage_v: float | None = Field(None, gt=0.0, le=10.0)
    seed: int = Field(0, ge=0)
    engine: EngineName = "auto"
    results: str = Field(min_length=1)

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, v: list[int]) -> list[int]:
        bad = [s for s in v if s < 2 or s > 1024]
        if bad:
            raise ValueError(f"every size must be in [2, 1024], got {bad}")
        return sorted(set(v))

    @field_validator("sigmas")
    @classmethod
    def _sigmas(cls, v: list[float]) -> list[float]:
        bad = [s for s in v if s < 0 or s > 2]
        if bad:
            raise ValueError(f"every sigma must be in [0, 2], got {bad}")
        return sorted(set(v))

    @field_validator("targets")
    @classmethod
    def _targets(cls, v: list[float]) -> list[float]:
        bad = [t for t in v if not 0 < t < 1]
        if bad:
            raise ValueError(f"every target must be in (0, 1), got {bad}")
        return sorted(set(v))

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        allowed = [p.value for p in DevicePreset]
        if v not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, got {v!r}")
        return v

    @model_validator(mode="after")
    def _check_range(self) -> SweepConfig:
        if self.g_high_s <= self.g_low_s:
            raise ValueError(
                f"g_high_s ({self.g_high_s:g} S) must exceed g_low_s ({self.g_low_s:g} S)"
            )
        nonlinearity_model(
            self.nonlinearity, self.read_voltage_v, self.input_max_v, self.g_low_s, self.g_high_s
        )
        start = WriteVerify.thesis().ramp_start_v
        if self.max_amplitude_v is not None and self.max_amplitude_v < start:
            raise ValueError(
                f"max_amplitude_v ({self.max_amplitude_v:g} V) must be >= the ramp start "
                f"({start:g} V)"
            )
        return self

    def cases(self) -> list[VmmCase]:
        """Every grid point, in a fixed order."""
        return [
            VmmCase(
                size=n,
                sigma=s,
                target=t,
                algorithm=a,
                crossbars=self.crossbars,
                weight_sets=self.weight_sets,
                inputs=self.inputs,
                weight_std=self.weight_std,
                g_low_s=self.g_low_s,
                g_high_s=self.g_high_s,
                input_max_v=self.input_max_v,
                device=self.device,
                max_amplitude_v=self.max_amplitude_v,
                abandon_at_cap=self.abandon_at_cap,
                nonlinearity=self.nonlinearity,
                read_voltage_v=self.read_voltage_v,
            )
            for n in self.sizes
            for s in self.sigmas
            for t in self.targets
            for a in self.algorithms
        ]

    def study_meta(self) -> dict:
        """The parameters that fix every result row (stored with a dataset)."""
        return self.model_dump(
            include={
                "crossbars",
                "weight_sets",
                "inputs",
                "crossbars_per_task",
                "weight_std",
                "g_low_s",
                "g_high_s",
                "input_max_v",
                "device",
                "max_amplitude_v",
                "abandon_at_cap",
                "nonlinearity",
                "read_voltage_v",
                "seed",
            }
        )


def sweep_config_from_dict(data: object) -> SweepConfig:
    """Validate a mapping into a :class:`SweepConfig` (one-line error otherwise)."""
    if not isinstance(data, dict):
        raise XbarsimInputError("config: must be a mapping of fields")
    try:
        return SweepConfig.model_validate(data)
    except Exception as exc:
        raise XbarsimInputError(f"config: {format_validation_error(exc)}") from None


def load_sweep_config(path: str | Path) -> SweepConfig:
    """Load a :class:`SweepConfig` from a YAML file.

    Raises
    ------
    XbarsimInputError
        Unreadable file, invalid YAML, unknown keys or invalid values.
    """
    path = Path(path)
    text = read_text(path, "config")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise XbarsimInputError(
            f"config: {path} is not valid YAML: {describe_parse_error(exc)}"
        ) from None
    return sweep_config_from_dict(data)

"""The parameter space of a calibration: named, bounded parameters of a device population.

Each :class:`Parameter` maps one optimizer coordinate onto a field of
:class:`~xbarsim.devices.config.DeviceConfig` (a dotted path such as
``dynamics.slope_below_v``) or onto the algorithm variant (path ``variant``, a categorical
choice among :data:`~xbarsim.experiments.calibration.VARIANTS`). A log-scaled parameter is
searched uniformly in ``log10``; a categorical one as an integer index into its choices.
:data:`PARAMETERS` holds the known parameters with their default bounds;
:meth:`ParameterSpace.parse` reads a command line's ``NAME[=LOW:HIGH],...``. A space that
names the knee or the far slope runs the three-piece law (the two-slope law is its special
case with the far slope equal to the slope above threshold).
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.devices.config import DeviceConfig, ThresholdDistribution
from xbarsim.errors import XbarsimInputError, format_validation_error
from xbarsim.experiments.calibration import VARIANTS

#: Path of the algorithm variant (not a device field).
VARIANT_PATH = "variant"
#: Fields of the three-piece law that a two-slope base lacks.
_THREE_PIECE = ("dynamics.knee_v", "dynamics.slope_far_v")


class Parameter(BaseModel):
    """One searched parameter.

    Attributes
    ----------
    name : str
        Short name (command line, store columns).
    path : str
        Dotted :class:`DeviceConfig` field it sets, or ``"variant"``.
    scale : {"linear", "log", "categorical"}
    low, high : float
        Bounds in the field's unit (V for slopes and knees); unused when categorical.
    choices : tuple of str
        Values of a categorical parameter (at least two).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    name: str = Field(min_length=1)
    path: str = Field(min_length=1)
    scale: Literal["linear", "log", "categorical"] = "linear"
    low: float = 0.0
    high: float = 1.0
    choices: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        if self.scale == "categorical":
            if len(self.choices) < 2:
                raise ValueError(f"{self.name}: a categorical parameter needs two choices")
        elif not self.low < self.high:
            raise ValueError(f"{self.name}: needs low < high, got {self.low:g}:{self.high:g}")
        elif self.scale == "log" and self.low <= 0:
            raise ValueError(f"{self.name}: a log-scaled parameter needs low > 0")
        return self

    def bounds(self) -> tuple[float, float]:
        """Bounds of the optimizer coordinate (``log10`` for log scale, index range)."""
        if self.scale == "categorical":
            return 0.0, float(len(self.choices) - 1)
        if self.scale == "log":
            return math.log10(self.low), math.log10(self.high)
        return self.low, self.high

    def value(self, coordinate: float) -> float | str:
        """The parameter's value at an optimizer coordinate."""
        if self.scale == "categorical":
            index = int(np.clip(round(coordinate), 0, len(self.choices) - 1))
            return self.choices[index]
        lo, hi = self.bounds()
        x = float(np.clip(coordinate, lo, hi))
        # 12 significant digits: a stable trial key whatever the last bits of the optimizer
        return float(f"{10.0**x if self.scale == 'log' else x:.12g}")


#: Known parameters and their default bounds.
PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter(name="slope_below", path="dynamics.slope_below_v", scale="log",
                  low=0.02, high=0.07),
        Parameter(name="slope_above", path="dynamics.slope_above_v", scale="log",
                  low=0.05, high=1.0),
        Parameter(name="knee", path="dynamics.knee_v", scale="log", low=0.02, high=1.0),
        Parameter(name="slope_far", path="dynamics.slope_far_v", scale="log",
                  low=0.05, high=10.0),
        # a 64 x 64 tuning run disturbs a device ~1e6 times; at 1e-12 the leak is off in
        # effect, from 1e-9 on it changes the sigma = 25 % targets
        Parameter(name="leak_dose", path="leak_dose", scale="log", low=1e-12, high=1e-7),
        Parameter(name="cycle_to_cycle", path="cycle_to_cycle", low=0.0, high=0.5),
        Parameter(name="threshold_distribution", path="threshold_distribution",
                  scale="categorical", choices=get_args(ThresholdDistribution)),
        Parameter(name="correlation", path="thresholds.correlation", low=0.0, high=0.95),
        Parameter(name="variant", path=VARIANT_PATH, scale="categorical",
                  choices=tuple(VARIANTS)),
    )
}
#: Parameters of a fit when none are named.
DEFAULT_PARAMETERS = ("slope_below", "slope_above", "knee", "slope_far", "leak_dose",
                      "cycle_to_cycle", "threshold_distribution", "variant")


class ParameterSpace(BaseModel):
    """The searched parameters, in optimizer-coordinate order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parameters: tuple[Parameter, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ParameterSpace:
        names = [p.name for p in self.parameters]
        paths = [p.path for p in self.parameters]
        if len(set(names)) < len(names) or len(set(paths)) < len(paths):
            raise ValueError("parameters: each name and field at most once")
        return self

    @classmethod
    def parse(cls, text: str) -> ParameterSpace:
        """Space of ``NAME[=LOW:HIGH],...`` (known names of :data:`PARAMETERS`).

        Raises
        ------
        XbarsimInputError
            For an unknown name, malformed or invalid bounds, or a repeated name.
        """
        chosen = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, _, bounds = part.partition("=")
            if name not in PARAMETERS:
                raise XbarsimInputError(
                    f"params: unknown parameter {name!r}; known: {', '.join(PARAMETERS)}"
                )
            known = PARAMETERS[name]
            if bounds:
                try:
                    low, high = (float(x) for x in bounds.split(":"))
                    known = Parameter(**{**known.model_dump(), "low": low, "high": high})
                except ValueError as exc:
                    reason = (format_validation_error(exc) if hasattr(exc, "errors")
                              else f"bounds must be LOW:HIGH, got {bounds!r}")
                    raise XbarsimInputError(f"params: {name}: {reason}") from None
            chosen.append(known)
        if not chosen:
            raise XbarsimInputError("params: name at least one of " + ", ".join(PARAMETERS))
        try:
            return cls(parameters=tuple(chosen))
        except ValueError as exc:
            raise XbarsimInputError(f"params: {format_validation_error(exc)}") from None

    def names(self) -> list[str]:
        """Parameter names, in coordinate order."""
        return [p.name for p in self.parameters]

    def bounds(self) -> list[tuple[float, float]]:
        """Optimizer bounds per coordinate."""
        return [p.bounds() for p in self.parameters]

    def integrality(self) -> np.ndarray:
        """True for the categorical (integer-index) coordinates."""
        return np.array([p.scale == "categorical" for p in self.parameters])

    def values(self, x: np.ndarray) -> dict[str, float | str]:
        """Parameter values (name -> value) at optimizer coordinates ``x``."""
        return {p.name: p.value(float(c)) for p, c in zip(self.parameters, x, strict=True)}

    def device(self, values: dict[str, float | str], base: DeviceConfig) -> DeviceConfig:
        """``base`` with every device parameter of ``values`` set (three-piece law when the
        space has a knee or a far slope; a two-slope base keeps its slopes, its far slope
        equal to the slope above threshold).

        Raises
        ------
        XbarsimInputError
            When the values make an invalid population.
        """
        data = base.model_dump()
        paths = {p.path for p in self.parameters}
        if paths & set(_THREE_PIECE) and data["dynamics"]["kind"] != "three-piece":
            below, above = base.dynamics.slopes()
            data["dynamics"] = {"kind": "three-piece", "slope_below_v": below,
                                "slope_above_v": above, "knee_v": 0.3, "slope_far_v": above}
        for p in self.parameters:
            if p.path == VARIANT_PATH:
                continue
            *parents, leaf = p.path.split(".")
            node = data
            for key in parents:
                node = node[key]
            node[leaf] = values[p.name]
        try:
            return DeviceConfig.model_validate(data)
        except ValueError as exc:
            raise XbarsimInputError(f"params: {format_validation_error(exc)}") from None

    def variant(self, values: dict[str, float | str], default: str = "thesis") -> str:
        """The algorithm variant of ``values`` (``default`` when the space has none)."""
        return str(values.get(next(
            (p.name for p in self.parameters if p.path == VARIANT_PATH), ""), default))

    def base_values(self, base: DeviceConfig, variant: str = "thesis") -> dict[str, object]:
        """The parameters' values in ``base`` (NaN for a field it lacks, such as the knee
        of a two-slope law) and ``variant``."""
        data = base.model_dump()
        out: dict[str, object] = {}
        for p in self.parameters:
            if p.path == VARIANT_PATH:
                out[p.name] = variant
                continue
            node: object = data
            for key in p.path.split("."):
                node = node.get(key, math.nan) if isinstance(node, dict) else math.nan
            out[p.name] = node
        return out

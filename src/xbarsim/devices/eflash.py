"""The eFlash gate-coupled synapse, a second device technology (layer 1; thesis 0.3/2.2).

A peripheral eFlash cell tuned to ``I_max`` turns the input current into a shared gate
voltage; a synaptic cell of state current ``I_state`` on that gate line outputs about
``I_in * I_state / I_max``. The weight of a cell is ``w0 = I_state / I_max`` in [0, 1];
a signed weight uses two cells. Reference point (thesis): ``I_max`` = 30 nA, tuned at
``I_tune = I_in`` = 21 nA. Inputs and outputs are currents (A).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.devices.nonlinearity import EflashNonlinearity
from xbarsim.devices.temperature import EflashSubthresholdTemperature, EflashTemperature
from xbarsim.devices.validity import check_finite
from xbarsim.errors import XbarsimInputError


class EflashSynapse(BaseModel):
    """Gate-coupled eFlash synapse with its temperature and nonlinearity models.

    Attributes
    ----------
    i_max_a : float
        State current of the peripheral cell (A); thesis 30 nA.
    i_tune_a : float
        Input current at which synapses are tuned (A); thesis 21 nA.
    temperature : EflashTemperature
        Weight temperature model (default: ideal subthreshold law, an assumption).
    nonlinearity : EflashNonlinearity
        Normalized static nonlinearity (default: off, zero coefficients).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    i_max_a: float = Field(30e-9, gt=0.0, lt=1.0)
    i_tune_a: float = Field(21e-9, gt=0.0, lt=1.0)
    temperature: EflashTemperature = EflashSubthresholdTemperature()
    nonlinearity: EflashNonlinearity = EflashNonlinearity(x_tune=0.7)

    @model_validator(mode="after")
    def _check(self) -> EflashSynapse:
        if self.i_tune_a > self.i_max_a:
            raise ValueError("i_tune_a must not exceed i_max_a")
        if abs(self.nonlinearity.x_tune - self.i_tune_a / self.i_max_a) > 1e-9:
            raise ValueError("nonlinearity.x_tune must equal i_tune_a / i_max_a")
        return self

    def weight(self, i_state_a: ArrayLike) -> NDArray[np.float64]:
        """Weights ``I_state / I_max`` of cells with state currents ``i_state_a`` (A)."""
        i = np.asarray(i_state_a, dtype=np.float64)
        check_finite("i_state_a", i)
        if np.any(i < 0.0) or np.any(i > self.i_max_a * (1 + 1e-12)):
            raise XbarsimInputError(
                f"i_state_a: state currents must lie in [0, i_max_a = {self.i_max_a:g} A]"
            )
        return i / self.i_max_a

    def weight_at(self, w0: ArrayLike, temp_c: float, strict: bool = False) -> NDArray[np.float64]:
        """Weights at die temperature ``temp_c`` (degrees C) of cells tuned to ``w0``."""
        w = np.asarray(w0, dtype=np.float64)
        # a zero weight stays zero; keep it out of the fitted-range check
        w_eval = np.where(w > 0.0, w, self.temperature.fit_w0[1])
        return w * (1.0 + self.temperature.relative_change(w_eval, temp_c, strict))

    def output_current(
        self,
        i_in_a: ArrayLike,
        i_state_a: ArrayLike,
        temp_c: float = 25.0,
        strict: bool = False,
    ) -> NDArray[np.float64]:
        """Output current (A) of synapses for input currents ``i_in_a`` (A).

        ``I_out = I_max (x w(T) + dy(w(T), x))`` with ``x = I_in / I_max``.
        """
        x = np.asarray(i_in_a, dtype=np.float64) / self.i_max_a
        w = self.weight_at(self.weight(i_state_a), temp_c, strict)
        return self.i_max_a * (x * w + self.nonlinearity.error(w, x, strict))

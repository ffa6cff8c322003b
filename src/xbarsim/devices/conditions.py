"""Operating-condition models of a device population, bundled (layer 1).

One validated config holds every model that turns a programmed state into behaviour at
operating conditions (temperature, I-V nonlinearity, retention, read noise) plus the
stuck-device rates. It lives on :class:`~xbarsim.devices.config.DeviceConfig` as
``conditions`` so a device file (``--config``) carries it. Defaults: the spec's
placeholder coefficients (assumptions, see each model), no read noise, no stuck devices.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from xbarsim.devices.nonlinearity import Nonlinearity, PolynomialNonlinearity
from xbarsim.devices.read_noise import ReadNoise
from xbarsim.devices.retention import ArrheniusRetention
from xbarsim.devices.stuck import StuckFaults
from xbarsim.devices.temperature import MemristorTemperature


class OperatingModels(BaseModel):
    """Models of a memristor population at operating conditions.

    Attributes
    ----------
    temperature : MemristorTemperature
    nonlinearity : PolynomialNonlinearity | SinhNonlinearity
    retention : ArrheniusRetention
    read_noise : ReadNoise
    stuck : StuckFaults
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    temperature: MemristorTemperature = MemristorTemperature()
    nonlinearity: Nonlinearity = PolynomialNonlinearity()
    retention: ArrheniusRetention = ArrheniusRetention()
    read_noise: ReadNoise = ReadNoise()
    stuck: StuckFaults = StuckFaults()

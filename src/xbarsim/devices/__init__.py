"""Layer 1: device models (thresholds, pulse dynamics, faults, operating conditions)."""

from xbarsim.devices.conditions import OperatingModels
from xbarsim.devices.config import (
    DeviceConfig,
    DevicePreset,
    ExponentialDynamics,
    FaultStatistics,
    ThreePieceDynamics,
    ThresholdDistribution,
    ThresholdStatistics,
    TwoSlopeDynamics,
    device_config_from_dict,
    load_device_config,
    preset,
)
from xbarsim.devices.dynamics import PulseLaw
from xbarsim.devices.eflash import EflashSynapse
from xbarsim.devices.nonlinearity import (
    EflashNonlinearity,
    PolynomialNonlinearity,
    SinhNonlinearity,
)
from xbarsim.devices.read_noise import ReadNoise
from xbarsim.devices.retention import ArrheniusRetention
from xbarsim.devices.sampling import DeviceSample, sample_devices
from xbarsim.devices.stuck import FaultCode, StuckFaults
from xbarsim.devices.temperature import (
    EflashPolyTemperature,
    EflashSubthresholdTemperature,
    MemristorTemperature,
)
from xbarsim.devices.validity import ExtrapolationWarning

__all__ = [
    "ArrheniusRetention",
    "DeviceConfig",
    "DevicePreset",
    "DeviceSample",
    "EflashNonlinearity",
    "EflashPolyTemperature",
    "EflashSubthresholdTemperature",
    "EflashSynapse",
    "ExponentialDynamics",
    "ExtrapolationWarning",
    "FaultCode",
    "FaultStatistics",
    "MemristorTemperature",
    "OperatingModels",
    "PolynomialNonlinearity",
    "PulseLaw",
    "ReadNoise",
    "SinhNonlinearity",
    "StuckFaults",
    "ThreePieceDynamics",
    "ThresholdDistribution",
    "ThresholdStatistics",
    "TwoSlopeDynamics",
    "device_config_from_dict",
    "load_device_config",
    "preset",
    "sample_devices",
]

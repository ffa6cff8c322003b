"""Layer 1: device models (threshold statistics, pulse dynamics, faults)."""

from xbarsim.devices.config import (
    DeviceConfig,
    DevicePreset,
    ExponentialDynamics,
    FaultStatistics,
    ThresholdStatistics,
    TwoSlopeDynamics,
    device_config_from_dict,
    load_device_config,
    preset,
)
from xbarsim.devices.dynamics import PulseLaw
from xbarsim.devices.sampling import DeviceSample, sample_devices

__all__ = [
    "DeviceConfig",
    "DevicePreset",
    "DeviceSample",
    "ExponentialDynamics",
    "FaultStatistics",
    "PulseLaw",
    "ThresholdStatistics",
    "TwoSlopeDynamics",
    "device_config_from_dict",
    "load_device_config",
    "preset",
    "sample_devices",
]

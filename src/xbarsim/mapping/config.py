"""Configuration of a simulated chip that a network is deployed on (layer 4).

Torch-free, so experiments and the CLI can build and validate it without torch.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.devices.config import DeviceConfig, preset
from xbarsim.mapping.differential import PairMapping
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import EngineName
from xbarsim.programming.improved import ImprovedTuning
from xbarsim.programming.touch_up import TouchUp


class ChipConfig(BaseModel):
    """A chip of N x N differential crossbar kernels and how weights are written to it.

    Attributes
    ----------
    device : DeviceConfig
        Device population every kernel is sampled from.
    kernel : int
        Kernel size N (rows = columns = N), >= 1.
    mapping : {"differential", "mapping1", "mapping2"}
        Weight-to-conductance pair mapping (:mod:`xbarsim.mapping.differential`).
    g_low_s, g_high_s : float
        Mapping range (S); must lie strictly inside the device bounds
        ``(device.g_min_s, device.g_max_s)``.
    algorithm : WriteVerify, ImprovedTuning or None
        Tuning algorithm (thesis write-verify, or the improved tuning of thesis 3.5.2);
        ``None`` loads the targets exactly (ideal programming, a bypass for tests and
        software baselines).
    engine : str
        Programming engine (:data:`xbarsim.programming.ENGINES`).
    input_voltage_v : float
        Row voltage for an input of 1 (V); inputs drive rows as ``x * input_voltage_v``.
    tune_padding : bool
        Also write-verify the kernel cells that carry no weight (the zero padding of
        partly filled kernels). False (default) leaves them as sampled: no pulse on their
        behalf, so their ramps cannot disturb the weight-carrying cells of their rows and
        columns (their rows are never driven or their columns never read).
    touch_up : TouchUp or None
        Touch-up passes under a low amplitude cap after a write-verify ``algorithm``
        (:mod:`xbarsim.programming.touch_up`); None (default here, the source documents'
        algorithms as they are) for none; the default chip spec asks for them. Improved
        tuning, which lowers its cap pass by pass itself, takes none.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, strict=True)

    device: DeviceConfig = Field(default_factory=lambda: preset("tio2-64x64-paper"))
    kernel: int = Field(64, ge=1, le=4096)
    mapping: PairMapping = "differential"
    g_low_s: float = Field(10e-6, gt=0.0, lt=1.0)
    g_high_s: float = Field(100e-6, gt=0.0, lt=1.0)
    algorithm: WriteVerify | ImprovedTuning | None = Field(default_factory=WriteVerify.thesis)
    engine: EngineName = "auto"
    input_voltage_v: float = Field(0.1, gt=0.0, le=1.0)
    tune_padding: bool = False
    touch_up: TouchUp | None = None

    @model_validator(mode="after")
    def _check_range(self) -> ChipConfig:
        lo, hi = self.device.g_min_s, self.device.g_max_s
        if not lo < self.g_low_s < self.g_high_s < hi:
            raise ValueError(
                f"mapping range must satisfy g_min < g_low_s < g_high_s < g_max = "
                f"{lo * 1e6:g} < ... < {hi * 1e6:g} uS, got g_low_s={self.g_low_s * 1e6:g} uS, "
                f"g_high_s={self.g_high_s * 1e6:g} uS"
            )
        return self

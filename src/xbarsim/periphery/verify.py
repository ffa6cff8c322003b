"""Write-verify's verify read through the periphery (layer 5).

The verify read of thesis §4.1.1 drives the selected row at the read voltage (through the
DAC), grounds the others and senses the selected column with its TIA, whose output the ADC
digitizes; the controller turns the code back into a conductance. :class:`PeripheryRead`
does that for one device (the rest of the array carries no current in this read mode; line
resistance is left out, see ``deploy(..., verify_through_lines=True)`` for it), with an
optional Gaussian input-referred current noise, and implements
:class:`xbarsim.programming.verify_read.VerifyRead` so that
``program(..., verify_read=...)`` steps write-verify on these reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim.errors import XbarsimInputError
from xbarsim.periphery.read_path import ReadPath


@dataclass(frozen=True)
class PeripheryRead:
    """A calibrated single-device verify read (build it with :func:`periphery_read`).

    Attributes
    ----------
    path : ReadPath
        Calibrated DAC, TIA and ADC (no lines).
    read_voltage_v : float
        Requested read voltage (V, relative to ``V_cm``).
    noise_a : float
        Standard deviation of the input-referred read noise (A, >= 0).
    seed : int
        Root seed of the noise (crossbar ``b`` uses child ``b``).
    exact : bool
        Always False: reads are quantized (or at least pass the TIA) and are stepped.
    """

    path: ReadPath
    read_voltage_v: float
    noise_a: float = 0.0
    seed: int = 0
    exact: bool = False

    @property
    def drive_v(self) -> float:
        """The voltage the DAC actually applies (V)."""
        if self.path.dac is None:
            return self.read_voltage_v
        return float(self.path.dac.convert(self.read_voltage_v).value)

    @property
    def step_s(self) -> float:
        """Conductance per ADC code (S); 0 without an ADC."""
        if self.path.adc is None:
            return 0.0
        return self.path.adc.lsb_v / (self.path.tia.transimpedance_ohm * self.drive_v)

    def read_conductance(self, g_s: float, rng: np.random.Generator) -> float:
        """Conductance (S) read for a device of conductance ``g_s`` (S): DAC level, current
        ``(V − V_os)·G / (1 + G·R_in)`` plus noise, TIA, ADC, back to ``I / V``."""
        tia = self.path.tia
        v = self.drive_v
        current = (v - tia.offset_v) * g_s / (1.0 + g_s * tia.input_resistance_ohm)
        if self.noise_a > 0.0:
            current += self.noise_a * rng.standard_normal()
        v_out = tia.output(current).v_out
        if self.path.adc is not None:
            v_out = self.path.adc.convert(v_out).value
        return float(tia.current_estimate(v_out)) / v


def periphery_read(
    path: ReadPath,
    g_max_s: float,
    read_voltage_v: float = 0.25,
    noise_a: float = 0.0,
    seed: int = 0,
) -> PeripheryRead:
    """A verify read through ``path``, its ranges calibrated for devices up to ``g_max_s``.

    Parameters
    ----------
    path : ReadPath
        DAC / TIA / ADC to read through (``lines`` must be None).
    g_max_s : float
        Largest conductance to read without clipping (S, > 0).
    read_voltage_v : float
        Read voltage (V, > 0).
    noise_a : float
        Input-referred read noise, standard deviation (A, >= 0).
    seed : int
        Root seed of the noise (>= 0).

    Returns
    -------
    PeripheryRead
    """
    if path.lines is not None:
        raise XbarsimInputError(
            "path.lines: the verify read is single-device; use verify_through_lines for lines"
        )
    for name, value in (("g_max_s", g_max_s), ("read_voltage_v", read_voltage_v)):
        if not (np.isfinite(value) and value > 0.0):
            raise XbarsimInputError(f"{name}: must be a finite value > 0, got {value!r}")
    if not (np.isfinite(noise_a) and noise_a >= 0.0):
        raise XbarsimInputError(f"noise_a: must be a finite value >= 0 A, got {noise_a!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise XbarsimInputError(f"seed: must be an integer >= 0, got {seed!r}")
    calibrated = path.calibrate(np.full((1, 1, 1), g_max_s), np.array([[read_voltage_v]]))
    return PeripheryRead(calibrated, read_voltage_v, noise_a, seed)

"""Data converters of the mixed-signal read path (layer 5): ``DAC`` and ``ADC``.

Both are ideal uniform quantizers in physical units (volts), with clipping at the ends of
their range reported as a mask, so a caller can count clip rates. Thesis §4.1.2b: a 5-bit
buffered current-steering DAC with a 280 mV full scale (361 µW, 62.5 MS/s) and a 5-bit flash
ADC (1.6 mW, 500 MS/s). The ADC input range is not published; its default is the TIA's
designed output range 0.1-1.2 V (an assumption).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Conversion(NamedTuple):
    """Result of a conversion.

    Attributes
    ----------
    code : ndarray of int64
        Output codes.
    value : ndarray of float64
        The voltage each code stands for (V).
    clipped : ndarray of bool
        True where the input lay outside the converter's range (clipped to the end code).
    """

    code: NDArray[np.int64]
    value: NDArray[np.float64]
    clipped: NDArray[np.bool_]


class DAC(BaseModel):
    """Uniform digital-to-analog converter driving a word line.

    Inputs are the voltages a row should carry (V, relative to the summing nodes' virtual
    ground); the DAC returns the nearest of its ``2**bits`` levels. Unipolar levels are
    ``code * lsb`` for ``code = 0 .. 2**bits - 1``; bipolar levels are symmetric,
    ``code = -(2**(bits-1) - 1) .. 2**(bits-1) - 1``. The top code equals ``full_scale_v``.

    Attributes
    ----------
    bits : int
        Resolution (1-24; bipolar needs >= 2).
    full_scale_v : float
        Voltage of the top code (V, > 0). Thesis: 0.28 V.
    bipolar : bool
        Symmetric levels around 0 V (for signed inputs).
    power_w : float
        Average power (W), for cost models. Thesis: 361 µW.
    rate_sps : float
        Conversion rate (samples/s). Thesis: 62.5 MS/s.
    """

    model_config = _STRICT

    bits: int = Field(5, ge=1, le=24)
    full_scale_v: float = Field(0.28, gt=0.0, le=10.0)
    bipolar: bool = False
    power_w: float = Field(361.0e-6, ge=0.0)
    rate_sps: float = Field(62.5e6, gt=0.0)

    @model_validator(mode="after")
    def _check_bipolar(self) -> DAC:
        if self.bipolar and self.bits < 2:
            raise ValueError(f"bits: a bipolar DAC needs bits >= 2, got {self.bits}")
        return self

    @classmethod
    def thesis(cls) -> DAC:
        """The thesis's 5-bit, 280 mV buffered current-steering DAC (361 µW, 62.5 MS/s)."""
        return cls(bits=5, full_scale_v=0.28, power_w=361.0e-6, rate_sps=62.5e6)

    @property
    def max_code(self) -> int:
        """Largest code (the one at ``full_scale_v``)."""
        return 2 ** (self.bits - 1) - 1 if self.bipolar else 2**self.bits - 1

    @property
    def min_code(self) -> int:
        """Smallest code (0, or ``-max_code`` when bipolar)."""
        return -self.max_code if self.bipolar else 0

    @property
    def lsb_v(self) -> float:
        """Voltage step between adjacent codes (V); thesis: 280 mV / 31 = 9.03 mV."""
        return self.full_scale_v / self.max_code

    def convert(self, voltage_v: ArrayLike) -> Conversion:
        """Quantize requested row voltages to the nearest level (round half to even).

        Parameters
        ----------
        voltage_v : array_like
            Requested voltages (V).

        Returns
        -------
        Conversion
            Codes, output voltages (V) and the mask of inputs outside the range.
        """
        v = np.asarray(voltage_v, dtype=np.float64)
        exact = v / self.lsb_v
        clipped = (exact > self.max_code) | (exact < self.min_code)
        code = np.clip(np.rint(exact), self.min_code, self.max_code).astype(np.int64)
        return Conversion(code=code, value=code * self.lsb_v, clipped=clipped)


class ADC(BaseModel):
    """Uniform (flash) analog-to-digital converter on a TIA output.

    Mid-tread: code ``k`` stands for ``v_min_v + k * lsb`` and inputs round to the nearest
    code; inputs outside ``[v_min_v, v_max_v]`` clip to the end codes.

    Attributes
    ----------
    bits : int
        Resolution (1-24). Thesis: 5 (flash, 31 comparators).
    v_min_v, v_max_v : float
        Input range (V), ``v_min_v < v_max_v``. Default: the TIA's 0.1-1.2 V design range
        (an assumption; the thesis gives no ADC range).
    power_w : float
        Average power (W). Thesis: 1.6 mW.
    rate_sps : float
        Conversion rate (samples/s). Thesis: 500 MS/s.
    """

    model_config = _STRICT

    bits: int = Field(5, ge=1, le=24)
    v_min_v: float = Field(0.1, ge=-10.0, le=10.0)
    v_max_v: float = Field(1.2, ge=-10.0, le=10.0)
    power_w: float = Field(1.6e-3, ge=0.0)
    rate_sps: float = Field(500.0e6, gt=0.0)

    @model_validator(mode="after")
    def _check_range(self) -> ADC:
        if not self.v_min_v < self.v_max_v:
            raise ValueError(
                f"v_max_v: the range must satisfy v_min_v < v_max_v, got "
                f"[{self.v_min_v:g}, {self.v_max_v:g}] V"
            )
        return self

    @classmethod
    def thesis(cls) -> ADC:
        """The thesis's 5-bit flash ADC (1.6 mW, 500 MS/s) over the TIA range 0.1-1.2 V."""
        return cls(bits=5, v_min_v=0.1, v_max_v=1.2, power_w=1.6e-3, rate_sps=500.0e6)

    @property
    def max_code(self) -> int:
        """Largest code, ``2**bits - 1``."""
        return 2**self.bits - 1

    @property
    def lsb_v(self) -> float:
        """Input step per code (V); thesis range: 1.1 V / 31 = 35.5 mV."""
        return (self.v_max_v - self.v_min_v) / self.max_code

    def convert(self, voltage_v: ArrayLike) -> Conversion:
        """Digitize voltages (V) to codes and the voltages the codes stand for.

        Parameters
        ----------
        voltage_v : array_like
            Input voltages (V).

        Returns
        -------
        Conversion
            Codes in ``0 .. max_code``, their voltages (V) and the clip mask.
        """
        v = np.asarray(voltage_v, dtype=np.float64)
        exact = (v - self.v_min_v) / self.lsb_v
        clipped = (v < self.v_min_v) | (v > self.v_max_v)
        code = np.clip(np.rint(exact), 0, self.max_code).astype(np.int64)
        return Conversion(code=code, value=self.v_min_v + code * self.lsb_v, clipped=clipped)

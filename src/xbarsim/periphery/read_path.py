"""The mixed-signal read path DAC → array → TIA → ADC of a VMM (layer 5).

Thesis §4.1.2b (Fig. 52a): 5-bit DACs drive the word lines, every bit line ends in a TIA
whose output a 5-bit ADC digitizes. :class:`ReadPath` chains the blocks of
:mod:`xbarsim.periphery` around a batch of crossbars, in physical units: requested row
voltages (V, relative to the TIAs' ``V_cm``) → DAC levels → column currents of the array
(ideal or with :class:`~xbarsim.crossbar.Lines`; the TIAs' finite-gain input resistance
``R_f/(1 + A)`` and input offset act through the array) → TIA output voltages (saturating)
→ ADC codes → the current a read-out infers from the code (knowing only the nominal
``V_cm`` and ``R_f``). Every conversion reports how often it clipped.

Ranges come from an explicit calibration on sample inputs (:meth:`ReadPath.calibrate`):
the DAC full scale covers the largest sample voltage, ``R_f`` maps the largest sample
current to the TIA's designed swing, and the ADC spans the resulting outputs. The result is
a new, frozen configuration that can be saved (``model_dump``) and reloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from xbarsim.crossbar.irdrop import effective_matrix
from xbarsim.crossbar.lines import Lines
from xbarsim.crossbar.nodal import check_conductance
from xbarsim.errors import XbarsimInputError
from xbarsim.periphery.converters import ADC, DAC
from xbarsim.periphery.tia import TIA


@dataclass
class ReadOut:
    """Result of :meth:`ReadPath.vmm`.

    Attributes
    ----------
    currents_a : ndarray, shape (batch, n, cols)
        Column currents the read-out infers from the ADC codes (A).
    analog_currents_a : ndarray, shape (batch, n, cols)
        Currents into the TIAs before any conversion (A).
    codes : ndarray of int, shape (batch, n, cols)
        ADC codes (``-1`` where no ADC is used).
    dac_clip_rate, tia_saturation_rate, adc_clip_rate : float
        Fractions of DAC inputs outside the DAC range, and of TIA outputs that saturated
        or fell outside the ADC range.
    """

    currents_a: NDArray[np.float64]
    analog_currents_a: NDArray[np.float64]
    codes: NDArray[np.int64]
    dac_clip_rate: float
    tia_saturation_rate: float
    adc_clip_rate: float

    def rates(self) -> dict[str, float]:
        """The three clip/saturation rates by name."""
        return {
            "dac_clip_rate": self.dac_clip_rate,
            "tia_saturation_rate": self.tia_saturation_rate,
            "adc_clip_rate": self.adc_clip_rate,
        }


_CALIBRATION_STEPS = 6


def _replace(model: BaseModel, **changes: object) -> BaseModel:
    """Validated copy of a frozen config with some fields changed."""
    data = {name: getattr(model, name) for name in type(model).model_fields}
    return type(model).model_validate({**data, **changes})


def feedback_resistance_for(tia: TIA, current: NDArray[np.float64], percentile: float) -> float:
    """``R_f`` (Ω) mapping the sample currents' ``percentile`` onto the output swing."""
    i_in = float(np.percentile(np.maximum(current, 0.0), percentile))
    i_out = float(np.percentile(np.maximum(-current, 0.0), percentile))
    gain = tia.open_loop_gain / (1.0 + tia.open_loop_gain)
    candidates = []
    if i_in > 0.0:
        candidates.append((tia.v_cm_v - tia.v_low_v) / (i_in * gain))
    if i_out > 0.0:
        candidates.append((tia.v_high_v - tia.v_cm_v) / (i_out * gain))
    if not candidates:
        raise XbarsimInputError("sample_v: the samples drive no current; nothing to scale")
    # a hair inside the swing, so that rounding never saturates the largest sample
    return min(min(candidates) * (1.0 - 1e-9), 1.0e9)


class ReadPath(BaseModel):
    """DAC → array → TIA → ADC.

    Attributes
    ----------
    dac : DAC or None
        Input converter; ``None`` drives the rows with the exact requested voltages.
    tia : TIA
        Sensing amplifier of every column (thesis: the measured 18.4 kΩ design).
    adc : ADC or None
        Output converter; ``None`` reads the TIA voltage exactly.
    lines : Lines or None
        Line resistances of the array (``None``: ideal lines). The TIA's input resistance
        is added to it.
    calibrated : bool
        Whether :meth:`calibrate` set the ranges.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dac: DAC | None = Field(default_factory=DAC.thesis)
    tia: TIA = Field(default_factory=TIA.measured)
    adc: ADC | None = Field(default_factory=ADC.thesis)
    lines: Lines | None = None
    calibrated: bool = False

    @classmethod
    def thesis(cls, lines: Lines | None = None) -> ReadPath:
        """The mixed-signal VMM of thesis Fig. 52a: 5-bit 280 mV DAC, the measured TIA
        (18.4 kΩ, V_cm 1.2 V), 5-bit ADC over 0.1-1.2 V (uncalibrated)."""
        return cls(lines=lines)

    @property
    def array_lines(self) -> Lines:
        """The lines the array is solved with, including the TIA input resistance."""
        base = self.lines if self.lines is not None else Lines()
        return base.model_copy(update={"r_tia_in_ohm": self.tia.input_resistance_ohm})

    def array_matrix(self, conductance_s: ArrayLike) -> NDArray[np.float64]:
        """Effective matrices (S) of the crossbars with this path's lines and TIA input,
        shape (batch, rows, cols)."""
        g = check_conductance(getattr(conductance_s, "conductance", conductance_s), 3)
        return effective_matrix(g, self.array_lines)

    def analog_currents(
        self, matrix_s: NDArray[np.float64], v_row_v: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Currents into the summing nodes (A) for row voltages (V, relative to V_cm): the
        offset raises the node, so ``I = (V − V_os)ᵀ M``."""
        return np.einsum("bnr,brc->bnc", v_row_v - self.tia.offset_v, matrix_s)

    def vmm(
        self,
        conductance_s: ArrayLike,
        v_in_v: ArrayLike,
        matrix_s: NDArray[np.float64] | None = None,
    ) -> ReadOut:
        """Read a batch of crossbars through the chain.

        Parameters
        ----------
        conductance_s : array_like, shape (batch, rows, cols), or a Crossbar
            Device conductances (S).
        v_in_v : array_like, shape (n, rows) or (batch, n, rows)
            Requested row voltages (V).
        matrix_s : ndarray, optional
            Precomputed :meth:`array_matrix` (S), to solve the array once for many reads.

        Returns
        -------
        ReadOut
        """
        m = self.array_matrix(conductance_s) if matrix_s is None else matrix_s
        v = np.asarray(v_in_v, dtype=np.float64)
        if v.ndim == 2:
            v = np.broadcast_to(v, (m.shape[0], *v.shape))
        if v.ndim != 3 or v.shape[0] != m.shape[0] or v.shape[-1] != m.shape[1]:
            raise XbarsimInputError(
                f"v_in_v: must have shape (n, {m.shape[1]}) or ({m.shape[0]}, n, {m.shape[1]}),"
                f" got {v.shape}"
            )
        if not np.all(np.isfinite(v)):
            raise XbarsimInputError("v_in_v: must be finite")
        dac_clip = 0.0
        if self.dac is not None:
            conv = self.dac.convert(v)
            v, dac_clip = conv.value, float(conv.clipped.mean())
        current = self.analog_currents(m, v)
        out = self.tia.output(current)
        codes = np.full(current.shape, -1, dtype=np.int64)
        v_read, adc_clip = out.v_out, 0.0
        if self.adc is not None:
            conv = self.adc.convert(out.v_out)
            v_read, codes, adc_clip = conv.value, conv.code, float(conv.clipped.mean())
        return ReadOut(
            currents_a=self.tia.current_estimate(v_read),
            analog_currents_a=current,
            codes=codes,
            dac_clip_rate=dac_clip,
            tia_saturation_rate=float(out.saturated.mean()),
            adc_clip_rate=adc_clip,
        )

    def calibrate(
        self, conductance_s: ArrayLike, sample_v: ArrayLike, percentile: float = 100.0
    ) -> ReadPath:
        """Set the converter and TIA ranges from sample inputs.

        * DAC full scale: the ``percentile`` of the sample row voltages (V);
        * TIA ``R_f``: maps the ``percentile`` of the sample currents into the node to the
          designed swing ``V_cm − v_low`` (and of currents out of it to ``v_high − V_cm``),
          keeping the open-loop gain (the thesis's ``R_f = V_out,d / I_max`` with
          ``I_max`` found "by simulation", §4.1.2a);
        * ADC range: the span of the resulting TIA outputs.

        Parameters
        ----------
        conductance_s : array_like, shape (batch, rows, cols), or a Crossbar
        sample_v : array_like, shape (n, rows) or (batch, n, rows)
            Sample row voltages (V, >= 0 unless the DAC is bipolar).
        percentile : float
            In (0, 100]; 100 covers every sample.

        Returns
        -------
        ReadPath
            A calibrated copy (``calibrated=True``).
        """
        if not 0.0 < percentile <= 100.0:
            raise XbarsimInputError(f"percentile: must lie in (0, 100], got {percentile!r}")
        v = np.asarray(sample_v, dtype=np.float64)
        if v.size == 0 or not np.all(np.isfinite(v)):
            raise XbarsimInputError("sample_v: must be a non-empty array of finite voltages")
        dac = self.dac
        if dac is not None:
            top = float(np.percentile(np.abs(v), percentile))
            if top <= 0.0:
                raise XbarsimInputError("sample_v: all sample voltages are 0 V; nothing to scale")
            dac = _replace(dac, full_scale_v=top)
            v = dac.convert(v).value
        path = _replace(self, dac=dac)
        m = path.array_matrix(conductance_s)
        v = np.broadcast_to(v, (m.shape[0], *v.shape)) if v.ndim == 2 else v
        # R_f sets the TIA input resistance, which loads the array: a few fixed-point steps
        for _ in range(_CALIBRATION_STEPS):
            r_f = feedback_resistance_for(path.tia, path.analog_currents(m, v), percentile)
            converged = abs(r_f - path.tia.r_f_ohm) <= 1e-12 * r_f
            path = _replace(path, tia=_replace(path.tia, r_f_ohm=r_f))
            m = path.array_matrix(conductance_s)
            if converged:
                break
        adc = self.adc
        if adc is not None:
            v_out = path.tia.output(path.analog_currents(m, v)).v_out
            lo = min(float(v_out.min()), path.tia.v_cm_v)
            hi = max(float(v_out.max()), path.tia.v_cm_v)
            adc = _replace(adc, v_min_v=lo, v_max_v=hi)
        return _replace(path, adc=adc, calibrated=True)


#: Named read paths of :func:`periphery_preset`.
PERIPHERY_PRESETS = ("none", "thesis", "thesis-8bit")


def periphery_preset(name: str) -> ReadPath | None:
    """Return a named read path (uncalibrated), or ``None`` for ``"none"``.

    ``none``: exact reads (no converters, no amplifier). ``thesis``: thesis Fig. 52a,
    5-bit 280 mV DAC, the measured TIA (18.4 kΩ), 5-bit flash ADC. ``thesis-8bit``: the
    same with 8-bit converters (an assumption, to show what the converter bits buy).
    Ranges are set by :meth:`ReadPath.calibrate` (or per layer by
    :func:`xbarsim.nn.periphery.attach_periphery`) on sample inputs.

    Raises
    ------
    XbarsimInputError
        For an unknown name.
    """
    if name not in PERIPHERY_PRESETS:
        raise XbarsimInputError(
            f"periphery: unknown preset {name!r}; allowed: {', '.join(PERIPHERY_PRESETS)}"
        )
    if name == "none":
        return None
    if name == "thesis-8bit":
        return ReadPath(
            dac=DAC.model_validate({**DAC.thesis().model_dump(), "bits": 8}),
            adc=ADC.model_validate({**ADC.thesis().model_dump(), "bits": 8}),
        )
    return ReadPath.thesis()

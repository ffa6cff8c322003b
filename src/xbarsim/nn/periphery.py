"""The mixed-signal periphery in the loop of a deployed network (layer 6).

Every analog layer of a deployed model gets the chain of thesis Fig. 52a / Fig. 55 around
its crossbar matrix, as forward hooks (the layers themselves are unchanged): a DAC on the
layer's inputs (each input drives its rows as ``x · input_voltage_v``), and one TIA plus
ADC per output neuron on the differential column current ``I = I⁺ − I⁻`` (the global neuron
of the MLP chip forms the difference before its transimpedance stage). The read-out turns
the ADC code back into a current (nominal ``V_cm`` and ``R_f``) and into weight units;
biases stay digital. Line resistance is not handled here: deploy with ``lines=...`` so the
layers already compute with the kernels' effective matrices.

:func:`attach_periphery` calibrates every layer's ranges on sample inputs first (DAC full
scale = the largest input voltage, bipolar when inputs go negative; ``R_f`` maps the
largest currents onto the TIA swing; the ADC spans the resulting outputs), then counts clip
and saturation events per layer for every forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from xbarsim.chip.offset import OffsetComp, draw_offsets
from xbarsim.errors import XbarsimInputError
from xbarsim.nn.layers import analog_layers
from xbarsim.periphery.converters import ADC, DAC
from xbarsim.periphery.read_path import ReadPath, feedback_resistance_for
from xbarsim.periphery.tia import TIA


@dataclass
class LayerPeriphery:
    """Calibrated converters of one layer and its event counters.

    Attributes
    ----------
    name : str
    dac : DAC or None
    tia : TIA
    adc : ADC or None
    offset_v : ndarray or None, shape (outputs,)
        Input-referred offset of every output's TIA (V), after compensation when that is
        on; None for none.
    active : bool
        Whether the hooks convert (False: the layer reads out ideally).
    counts : dict
        ``inputs``, ``dac_clipped``, ``outputs``, ``tia_saturated``, ``adc_clipped``.
    """

    name: str
    dac: DAC | None
    tia: TIA
    adc: ADC | None
    offset_v: np.ndarray | None = None
    active: bool = True
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("inputs", "dac_clipped", "outputs", "tia_saturated", "adc_clipped"), 0
        )
    )

    def rates(self) -> dict[str, float]:
        """``dac_clip_rate``, ``tia_saturation_rate``, ``adc_clip_rate`` so far."""
        c = self.counts
        return {
            "dac_clip_rate": c["dac_clipped"] / max(c["inputs"], 1),
            "tia_saturation_rate": c["tia_saturated"] / max(c["outputs"], 1),
            "adc_clip_rate": c["adc_clipped"] / max(c["outputs"], 1),
        }


class PeripheryHandle:
    """Hooks attached by :func:`attach_periphery`; ``remove()`` detaches them."""

    def __init__(self, layers: list[LayerPeriphery], handles: list[Any]) -> None:
        self.layers = layers
        self._handles = handles

    def rates(self) -> dict[str, dict[str, float]]:
        """Clip and saturation rates per layer name."""
        return {layer.name: layer.rates() for layer in self.layers}

    def set_active(self, active: bool) -> None:
        """Switch every layer's converters on or off (off: ideal read-out, hooks kept)."""
        for layer in self.layers:
            layer.active = active

    def reset_counts(self) -> None:
        """Zero every layer's counters."""
        for layer in self.layers:
            for key in layer.counts:
                layer.counts[key] = 0

    def remove(self) -> None:
        """Detach every hook (the model computes ideally read-out again)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []


def _bias_like(layer: nn.Module, output: Tensor) -> Tensor | float:
    bias = getattr(layer, "bias", None)
    if bias is None:
        return 0.0
    return bias.view(-1, 1, 1) if output.ndim == 4 else bias


def _currents(layer: nn.Module, output: Tensor) -> Tensor:
    """Differential column currents (A) behind a layer's output (weight units)."""
    return (output - _bias_like(layer, output)) * layer.input_voltage_v / layer.weight_scale


#: Spawn-key word of the TIA offsets' seeds.
OFFSET_STREAM = 0x0FF5


def attach_periphery(
    model: nn.Module,
    read_path: ReadPath,
    sample_x: Tensor,
    offset_sigma_v: float = 0.0,
    offset_limit_v: float = 0.1,
    compensation: bool = False,
    seed: int = 0,
    compensation_tolerance: float = 0.01,
) -> PeripheryHandle:
    """Calibrate per-layer converters on ``sample_x`` and put them in the forward pass.

    Parameters
    ----------
    model : torch.nn.Module
        A deployed model (:func:`xbarsim.nn.deploy`); modified in place (hooks).
    read_path : ReadPath
        The blocks to use (``dac``/``adc`` None to leave a conversion out); its ``lines``
        are ignored (deploy with ``lines`` instead).
    sample_x : Tensor
        Calibration inputs of the model.
    offset_sigma_v, offset_limit_v : float
        Input-referred offsets of the TIAs (V): every output's TIA draws
        ``Normal(0, offset_sigma_v)`` truncated to ``+/- offset_limit_v``
        (:func:`xbarsim.chip.draw_offsets`; layer ``k`` from ``SeedSequence((seed,
        OFFSET_STREAM, k))``). An offset ``V_os`` lifts the summing node, so the column
        current loses ``V_os * sum(G+ - G-)`` (the layer's column sums), and the TIA's output
        moves by ``V_os``. 0 for none.
    compensation : bool
        Cancel every offset with its memristor pair (:meth:`xbarsim.chip.OffsetComp.pair`),
        programmed within ``compensation_tolerance`` (a uniform relative error per
        device): the residual offset is what the programmed pair leaves
        (:meth:`~xbarsim.chip.OffsetComp.cancelled_offset_v`).
    seed : int
        Seed of the offsets and of the compensation pairs' programming errors.
    compensation_tolerance : float
        Relative programming error bound of the compensation pairs.

    Returns
    -------
    PeripheryHandle
    """
    layers = analog_layers(model)
    if not layers or not all(bool(layer.deployed) for _, layer in layers):
        raise XbarsimInputError("model: attach_periphery needs a deployed model (deploy first)")
    stats: dict[str, dict[str, float]] = {name: {"v": 0.0, "neg": 0.0, "i_in": 0.0,
                                                 "i_out": 0.0} for name, _ in layers}

    def record_in(name: str):
        def hook(module: nn.Module, args: tuple) -> None:
            v = args[0].detach() * module.input_voltage_v
            stats[name]["v"] = max(stats[name]["v"], float(v.abs().max()))
            stats[name]["neg"] = max(stats[name]["neg"], float((-v).max()))
        return hook

    def record_out(name: str):
        def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
            i = _currents(module, output.detach())
            stats[name]["i_in"] = max(stats[name]["i_in"], float(i.max()))
            stats[name]["i_out"] = max(stats[name]["i_out"], float((-i).max()))
        return hook

    configured: list[LayerPeriphery] = []
    handles: list[Any] = []

    def run(hook: Any) -> None:
        with torch.no_grad():
            model(sample_x)
        hook.remove()

    # layer by layer, with the converters before it (its own DAC included) in place
    for name, layer in layers:
        run(layer.register_forward_pre_hook(record_in(name)))
        periph = LayerPeriphery(name, _calibrated_dac(name, read_path.dac, stats[name]),
                                read_path.tia, None)
        if offset_sigma_v > 0.0:
            stream = np.random.SeedSequence((seed, OFFSET_STREAM, len(configured)))
            periph.offset_v = draw_offsets(
                layer.matrix_shape[1], offset_sigma_v, offset_limit_v, stream
            )
        handles.append(layer.register_forward_pre_hook(_dac_hook(periph)))
        run(layer.register_forward_hook(record_out(name)))
        periph.tia, periph.adc = _calibrated_sense(name, read_path, stats[name])
        if compensation and periph.offset_v is not None:
            stream = np.random.SeedSequence((seed, OFFSET_STREAM, len(configured), 1))
            periph.offset_v = _compensated(periph.offset_v, periph.tia, compensation_tolerance,
                                           np.random.default_rng(stream))
        handles.append(layer.register_forward_hook(_sense_hook(periph)))
        configured.append(periph)
    result = PeripheryHandle(configured, handles)
    result.reset_counts()
    return result


def _calibrated_dac(name: str, dac: DAC | None, s: dict[str, float]) -> DAC | None:
    """DAC whose full scale is the largest recorded input voltage (bipolar if needed)."""
    if dac is None:
        return None
    if s["v"] <= 0.0:
        raise XbarsimInputError(f"sample_x: layer {name} saw only zero inputs")
    return DAC.model_validate(
        {**dac.model_dump(), "full_scale_v": s["v"], "bipolar": s["neg"] > 0.0}
    )


def _calibrated_sense(
    name: str, read_path: ReadPath, s: dict[str, float]
) -> tuple[TIA, ADC | None]:
    """TIA mapping the recorded extreme currents onto its swing; ADC spanning its outputs."""
    tia = read_path.tia
    r_f = feedback_resistance_for(tia, np.array([s["i_in"], -s["i_out"]]), 100.0)
    tia = TIA.model_validate({**tia.model_dump(), "r_f_ohm": r_f})
    adc = read_path.adc
    if adc is None:
        return tia, None
    z = tia.transimpedance_ohm
    lo = max(min(tia.v_cm_v - z * s["i_in"], tia.v_cm_v), tia.v_low_v)
    hi = min(max(tia.v_cm_v + z * s["i_out"], tia.v_cm_v), tia.v_high_v)
    if hi - lo <= 0.0:
        raise XbarsimInputError(f"sample_x: layer {name} drew no current")
    pad = 1e-9 * (hi - lo)  # so that rounding never clips the extreme samples
    return tia, ADC.model_validate({**adc.model_dump(), "v_min_v": lo - pad, "v_max_v": hi + pad})


def _compensated(
    offset_v: np.ndarray, tia: TIA, tolerance: float, rng: np.random.Generator
) -> np.ndarray:
    """Offsets (V) left after compensation pairs programmed within ``tolerance``."""
    comp = OffsetComp()
    g1, g2 = comp.pair(offset_v, tia)
    e1, e2 = rng.uniform(-tolerance, tolerance, (2, offset_v.size))
    return offset_v - comp.cancelled_offset_v(g1 * (1 + e1), g2 * (1 + e2), tia.r_f_ohm)


def _offset_currents(module: nn.Module, current: Tensor, offset_v: Tensor,
                     tia: TIA) -> Tensor:
    """Currents a TIA with input-referred offsets reads as (A): the offset lifts the node
    (``- V_os * sum(G+ - G-)`` per column) and the output (``V_os / Z``)."""
    col_sum = (module.g_plus - module.g_minus).sum(dim=0)
    shift = offset_v * col_sum + offset_v / tia.transimpedance_ohm
    return current - (shift.reshape(-1, 1, 1) if current.ndim == 4 else shift)


# The converters and the TIA as torch operations on the layer's tensors, with the formulas
# of DAC.convert, TIA.output / current_estimate and ADC.convert (tested equal to them).


def dac_levels(dac: DAC, v: Tensor) -> tuple[Tensor, Tensor]:
    """:meth:`DAC.convert` on a tensor: output voltages (V) and the clip mask."""
    exact = v / dac.lsb_v
    clipped = (exact > dac.max_code) | (exact < dac.min_code)
    return torch.round(exact).clamp_(dac.min_code, dac.max_code).mul_(dac.lsb_v), clipped


def tia_output(tia: TIA, current: Tensor) -> tuple[Tensor, Tensor]:
    """:meth:`TIA.output` on a tensor: output voltages (V) and the saturation mask."""
    linear = tia.reference_v - tia.transimpedance_ohm * current
    saturated = (linear < tia.v_low_v) | (linear > tia.v_high_v)
    return linear.clamp_(tia.v_low_v, tia.v_high_v), saturated


def adc_levels(adc: ADC, v: Tensor) -> tuple[Tensor, Tensor]:
    """:meth:`ADC.convert` on a tensor: the voltages the codes stand for (V), clip mask."""
    clipped = (v < adc.v_min_v) | (v > adc.v_max_v)
    code = torch.round((v - adc.v_min_v) / adc.lsb_v).clamp_(0, adc.max_code)
    return code.mul_(adc.lsb_v).add_(adc.v_min_v), clipped


def _dac_hook(periph: LayerPeriphery):
    def hook(module: nn.Module, args: tuple) -> tuple | None:
        if periph.dac is None or not periph.active:
            return None
        x = args[0]
        scale = float(module.input_voltage_v)
        value, clipped = dac_levels(periph.dac, x.detach() * scale)
        periph.counts["inputs"] += clipped.numel()
        periph.counts["dac_clipped"] += int(torch.count_nonzero(clipped))
        return (value.div_(scale), *args[1:])
    return hook


def _sense_hook(periph: LayerPeriphery):
    def hook(module: nn.Module, args: tuple, output: Tensor) -> Tensor | None:
        if not periph.active:
            return None
        current = _currents(module, output.detach())
        if periph.offset_v is not None:
            offset = torch.as_tensor(periph.offset_v, dtype=current.dtype, device=current.device)
            current = _offset_currents(module, current, offset, periph.tia)
        v_read, saturated = tia_output(periph.tia, current)
        periph.counts["outputs"] += current.numel()
        periph.counts["tia_saturated"] += int(torch.count_nonzero(saturated))
        if periph.adc is not None:
            v_read, clipped = adc_levels(periph.adc, v_read)
            periph.counts["adc_clipped"] += int(torch.count_nonzero(clipped))
        read = (periph.tia.v_cm_v - v_read).mul_(
            module.weight_scale / (periph.tia.transimpedance_ohm * module.input_voltage_v))
        return read + _bias_like(module, output)
    return hook

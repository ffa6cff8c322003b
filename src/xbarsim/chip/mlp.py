"""The thesis's MLP chip: a two-layer perceptron on tiled mixed-signal crossbars (layer 5,
thesis 4.1.2c, Figs. 54-56).

Layer 1 ((inputs + 1) x hidden, bias row included) is cut into ``kernel x kernel`` tiles
(784-64-10: 13 row blocks, x 2 for the differential pair = 26 tiles of 64 x 64); each tile
column has a local sensing stage (gain R_f,LS / R_x,LS = 1; not given in the source documents, our
assumption) and the 13 tile currents of a
column are summed at the hidden neuron, which forms I+ - I- and applies ReLU with
transimpedance R_f,GS. Layer 2 is two (hidden + 1) x outputs crossbars; the output neuron
forms I+ - I-. Inputs come from one 5-bit DAC per input line (785), the bias rows are driven
at the DAC full scale (layer 1) and at the hidden neurons' volts-per-unit (layer 2).

R_f,GS is chosen so that the 99th percentile of the hidden pre-activation current over the
calibration inputs maps to ``hidden_v`` (our assumption): 0.28 V, the DAC full scale, rather than
1.1 V, because 1.1 V rows would sit near the devices' 1.19 V mean set
threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.chip.cost import ArrayGroup
from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.config import DeviceConfig
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.differential import weights_to_pair
from xbarsim.mapping.tiling import TileLayout, tile
from xbarsim.periphery import DAC
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import program
from xbarsim.programming.result import ProgramResult


@dataclass
class MlpMapping:
    """Target conductances of the MLP chip's crossbars.

    Attributes
    ----------
    layer1 : ndarray, shape (2 * tiles, kernel, kernel)
        Layer-1 tiles, every G+ tile then every G- tile (S).
    layer2 : ndarray, shape (2, hidden + 1, outputs)
        Layer-2 crossbars, G+ then G- (S).
    layout1 : TileLayout
    w1_max, w2_max : float
        Normalization of each layer (max |W| over weights and bias).
    g_span_s : float
        G+ - G- per unit normalized weight (S).
    """

    layer1: NDArray[np.float64]
    layer2: NDArray[np.float64]
    layout1: TileLayout
    w1_max: float
    w2_max: float
    g_span_s: float

    def groups(self) -> list[ArrayGroup]:
        """The chip's layers for :func:`xbarsim.chip.cost.chip_cost`."""
        layout = self.layout1
        blocks, _ = layout.grid
        hidden_rows, outputs = self.layer2.shape[1:]
        return [
            ArrayGroup(
                "layer 1",
                layout.rows,
                layout.outputs,
                self.layer1.shape[0],
                layout.size,
                layout.size,
                blocks,
            ),
            ArrayGroup("layer 2", hidden_rows, outputs, 2, hidden_rows, outputs, 1),
        ]


def map_mlp(
    w1: ArrayLike,
    b1: ArrayLike,
    w2: ArrayLike,
    b2: ArrayLike,
    kernel: int = 64,
    g_low_s: float = 10e-6,
    g_high_s: float = 100e-6,
) -> MlpMapping:
    """Map a float MLP (crossbar layout: ``w1`` inputs x hidden, ``w2`` hidden x outputs)
    onto differential conductance pairs (``G+/- = g_low + (1 +/- w)(g_high - g_low)/2``)."""
    w1, b1 = np.asarray(w1, float), np.asarray(b1, float)
    w2, b2 = np.asarray(w2, float), np.asarray(b2, float)
    if w1.ndim != 2 or w2.ndim != 2 or w1.shape[1] != w2.shape[0]:
        raise XbarsimInputError(f"weights: shapes {w1.shape} and {w2.shape} do not chain")
    if b1.shape != (w1.shape[1],) or b2.shape != (w2.shape[1],):
        raise XbarsimInputError("bias: one value per output of each layer")
    w1_max = float(max(np.abs(w1).max(), np.abs(b1).max()))
    w2_max = float(max(np.abs(w2).max(), np.abs(b2).max()))
    if not (w1_max > 0 and w2_max > 0):
        raise XbarsimInputError("weights: a layer is all zero")
    kernels, layout = tile(w1 / w1_max, kernel, bias=b1 / w1_max)
    p1, m1 = weights_to_pair(kernels, "differential", g_low_s, g_high_s)
    full2 = np.vstack([w2, b2[None, :]]) / w2_max
    p2, m2 = weights_to_pair(full2, "differential", g_low_s, g_high_s)
    return MlpMapping(
        layer1=np.concatenate([p1, m1]),
        layer2=np.stack([p2, m2]),
        layout1=layout,
        w1_max=w1_max,
        w2_max=w2_max,
        g_span_s=g_high_s - g_low_s,
    )


@dataclass
class MlpProgramming:
    """Programmed conductances (S) and the two programming runs."""

    layer1: NDArray[np.float64]
    layer2: NDArray[np.float64]
    results: list[ProgramResult]


def program_mlp(
    mapping: MlpMapping,
    device: DeviceConfig,
    algorithm: WriteVerify,
    engine: str = "auto",
    seed: int = 0,
    progress: bool = False,
) -> MlpProgramming:
    """Program every crossbar of the chip with write-verify; layer-1 tiles are crossbars
    ``0 .. 2T-1`` of ``seed``'s family, the two layer-2 crossbars come from ``seed + 1``."""
    shape1 = mapping.layer1.shape[1:]
    x1 = Crossbar.sample(device, shape1, batch=mapping.layer1.shape[0], seed=seed)
    r1 = program(x1, mapping.layer1, algorithm, engine=engine, progress=progress)
    x2 = Crossbar.sample(device, mapping.layer2.shape[1:], batch=2, seed=seed + 1)
    r2 = program(x2, mapping.layer2, algorithm, engine=engine, progress=progress)
    return MlpProgramming(r1.conductance, r2.conductance, [r1, r2])


@dataclass
class MlpActivity:
    """What an inference pass on the chip produced.

    Attributes
    ----------
    logits_a : ndarray, shape (n, outputs)
        Output neuron currents I+ - I- (A).
    hidden_v : ndarray, shape (n, hidden)
        Hidden neuron outputs (V).
    array_current_a : dict of str to ndarray, shape (n,)
        Supply current each layer's crossbars drew per inference (sum of |column current|
        over every crossbar, A).
    r_f_gs_ohm : float
        Hidden neurons' transimpedance (Ohm).
    r_f_out_ohm : float
        Output neurons' transimpedance mapping the p99 |logit current| to 1.1 V (Ohm).
    dac_clipped : float
        Fraction of input conversions that clipped.
    """

    logits_a: NDArray[np.float64]
    hidden_v: NDArray[np.float64]
    array_current_a: dict[str, NDArray[np.float64]]
    r_f_gs_ohm: float
    r_f_out_ohm: float
    dac_clipped: float


def _layer_currents(v: NDArray, g: NDArray) -> tuple[NDArray, NDArray]:
    """Column currents (A) of stacked crossbars ``g`` (k, rows, cols) for row voltages
    ``v`` (n, k, rows): net per column summed over crossbars, and total |current| drawn."""
    per = np.einsum("nkr,krc->nkc", v, g)
    return per.sum(axis=1), np.abs(per).sum(axis=(1, 2))


def run_mlp(
    mapping: MlpMapping,
    layer1: NDArray[np.float64],
    layer2: NDArray[np.float64],
    x: ArrayLike,
    calibration: ArrayLike | None = None,
    dac: DAC | None = None,
    hidden_v: float = 0.28,
) -> MlpActivity:
    """Inference on programmed conductances: DACs, tiled layer 1 with local sensing and
    ReLU neurons, layer 2 and output neurons, all in physical units.

    Parameters
    ----------
    mapping : MlpMapping
    layer1, layer2 : ndarray
        Programmed conductances, shaped like ``mapping.layer1`` / ``mapping.layer2`` (S).
    x : array_like, shape (n, inputs)
        Pixel values in [0, 1].
    calibration : array_like, shape (m, inputs), optional
        Inputs that fix R_f,GS (default ``x``).
    dac : DAC, optional
        Input converter (default the thesis's 5-bit, 280 mV DAC).
    hidden_v : float
        Hidden-neuron output (V) at the 99th-percentile pre-activation (our
        assumption).
    """
    dac = DAC.thesis() if dac is None else dac
    xs = np.asarray(x, dtype=np.float64)
    layout = mapping.layout1
    if xs.ndim != 2 or xs.shape[1] != layout.inputs:
        raise XbarsimInputError(f"x: shape must be (n, {layout.inputs}), got {xs.shape}")
    blocks, _ = layout.grid
    n_tiles = blocks
    size = layout.size

    def layer1_currents(pixels: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        conv = dac.convert(pixels * dac.full_scale_v)
        v = np.zeros((pixels.shape[0], blocks * size))
        v[:, : layout.inputs] = conv.value
        v[:, layout.inputs] = dac.full_scale_v  # bias row
        v = v.reshape(pixels.shape[0], blocks, size)
        plus, drawn_p = _layer_currents(v, layer1[:n_tiles])
        minus, drawn_m = _layer_currents(v, layer1[n_tiles:])
        return (plus - minus)[:, : layout.outputs], drawn_p + drawn_m, conv.clipped

    pre, drawn1, clipped = layer1_currents(xs)
    cal = pre if calibration is None else layer1_currents(np.asarray(calibration, float))[0]
    i_ref = float(np.percentile(np.maximum(cal, 0.0), 99))
    if not i_ref > 0:
        raise XbarsimInputError("calibration: no positive hidden pre-activation current")
    r_gs = hidden_v / i_ref
    hidden = r_gs * np.maximum(pre, 0.0)
    # layer 2: hidden volts per unit of the float model's hidden activation
    volts_per_unit = r_gs * dac.full_scale_v * mapping.g_span_s / mapping.w1_max
    v2 = np.hstack([hidden, np.full((hidden.shape[0], 1), volts_per_unit)])[:, None, :]
    plus2, drawn_p2 = _layer_currents(v2, layer2[:1])
    minus2, drawn_m2 = _layer_currents(v2, layer2[1:])
    logits = plus2 - minus2
    r_out = 1.1 / max(float(np.percentile(np.abs(logits), 99)), 1e-30)
    return MlpActivity(
        logits_a=logits,
        hidden_v=hidden,
        array_current_a={"layer 1": drawn1, "layer 2": drawn_p2 + drawn_m2},
        r_f_gs_ohm=r_gs,
        r_f_out_ohm=r_out,
        dac_clipped=float(clipped.mean()),
    )


def unit_logits(mapping: MlpMapping, activity: MlpActivity, dac: DAC | None = None) -> NDArray:
    """Output currents converted back to the float model's logit units (dimensionless)."""
    dac = DAC.thesis() if dac is None else dac
    volts_per_unit = activity.r_f_gs_ohm * dac.full_scale_v * mapping.g_span_s / mapping.w1_max
    return activity.logits_a * mapping.w2_max / (volts_per_unit * mapping.g_span_s)

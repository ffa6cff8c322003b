"""Map, tile and program every analog layer of a model on a chip, in one batched call
(layer 6).

Every analog layer's weights (crossbar layout, inputs x outputs) are normalized by the
layer's ``max|W|``, cut into N x N kernels (zero padded), mapped to ``G+`` and ``G-``
target kernels, and all kernels of the model (the ``G+`` and ``G-`` kernels of every layer)
are programmed in one batched :func:`xbarsim.programming.program` call on one
:class:`~xbarsim.crossbar.Crossbar` batch: every ``G+`` kernel first, then the ``G-``
kernels in the same order, so kernel ``k`` and ``k + batch/2`` form a differential pair
(the layout :func:`xbarsim.programming.improved.program_improved` expects; with an
:class:`~xbarsim.programming.improved.ImprovedTuning` chip algorithm that function
programs the batch instead). The cells that carry no weight (the zero padding) are left
alone unless the chip's ``tune_padding`` is set: no pulse on their behalf, so their ramps
cannot disturb the weights in their rows and columns. The programmed conductances are
reassembled and stored in the layers' buffers; the returned model computes with them.

With ``lines`` (line, driver and sink resistances, :class:`~xbarsim.crossbar.Lines`), every
programmed kernel is solved once for its exact effective matrix
(:func:`~xbarsim.crossbar.irdrop.effective_matrix`) and the layers' ``g_plus`` / ``g_minus``
buffers hold those matrices (S) instead of the bare conductances: inference with IR drop is
then the same single matrix product per layer as ideal inference. With
``verify_through_lines`` the kernels are also programmed through those lines: the verify
reads see the line drop, so the devices are tuned to the conductances whose reads equal
the targets (:func:`~xbarsim.crossbar.irdrop.program_through_lines`), which cancels the
IR drop of linear devices wherever the devices can reach those conductances.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.irdrop import effective_matrix, program_through_lines
from xbarsim.crossbar.lines import Lines
from xbarsim.mapping.config import ChipConfig
from xbarsim.mapping.differential import weights_to_pair
from xbarsim.mapping.tiling import TileLayout, tile
from xbarsim.nn.conditions import at
from xbarsim.nn.convert import convert
from xbarsim.nn.layers import analog_layers
from xbarsim.nn.record import Deployment, kernel_padding, layer_kernels
from xbarsim.programming.engine import program
from xbarsim.programming.improved import ImprovedTuning, program_improved
from xbarsim.programming.result import ProgramResult
from xbarsim.programming.touch_up import touch_up
from xbarsim.validation import check_seed


def program_kernels(
    chip: ChipConfig,
    targets: NDArray[np.float64],
    seed: int,
    progress: bool = False,
    padding: NDArray[np.bool_] | None = None,
) -> tuple[Crossbar, ProgramResult]:
    """Sample ``len(targets)`` crossbars of ``chip`` (seed ``seed``) and program them toward
    ``targets`` (S) with the chip's algorithm (write-verify, or improved tuning on the
    ``G+``-then-``G-`` batch layout); the crossbars are returned holding what was written.
    The ``padding`` cells (:func:`~xbarsim.nn.record.kernel_padding`) are left alone unless
    ``chip.tune_padding``."""
    xbars = Crossbar.sample(chip.device, (chip.kernel, chip.kernel), targets.shape[0], seed)
    skip = None if chip.tune_padding else padding
    result = tune(chip, xbars, targets, skip, progress)
    # one array for the programmed state (write-verify already shares it; improved tuning
    # hands back a copy, and the array the crossbars were drawn with is freed): a
    # deployment replaces it, never writes into it
    xbars.conductance = result.conductance
    return xbars, result


def tune(
    chip: ChipConfig,
    xbars: Crossbar,
    targets: NDArray[np.float64],
    skip: NDArray[np.bool_] | None = None,
    progress: bool = False,
) -> ProgramResult:
    """Program ``xbars`` (in place) toward ``targets`` (S) with the chip's algorithm:
    write-verify and its touch-up passes, or improved tuning (``G+`` crossbars first, then
    their ``G-`` partners); the ``skip`` devices are left alone. The result keeps the write
    power per crossbar, not the per-device squared-amplitude sums (a network's deployment
    has millions of devices), no per-pass history (the final errors follow from the
    result's conductances and targets) and no copy of the conductances: the result's are the
    crossbars' own array."""
    assert chip.algorithm is not None  # callers load the targets exactly without one
    if isinstance(chip.algorithm, ImprovedTuning):
        return program_improved(xbars, targets, chip.algorithm, engine=chip.engine,
                                progress=progress, skip=skip)
    lean = {"keep_pulse_v2": False, "keep_history": False, "copy_conductance": False}
    result = program(xbars, targets, chip.algorithm, engine=chip.engine, progress=progress,
                     skip=skip, **lean)
    if chip.touch_up is None:
        return result
    return touch_up(xbars, targets, result, chip.touch_up, chip.algorithm, chip.engine, skip,
                    **lean)


def program_model(
    model: nn.Module,
    chip: ChipConfig,
    seed: int = 0,
    progress: bool = False,
    lines: Lines | None = None,
    verify_through_lines: bool = False,
) -> Deployment:
    """Map, tile and program every analog layer of ``model`` on ``chip``.

    Parameters
    ----------
    model : torch.nn.Module
        A float model (converted here) or one already converted by
        :func:`xbarsim.nn.convert`; it is not modified.
    chip : ChipConfig
    seed : int
        Seed of the sampled crossbars (>= 0); kernel ``k`` is child ``k`` of
        ``numpy.random.SeedSequence(seed)``.
    progress : bool
        Show the programming progress bar.
    lines : Lines, optional
        Line resistances of every kernel; the layers then compute with the kernels'
        exact effective matrices (IR drop).
    verify_through_lines : bool
        Program with verify reads through ``lines`` (IR drop in programming too), capped
        at the device's ``g_max_s``.

    Returns
    -------
    Deployment
    """
    seed = check_seed(seed)
    analog = convert(model, chip, zeta=0.0)
    analog.eval()
    layers = analog_layers(analog)

    def map_layer(layer: nn.Module) -> tuple[NDArray, NDArray, TileLayout, float]:
        w = layer.ideal_matrix().detach().cpu().double().numpy()
        w_max = float(layer.weight_max())
        kernels, layout = tile(w / w_max, chip.kernel)
        g_plus, g_minus = weights_to_pair(kernels, chip.mapping, chip.g_low_s, chip.g_high_s)
        return g_plus, g_minus, layout, w_max / (chip.g_high_s - chip.g_low_s)

    # the layers are mapped on several threads (numpy and torch release the GIL in their
    # array work); each layer's result is a function of the layer alone
    workers = max(1, min(len(layers), len(os.sched_getaffinity(0))))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        mapped = list(pool.map(map_layer, [layer for _, layer in layers]))
    plus: list[NDArray[np.float64]] = [m[0] for m in mapped]
    minus: list[NDArray[np.float64]] = [m[1] for m in mapped]
    layouts: list[TileLayout] = [m[2] for m in mapped]
    scales: list[float] = [m[3] for m in mapped]
    del mapped
    records = layer_kernels([name for name, _ in layers], layouts)
    shape = (0, chip.kernel, chip.kernel)
    target = np.concatenate(plus + minus) if layers else np.zeros(shape)
    del plus, minus  # one copy of the targets from here on (peak memory)
    result: ProgramResult | None = None
    xbars: Crossbar | None = None
    tuned = target
    if verify_through_lines and lines is not None and not lines.is_ideal and target.shape[0]:
        tuned = program_through_lines(target, lines, g_max_s=chip.device.g_max_s)
    if chip.algorithm is None or target.shape[0] == 0:
        conductance = tuned.copy()
    else:
        padding = kernel_padding(records, target.shape[0], chip.kernel)
        xbars, result = program_kernels(chip, tuned, seed, progress, padding)
        conductance = result.conductance
    effective = None
    if lines is not None and not lines.is_ideal and conductance.shape[0]:
        effective = effective_matrix(conductance, lines)
    for (_, layer), scale in zip(layers, scales, strict=True):
        with torch.no_grad():
            layer.weight_scale.fill_(scale)
            layer.input_voltage_v.fill_(chip.input_voltage_v)
            layer.deployed.fill_(True)
    deployment = Deployment(
        analog, target, conductance, records, result, chip, seed, xbars, effective,
        lines=None if lines is None or lines.is_ideal else lines, evaluator=at,
    )
    deployment.compute_with(conductance if effective is None else effective)
    return deployment

"""Deploy a network on a simulated chip: map, tile, program every kernel at once (layer 6).

Every analog layer's weights (crossbar layout, inputs x outputs) are normalized by the
layer's ``max|W|``, cut into N x N kernels (zero padded), mapped to ``G+`` and ``G-``
target kernels, and all kernels of the model (the ``G+`` and ``G-`` kernels of every layer)
are programmed in one batched :func:`xbarsim.programming.program` call on one
:class:`~xbarsim.crossbar.Crossbar` batch: every ``G+`` kernel first, then the ``G-``
kernels in the same order, so kernel ``k`` and ``k + batch/2`` form a differential pair
(the layout :func:`xbarsim.programming.improved.program_improved` expects; with an
:class:`~xbarsim.programming.improved.ImprovedTuning` chip algorithm that function
programs the batch instead). The programmed conductances are reassembled and
stored in the layers' buffers; the returned model computes with them.

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

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from xbarsim.chip.cost import ArrayGroup, CostParameters, chip_cost, estimate_programming_cost
from xbarsim.crossbar.array import Crossbar, check_seed
from xbarsim.crossbar.irdrop import effective_matrix, program_through_lines
from xbarsim.crossbar.lines import Lines
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.config import ChipConfig
from xbarsim.mapping.differential import weights_to_pair
from xbarsim.mapping.tiling import TileLayout, tile, untile
from xbarsim.nn.convert import analog_layers, convert
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import program
from xbarsim.programming.improved import ImprovedTuning, program_improved
from xbarsim.programming.result import ProgramResult

if TYPE_CHECKING:
    from xbarsim.nn.defects import DefectMitigation


@dataclass
class LayerKernels:
    """Where one layer's kernels sit in the programmed batch.

    Attributes
    ----------
    name : str
        Module name of the layer.
    layout : TileLayout
    plus, minus : slice
        Batch indices of the layer's ``G+`` and ``G-`` kernels.
    """

    name: str
    layout: TileLayout
    plus: slice
    minus: slice


@dataclass
class Deployment:
    """A deployed model with the record of its programming.

    Attributes
    ----------
    model : torch.nn.Module
        The model computing on the programmed conductances.
    targets : ndarray, shape (kernels, N, N)
        Target conductances of every kernel (S).
    conductance : ndarray, shape (kernels, N, N)
        Programmed conductances (S).
    layers : list of LayerKernels
    result : ProgramResult or None
        The programming run (None when the chip loads targets exactly).
    chip : ChipConfig or None
        The chip the model was deployed on.
    seed : int
        Seed of the sampled crossbars.
    xbars : Crossbar or None
        The programmed crossbars with their per-device state (built on first use by
        :meth:`crossbars` when the chip loads targets exactly).
    effective : ndarray, shape (kernels, N, N), or None
        Effective matrices with line resistance (S) the layers compute with; None for
        ideal lines (the layers then compute with ``conductance``).

    The batch holds every ``G+`` kernel, then every ``G-`` kernel in the same order.
    """

    model: nn.Module
    targets: NDArray[np.float64]
    conductance: NDArray[np.float64]
    layers: list[LayerKernels]
    result: ProgramResult | None
    chip: ChipConfig | None = None
    seed: int = 0
    xbars: Crossbar | None = None
    effective: NDArray[np.float64] | None = None

    @property
    def n_kernels(self) -> int:
        """Number of programmed crossbars (N x N kernels)."""
        return self.targets.shape[0]

    def crossbars(self) -> Crossbar:
        """The programmed crossbars (sampled with the deployment's seed on first use when the
        chip loaded the targets exactly: same per-device state, conductances = targets)."""
        if self.xbars is None:
            if self.chip is None:
                raise XbarsimInputError("deployment: no chip recorded; deploy with program_model")
            n, size = self.conductance.shape[0], self.conductance.shape[1]
            xbars = Crossbar.sample(self.chip.device, (size, size), n, self.seed)
            xbars.conductance[...] = self.conductance
            self.xbars = xbars
        return self.xbars

    def compute_with(self, matrices: NDArray[np.float64]) -> None:
        """Make the model's layers compute with ``matrices`` instead of what they hold.

        Parameters
        ----------
        matrices : ndarray, shape (kernels, N, N)
            One matrix per kernel in the batch order of :attr:`conductance` (S), e.g.
            ``effective_matrix(self.conductance, lines)`` for the IR drop of ``lines``.
        """
        if matrices.shape != self.conductance.shape:
            raise XbarsimInputError(
                f"matrices: must have shape {self.conductance.shape}, got {matrices.shape}"
            )
        for (_, layer), record in zip(analog_layers(self.model), self.layers, strict=True):
            g_plus, _ = untile(matrices[record.plus], record.layout)
            g_minus, _ = untile(matrices[record.minus], record.layout)
            factory = {"dtype": layer.weight.dtype, "device": layer.weight.device}
            with torch.no_grad():
                layer.g_plus.copy_(torch.as_tensor(g_plus, **factory))
                layer.g_minus.copy_(torch.as_tensor(g_minus, **factory))

    def at(self, **conditions: object) -> AbstractContextManager[nn.Module]:
        """Context in which :attr:`model` computes at operating conditions.

        Keyword arguments as :meth:`xbarsim.crossbar.Crossbar.at` (``temp_c``, ``age_h``,
        ``bake_c``, ``strict``, ``nonlinear``, ``noise``, ``seed``); see
        :func:`xbarsim.nn.conditions.at`. Nothing is reprogrammed.
        """
        from xbarsim.nn.conditions import at

        return at(self, **conditions)  # type: ignore[arg-type]

    def cost(self, chip: ChipConfig, params: CostParameters | None = None) -> dict[str, object]:
        """Energy, latency, area and programming cost of this deployment on a tiled chip.

        The breakdown of :func:`xbarsim.chip.cost.chip_cost` (the MLP chip's component
        models: DACs on the first layer's inputs, local sensing per tile column when a
        layer spans several row blocks, one TIA per neuron, ADCs on the last layer), with
        the printed per-array power (no simulated activity here) and one evaluation of each
        layer's matrix per inference (a convolution counts one kernel position). Programming
        energy and time are the ramp-grid estimate from the run's pulse counts
        (:func:`xbarsim.chip.cost.estimate_programming_cost`).
        """
        groups = [
            ArrayGroup(
                rec.name,
                rec.layout.rows,
                rec.layout.outputs,
                2 * rec.layout.n_kernels,
                rec.layout.size,
                rec.layout.size,
                rec.layout.grid[0],
            )
            for rec in self.layers
        ]
        out = chip_cost(groups, params)
        algorithm = chip.algorithm
        if self.result is not None and algorithm is not None:
            base = algorithm if isinstance(algorithm, WriteVerify) else algorithm.base
            out.update(estimate_programming_cost(self.result, base, params))
        return out


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
    plus: list[NDArray[np.float64]] = []
    minus: list[NDArray[np.float64]] = []
    layouts: list[TileLayout] = []
    scales: list[float] = []
    for _, layer in layers:
        w = layer.ideal_matrix().detach().cpu().double().numpy()
        w_max = float(layer.weight_max())
        kernels, layout = tile(w / w_max, chip.kernel)
        g_plus, g_minus = weights_to_pair(kernels, chip.mapping, chip.g_low_s, chip.g_high_s)
        plus.append(g_plus)
        minus.append(g_minus)
        layouts.append(layout)
        scales.append(w_max / (chip.g_high_s - chip.g_low_s))
    n_pairs = sum(layout.n_kernels for layout in layouts)
    records: list[LayerKernels] = []
    start = 0
    for (name, _), layout in zip(layers, layouts, strict=True):
        stop = start + layout.n_kernels
        records.append(
            LayerKernels(name, layout, slice(start, stop), slice(n_pairs + start, n_pairs + stop))
        )
        start = stop
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
        xbars = Crossbar.sample(chip.device, (chip.kernel, chip.kernel), target.shape[0], seed)
        if isinstance(chip.algorithm, ImprovedTuning):
            result = program_improved(
                xbars, tuned, chip.algorithm, engine=chip.engine, progress=progress
            )
        else:
            result = program(xbars, tuned, chip.algorithm, engine=chip.engine, progress=progress)
        conductance = result.conductance
        xbars.conductance[...] = conductance  # the record's crossbars hold what was written
    effective = None
    if lines is not None and not lines.is_ideal and conductance.shape[0]:
        effective = effective_matrix(conductance, lines)
    for (_, layer), scale in zip(layers, scales, strict=True):
        with torch.no_grad():
            layer.weight_scale.fill_(scale)
            layer.input_voltage_v.fill_(chip.input_voltage_v)
            layer.deployed.fill_(True)
    deployment = Deployment(analog, target, conductance, records, result, chip, seed, xbars,
                            effective)
    deployment.compute_with(conductance if effective is None else effective)
    return deployment


def deploy(
    model: nn.Module,
    chip: ChipConfig,
    seed: int = 0,
    progress: bool = False,
    lines: Lines | None = None,
    verify_through_lines: bool = False,
    mitigation: DefectMitigation | None = None,
    calibration_x: NDArray[np.float32] | None = None,
) -> nn.Module:
    """Copy of ``model`` running on conductances programmed on a simulated ``chip``.

    All kernels of the model are programmed in one batched ``program()`` call; see
    :func:`program_model` (which also returns the programming record, and whose
    :meth:`Deployment.cost` gives the chip's energy, latency, area and programming cost).

    Parameters
    ----------
    model : torch.nn.Module
    chip : ChipConfig
    seed : int
        Seed of the sampled crossbars (>= 0).
    progress : bool
    lines : Lines, optional
        Line resistances (IR drop), see :func:`program_model`.
    verify_through_lines : bool
        Program with verify reads through the lines, see :func:`program_model`.
    mitigation : DefectMitigation, optional
        Stuck-device mitigations (pair retuning, compensation column, BN recalibration;
        :func:`xbarsim.nn.defects.program_model_mitigated`, which also returns the per-layer
        record); ``calibration_x`` holds the calibration images. Not combined with ``lines``.

    Returns
    -------
    torch.nn.Module
        In eval mode; ``xbarsim.nn.at(model, temp_c=..., age_h=...)`` evaluates it at
        operating conditions (in this process: the crossbar state is not saved). Save it
        with ``torch.save(model.state_dict(), path)``; load into ``convert(architecture,
        chip)`` with ``torch.load(path, weights_only=True)``.
    """
    if mitigation is not None:
        from xbarsim.nn.defects import program_model_mitigated

        if lines is not None:
            raise XbarsimInputError("lines: not supported together with a defect mitigation")
        deployment = program_model_mitigated(
            model, chip, seed, mitigation, calibration_x, progress=progress
        ).deployment
    else:
        deployment = program_model(
            model, chip, seed=seed, progress=progress, lines=lines,
            verify_through_lines=verify_through_lines,
        )
    # the record (crossbars, per-device state) that xbarsim.nn.at(model, ...) evaluates
    deployment.model.xbarsim_deployment = deployment
    return deployment.model

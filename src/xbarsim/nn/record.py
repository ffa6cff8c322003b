"""The record of a programmed chip: the one core every effect plugs into (layer 6).

A :class:`Deployment` holds what programming left on the chip (targets, conductances,
the crossbars with their per-device state, where every layer's kernels sit) and what the
model computes with. The effects plug into it without it knowing them: the line network
(:attr:`Deployment.lines`, effective matrices), operating conditions (the ``evaluator``
that :meth:`Deployment.at` calls, :func:`xbarsim.nn.at`), the read path (hooks, kept in
:attr:`Deployment.periphery`), defect mitigations (they rewrite the conductances through
:meth:`Deployment.load_conductances`). This module imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from xbarsim.chip.activity_cost import run_programming_cost
from xbarsim.chip.cost import ArrayGroup, CostParameters, chip_cost
from xbarsim.chip.spec import ChipSpec
from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.irdrop import effective_matrix
from xbarsim.crossbar.lines import Lines
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.config import ChipConfig
from xbarsim.mapping.tiling import TileLayout, untile
from xbarsim.nn.activity import deployment_cost
from xbarsim.nn.layers import analog_layers
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.improved import ImprovedTuning
from xbarsim.programming.result import ProgramResult


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


def layer_kernels(names: list[str], layouts: list[TileLayout]) -> list[LayerKernels]:
    """Where each layer's kernels sit when all ``G+`` kernels come first, then all ``G-``
    kernels, layer after layer in the same order."""
    n_pairs = sum(layout.n_kernels for layout in layouts)
    records = []
    start = 0
    for name, layout in zip(names, layouts, strict=True):
        stop = start + layout.n_kernels
        records.append(
            LayerKernels(name, layout, slice(start, stop), slice(n_pairs + start, n_pairs + stop))
        )
        start = stop
    return records


def kernel_padding(layers: list[LayerKernels], n_kernels: int, size: int) -> NDArray[np.bool_]:
    """Cells of the programmed batch that carry no weight (every layer's zero padding).

    Parameters
    ----------
    layers : list of LayerKernels
    n_kernels : int
        Kernels in the batch (``G+`` and ``G-``).
    size : int
        Kernel size N.

    Returns
    -------
    ndarray of bool, shape (n_kernels, size, size)
    """
    mask = np.zeros((n_kernels, size, size), dtype=bool)
    for record in layers:
        padding = record.layout.padding()
        mask[record.plus] = padding
        mask[record.minus] = padding
    return mask


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
    lines : Lines or None
        Line resistances of every kernel (None: ideal lines).
    spec : ChipSpec or None
        The chip spec the model was deployed from (its effects and default conditions).
    evaluator : callable or None
        ``evaluator(deployment, **conditions)``: the context :meth:`at` returns
        (:func:`xbarsim.nn.at`, set by :func:`xbarsim.nn.program_model`).
    periphery : object or None
        The read path's hooks (:class:`xbarsim.nn.periphery.PeripheryHandle`) when one is
        attached.
    cache : dict
        Per-condition work (conductances and effective matrices at a condition), reused
        while the same condition is entered again.

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
    lines: Lines | None = None
    spec: ChipSpec | None = None
    evaluator: Callable[..., AbstractContextManager[nn.Module]] | None = None
    periphery: Any = None
    cache: dict[tuple, Any] = field(default_factory=dict)

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

    def load_conductances(self, conductance: NDArray[np.float64]) -> None:
        """Store ``conductance`` (S) as the programmed state; the layers compute with it
        (through the line network when :attr:`lines` is set)."""
        self.conductance = conductance
        # replaced, not written into: the programming result may share the old array
        self.crossbars().conductance = conductance
        self.cache.clear()
        if self.lines is not None and conductance.shape[0]:
            self.effective = effective_matrix(conductance, self.lines)
        self.compute_with(conductance if self.effective is None else self.effective)

    def at(self, **conditions: object) -> AbstractContextManager[nn.Module]:
        """Context in which :attr:`model` computes at operating conditions.

        Keyword arguments as :func:`xbarsim.nn.at` (``temp_c``, ``age_h``, ``bake_c``,
        ``strict``, ``nonlinear``, ``noise``, ``seed``); a deployment made from a
        :class:`~xbarsim.chip.ChipSpec` takes the spec's effects and default conditions.
        Nothing is reprogrammed.
        """
        if self.evaluator is None:
            raise XbarsimInputError("deployment: no evaluator; deploy with program_model")
        return self.evaluator(self, **conditions)

    def cost(
        self,
        chip: ChipConfig,
        params: CostParameters | None = None,
        activity: NDArray[np.float32] | torch.Tensor | None = None,
    ) -> dict[str, object]:
        """Energy, latency, area and programming cost of this deployment on a tiled chip.

        With ``activity`` (model inputs), the cost of the forward passes actually run on
        them: :meth:`activity_cost` with its defaults. Without, the breakdown of
        :func:`xbarsim.chip.cost.chip_cost` (the MLP chip's component models: DACs on the
        first layer's inputs, local sensing per tile column when a layer spans several row
        blocks, one TIA per neuron, ADCs on the last layer), with the printed per-array
        power and one evaluation of each layer's matrix per inference (a convolution counts
        one kernel position). Programming energy and time come from the run's per-device
        pulse counts and squared amplitudes, in total, per component and per layer
        (:func:`xbarsim.chip.activity_cost.run_programming_cost`).
        """
        if activity is not None:
            return self.activity_cost(activity, chip, params)
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
        if self.result is not None and chip.algorithm is not None:
            out.update(run_programming_cost(self.result, _write_verify(chip), params,
                                            groups=self.kernel_groups()))
        return out

    def kernel_groups(self) -> dict[str, NDArray[np.intp]]:
        """Batch indices of every layer's kernels (its ``G+`` then its ``G-`` kernels)."""
        n = self.n_kernels
        return {
            rec.name: np.r_[np.arange(n)[rec.plus], np.arange(n)[rec.minus]]
            for rec in self.layers
        }

    def activity_cost(
        self,
        x: NDArray[np.float32] | torch.Tensor,
        chip: ChipConfig | None = None,
        params: CostParameters | None = None,
        converters: str = "layer",
        neuron_r_f_ohm: dict[str, float] | None = None,
    ) -> dict[str, object]:
        """Energy, latency, area and programming cost from the activity of running ``x``.

        Every convolution window is counted and the arrays' energy comes from the column
        currents of the conductances the layers compute with
        (:func:`xbarsim.nn.activity.deployment_cost`; accounting in
        :mod:`xbarsim.chip.activity_cost`). ``chip`` (default: the deployment's) gives the
        tuning algorithm for the programming energy and time; ``converters`` places DACs
        and ADCs on every layer (``"layer"``) or on the network's ends (``"network"``).
        """
        chip = self.chip if chip is None else chip
        base = None if chip is None or chip.algorithm is None else _write_verify(chip)
        layouts = {rec.name: rec.layout for rec in self.layers}
        return deployment_cost(
            self.model, layouts, x, self.result, base, params, converters, neuron_r_f_ohm,
            groups=self.kernel_groups(),
        )


def _write_verify(chip: ChipConfig) -> WriteVerify:
    """The write-verify algorithm of ``chip`` (an improved tuning's base)."""
    algorithm = chip.algorithm
    return algorithm.base if isinstance(algorithm, ImprovedTuning) else algorithm

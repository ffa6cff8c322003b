"""Deploying with stuck-device mitigations: pair retuning, compensation column, BN recalibration.

:func:`program_model_mitigated` programs a model as :func:`xbarsim.nn.program_model`, reads
which devices are stuck from the run (the crossbars' fault map, through
:func:`xbarsim.programming.faults.fault_report` for write-verify; for a chip that loads
targets exactly, a stuck device counts as found when it sits more than ``tolerance`` from
its target), and then, per :class:`DefectMitigation`:

1. ``pair``: retunes the partner of every single stuck device
   (:func:`xbarsim.mapping.defects.retune_pairs`) and reprograms the pairs concerned with
   the chip's algorithm, the devices found or declared stuck and the padding left alone;
2. ``column``: adds one compensation pair per output per row kernel, driven at x = 1 and
   programmed (through the chip's tuning path) to cancel each partial sum's mean shift on
   the calibration images; then re-estimates the batch-norm running means on the same
   images with everything else frozen (thesis 2.4.2, Fig. 25; the algorithm is our reading of it).

The compensation current of a layer is held in the buffer ``g_compensation`` (S, per
output) and added by a forward hook; both are attached by :func:`attach_compensation`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.lines import Lines
from xbarsim.devices.config import DeviceConfig
from xbarsim.devices.stuck import FaultCode, StuckFaults
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.config import ChipConfig
from xbarsim.mapping.defects import compensation_pairs, retune_pairs
from xbarsim.mapping.differential import PairMapping, weights_to_pair
from xbarsim.mapping.tiling import untile
from xbarsim.nn.layers import AnalogConv2d, AnalogLayerMixin, analog_layers
from xbarsim.nn.program import program_model, tune
from xbarsim.nn.record import Deployment
from xbarsim.nn.thermal import weight_layers
from xbarsim.programming.faults import fault_report
from xbarsim.programming.result import ProgramResult

MITIGATIONS = ("none", "pair", "pair+column")
#: Spawn-key suffix of the compensation crossbars' seeds.
COMPENSATION_STREAM = 0xC0C0


class DefectMitigation(BaseModel):
    """Which stuck-device mitigations ``deploy`` applies.

    Attributes
    ----------
    kind : {"none", "pair", "pair+column"}
    calibration_images : int
        Calibration images for the compensation column and BN recalibration (thesis:
        about 1.5k for the ConvNet, 7k for ResNet-18).
    tolerance : float
        Relative distance from the target beyond which a stuck device counts as found
        when the chip loads targets exactly (write-verify runs use their own record).
    recalibrate_bn : bool
        Re-estimate batch-norm running means after compensation ("pair+column").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["none", "pair", "pair+column"] = "pair+column"
    calibration_images: int = Field(1500, ge=1)
    tolerance: float = Field(0.01, gt=0.0, lt=1.0)
    recalibrate_bn: bool = True


@dataclass
class LayerDefects:
    """Per-layer record of the mitigations (JSON-ready through :meth:`to_json`)."""

    name: str
    stuck_devices: int
    stuck_found: int
    pairs_retuned: int
    pairs_both_stuck: int
    compensation_pairs: int = 0
    compensation_mean_abs_us: float = 0.0
    compensation_max_abs_us: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Dict of the fields (conductances in uS)."""
        return dict(self.__dict__)


@dataclass
class MitigatedDeployment:
    """A deployment with its mitigation record."""

    deployment: Deployment
    mitigation: DefectMitigation
    layers: list[LayerDefects] = field(default_factory=list)

    @property
    def model(self) -> nn.Module:
        """The deployed model."""
        return self.deployment.model


def _compensation_hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
    """Add ``weight_scale * g_compensation`` (the x = 1 column's current) to every output."""
    shift = module.weight_scale * module.g_compensation
    if isinstance(module, AnalogConv2d):
        shift = shift.reshape(1, -1, 1, 1)
    return output + shift


def attach_compensation(layer: AnalogLayerMixin, g_difference_s: torch.Tensor) -> None:
    """Give ``layer`` a compensation column of pair differences ``g_difference_s`` (S/output).

    Registers the buffer ``g_compensation`` (travels with ``state_dict``) and the forward
    hook that adds it; call again on a fresh conversion before loading such a state dict.
    """
    if not hasattr(layer, "g_compensation"):
        layer.register_buffer("g_compensation", torch.zeros_like(g_difference_s))
        layer.register_forward_hook(_compensation_hook)
    with torch.no_grad():
        layer.g_compensation.copy_(g_difference_s)


def _mean_rows(layer: nn.Module, x: torch.Tensor, padding: object) -> torch.Tensor:
    """Mean crossbar row input of a ``Linear`` / ``Conv2d`` (analog or plain) for the batch
    of layer inputs ``x``; ``padding`` is the convolution's numeric padding.

    Unfolding is linear, so a convolution's mean patch is that of the batch-mean image.
    """
    if isinstance(layer, nn.Conv2d):
        cols = F.unfold(
            x.mean(dim=0, keepdim=True),
            layer.kernel_size,
            dilation=layer.dilation,
            padding=padding,
            stride=layer.stride,
        )
        return cols.mean(dim=(0, 2))
    return x.reshape(-1, x.shape[-1]).mean(dim=0)


def program_model_mitigated(
    model: nn.Module,
    chip: ChipConfig,
    seed: int = 0,
    mitigation: DefectMitigation | None = None,
    calibration_x: NDArray[np.float32] | None = None,
    progress: bool = False,
    lines: Lines | None = None,
) -> MitigatedDeployment:
    """Program ``model`` on ``chip`` with stuck-device mitigations (module docstring).

    Parameters
    ----------
    model : torch.nn.Module
    chip : ChipConfig
        Stuck devices come from ``chip.device.conditions.stuck``.
    seed : int
    mitigation : DefectMitigation, optional
        Default: pair retuning + compensation column + BN recalibration.
    calibration_x : ndarray, optional
        Calibration images (the first ``mitigation.calibration_images`` are used);
        required for ``"pair+column"``.
    progress : bool
    lines : Lines, optional
        Line resistances: the layers compute with the kernels' effective matrices, and the
        compensation column and batch-norm recalibration see the line drop as well.

    Returns
    -------
    MitigatedDeployment
        Deployment plus a :class:`LayerDefects` record per analog layer.
    """
    mit = DefectMitigation() if mitigation is None else mitigation
    if mit.kind == "pair+column" and calibration_x is None:
        raise XbarsimInputError("calibration_x: required by mitigation 'pair+column'")
    dep = program_model(model, chip, seed=seed, progress=progress)
    # the line network is solved once, on the conductances the mitigations leave
    dep.lines = None if lines is None or lines.is_ideal else lines
    xbars = dep.crossbars()
    target = dep.targets
    stuck = xbars.device_state.stuck
    if chip.algorithm is None:
        g = np.where(stuck, xbars.device_state.stuck_s, dep.conductance)
        found = stuck & (np.abs(g - target) > mit.tolerance * target)
    else:
        g = dep.conductance.copy()
        report = fault_report(xbars, dep.result)
        found = report.detected
        # never pulsed again: the devices the run found or declared stuck
        known = found | report.declared
    n_pairs = target.shape[0] // 2
    plus, minus = slice(0, n_pairs), slice(n_pairs, 2 * n_pairs)
    retuned = retune_pairs(
        target[plus],
        target[minus],
        g[plus],
        g[minus],
        found[plus],
        found[minus],
        chip.g_low_s,
        chip.g_high_s,
    )
    if mit.kind != "none":
        new_target = np.concatenate([retuned.target_plus, retuned.target_minus])
        changed = np.concatenate([retuned.retuned_plus, retuned.retuned_minus])
        if chip.algorithm is None:
            g = np.where(changed, new_target, g)
        else:
            pairs = np.nonzero((changed[plus] | changed[minus]).any(axis=(1, 2)))[0]
            if pairs.size:
                # whole pairs, G+ then G-, as improved tuning expects
                index = np.concatenate([pairs, pairs + n_pairs])
                sub = xbars.subset(index)
                skip = known | _skipped(dep.result)
                run = tune(chip, sub, new_target[index], skip[index])
                g[index] = run.conductance
    dep.load_conductances(g)
    records = []
    for record in dep.layers:

        def count(mask: NDArray[np.bool_], side: slice, record=record) -> int:
            """Devices of ``mask`` inside the layer's matrix (kernel padding left out)."""
            return int(untile(mask[side].astype(np.float64), record.layout)[0].sum())

        both = retuned.both_stuck
        pairs = slice(record.plus.start, record.plus.stop)
        n_retuned = 0
        if mit.kind != "none":
            n_retuned = count(retuned.retuned_plus, pairs) + count(retuned.retuned_minus, pairs)
        records.append(
            LayerDefects(
                name=record.name,
                stuck_devices=count(stuck, record.plus) + count(stuck, record.minus),
                stuck_found=count(found, record.plus) + count(found, record.minus),
                pairs_retuned=n_retuned,
                pairs_both_stuck=count(both, pairs),
            )
        )
    out = MitigatedDeployment(dep, mit, records)
    if mit.kind == "pair+column":
        _compensate(out, chip, np.asarray(calibration_x[: mit.calibration_images]), seed)
    return out


def _compensate(out: MitigatedDeployment, chip: ChipConfig, x: NDArray, seed: int) -> None:
    """Program the compensation columns and recalibrate batch norm (our reading of thesis
    2.4.2)."""
    dep = out.deployment
    model = dep.model
    layers = dict(analog_layers(model))
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            rows = _mean_rows(module, inputs[0].detach(), getattr(module, "_unfold_padding", 0))
            sums[name] = sums.get(name, 0) + rows * len(inputs[0])
            counts[name] = counts.get(name, 0) + len(inputs[0])

        return record

    handles = [layers[r.name].register_forward_pre_hook(hook(r.name)) for r in dep.layers]
    model.eval()
    with torch.no_grad():
        for start in range(0, len(x), 500):
            model(torch.as_tensor(x[start : start + 500]))
    for h in handles:
        h.remove()
    targets_c: list[NDArray[np.float64]] = []
    shapes: list[tuple[int, int]] = []
    for record in dep.layers:
        layer = layers[record.name]
        mean = (sums[record.name] / counts[record.name]).double().cpu().numpy()
        t_plus, _ = untile(dep.targets[record.plus], record.layout)
        t_minus, _ = untile(dep.targets[record.minus], record.layout)
        hw = (layer.g_plus - layer.g_minus).double().cpu().numpy()
        # the analog layer drives rows with x * V; mean_rows are x, so shifts are in S
        cp, cm = compensation_pairs(
            mean, hw - (t_plus - t_minus), chip.kernel, chip.g_low_s, chip.g_high_s
        )
        targets_c.append(np.stack([cp, cm]))
        shapes.append(cp.shape)
    flat = np.concatenate([t.reshape(2, -1) for t in targets_c], axis=1)  # (2, total)
    if chip.algorithm is not None and flat.shape[1]:
        comp_seed = np.random.SeedSequence(seed, spawn_key=(COMPENSATION_STREAM,))
        comp = Crossbar.sample(
            _without_stuck(chip.device),
            (1, flat.shape[1]),
            2,
            int(comp_seed.generate_state(1)[0]),
        )
        run = tune(chip, comp, flat[:, None, :])
        flat = run.conductance[:, 0, :]
    start = 0
    for record, shape, rec in zip(dep.layers, shapes, out.layers, strict=True):
        size = shape[0] * shape[1]
        cp = flat[0, start : start + size].reshape(shape)
        cm = flat[1, start : start + size].reshape(shape)
        start += size
        diff = (cp - cm).sum(axis=0)
        layer = layers[record.name]
        attach_compensation(layer, torch.as_tensor(diff, dtype=layer.g_plus.dtype))
        rec.compensation_pairs = int(cp.size)
        rec.compensation_mean_abs_us = float(np.abs(cp - cm).mean() * 1e6)
        rec.compensation_max_abs_us = float(np.abs(cp - cm).max() * 1e6)
    if out.mitigation.recalibrate_bn:
        recalibrate_bn_means(model, x)


def _skipped(result: ProgramResult) -> NDArray[np.bool_]:
    """The cells a programming run left alone (none when it skipped nothing)."""
    return np.zeros_like(result.abandoned) if result.skipped is None else result.skipped


def _without_stuck(device: DeviceConfig) -> DeviceConfig:
    """``device`` with no stuck devices (compensation pairs are assumed defect-free)."""
    conditions = device.conditions.model_copy(update={"stuck": StuckFaults()})
    return device.model_copy(update={"conditions": conditions})


def recalibrate_bn_means(model: nn.Module, x: NDArray, batch_size: int = 500) -> None:
    """Re-estimate every batch norm's running mean on ``x``, all else frozen (eval after)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved_var = [bn.running_var.clone() for bn in bns]
    saved_momentum = [bn.momentum for bn in bns]
    model.eval()
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batches
        bn.train()
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            model(torch.as_tensor(x[start : start + batch_size]))
    for bn, var, momentum in zip(bns, saved_var, saved_momentum, strict=True):
        bn.running_var.copy_(var)
        bn.momentum = momentum
    model.eval()


def _shift_hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
    """Add the compensation column's output ``compensation_shift`` (weight units)."""
    shift = module.compensation_shift
    if isinstance(module, nn.Conv2d):
        shift = shift.reshape(1, -1, 1, 1)
    return output + shift


def _plain_mean_rows(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """:func:`_mean_rows` of a plain ``Linear`` / ``Conv2d``."""
    padding = getattr(layer, "padding", 0)
    if isinstance(padding, str):
        raise XbarsimInputError("model: convolutions with string padding are not supported")
    return _mean_rows(layer, x, padding)


def defective_copy(
    model: nn.Module,
    faults: StuckFaults,
    seed: int,
    mitigation: DefectMitigation | None = None,
    calibration_x: NDArray[np.float32] | None = None,
    mapping: PairMapping = "mapping1",
    g_low: float = 10e-6,
    g_high: float = 100e-6,
    kernel: int = 64,
) -> tuple[nn.Module, list[LayerDefects]]:
    """Copy of any PyTorch model with stuck devices in its weight pairs, mitigated.

    The chapter-2 procedure (untiled, no programming simulation): every ``Linear`` /
    ``Conv2d`` weight is mapped to a conductance pair (``mapping``, range ``g_low`` ...
    ``g_high``, S); devices are stuck per ``faults`` (layer ``j`` draws from child ``j`` of
    ``SeedSequence(seed)``, plus devices then minus devices); a stuck device more than
    ``mitigation.tolerance`` from its target counts as found (what write-verify reports);
    the mitigations of :func:`program_model_mitigated` follow (pair retuning, one
    compensation pair per output per ``kernel`` input rows, BN running-mean recalibration);
    the pairs are read back as weights.

    Returns
    -------
    (model, records)
        The copy (eval mode) and one :class:`LayerDefects` per weight layer.
    """

    mit = DefectMitigation() if mitigation is None else mitigation
    if mit.kind == "pair+column" and calibration_x is None:
        raise XbarsimInputError("calibration_x: required by mitigation 'pair+column'")
    work = copy.deepcopy(model).eval()
    layers = weight_layers(work)
    children = np.random.SeedSequence(seed).spawn(len(layers))
    span = g_high - g_low
    records: list[LayerDefects] = []
    deltas: list[tuple[nn.Module, NDArray[np.float64], float]] = []
    for (name, layer), child in zip(layers, children, strict=True):
        weight = layer.weight.detach()
        w = weight.reshape(weight.shape[0], -1).T.double().cpu().numpy()
        w_max = float(np.abs(w).max()) or 1.0
        tp, tm = weights_to_pair(w / w_max, mapping, g_low, g_high)
        rng = np.random.default_rng(child)
        code_p, value_p = faults.draw(tp.shape, rng)
        code_m, value_m = faults.draw(tm.shape, rng)
        sp, sm = code_p >= FaultCode.STUCK_HIGH, code_m >= FaultCode.STUCK_HIGH
        gp, gm = np.where(sp, value_p, tp), np.where(sm, value_m, tm)
        fp = sp & (np.abs(gp - tp) > mit.tolerance * tp)
        fm = sm & (np.abs(gm - tm) > mit.tolerance * tm)
        retuned = retune_pairs(tp, tm, gp, gm, fp, fm, g_low, g_high)
        n_retuned = 0
        if mit.kind != "none":
            gp = np.where(retuned.retuned_plus, retuned.target_plus, gp)
            gm = np.where(retuned.retuned_minus, retuned.target_minus, gm)
            n_retuned = retuned.pairs_retuned
        eff = w_max * (gp - gm) / span
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(eff.T.reshape(weight.shape), dtype=weight.dtype))
        deltas.append((layer, (gp - gm) - (tp - tm), w_max / span))
        records.append(
            LayerDefects(
                name=name,
                stuck_devices=int(sp.sum() + sm.sum()),
                stuck_found=int(fp.sum() + fm.sum()),
                pairs_retuned=n_retuned,
                pairs_both_stuck=int(retuned.both_stuck.sum()),
            )
        )
    if mit.kind == "pair+column":
        x = np.asarray(calibration_x[: mit.calibration_images])
        sums: dict[int, torch.Tensor] = {}

        def hook(index: int):
            def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
                rows = _plain_mean_rows(module, inputs[0].detach()) * len(inputs[0])
                sums[index] = sums.get(index, 0) + rows

            return record

        handles = [
            layer.register_forward_pre_hook(hook(i)) for i, (layer, _, _) in enumerate(deltas)
        ]
        with torch.no_grad():
            for start in range(0, len(x), 500):
                work(torch.as_tensor(x[start : start + 500]))
        for h in handles:
            h.remove()
        for i, ((layer, dg, scale), rec) in enumerate(zip(deltas, records, strict=True)):
            mean = (sums[i] / len(x)).double().cpu().numpy()
            cp, cm = compensation_pairs(mean, dg, kernel, g_low, g_high)
            shift = torch.as_tensor(scale * (cp - cm).sum(axis=0), dtype=layer.weight.dtype)
            layer.register_buffer("compensation_shift", shift)
            layer.register_forward_hook(_shift_hook)
            rec.compensation_pairs = int(cp.size)
            rec.compensation_mean_abs_us = float(np.abs(cp - cm).mean() * 1e6)
            rec.compensation_max_abs_us = float(np.abs(cp - cm).max() * 1e6)
        if mit.recalibrate_bn:
            recalibrate_bn_means(work, x)
    return work, records

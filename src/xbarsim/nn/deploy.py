"""Deploy a network on a simulated chip: one path, every effect of the chip (layer 6).

:func:`deploy` takes a :class:`~xbarsim.chip.ChipSpec` (or, as before, a
:class:`~xbarsim.mapping.ChipConfig` with ``lines`` / ``mitigation`` arguments) and
returns a copy of the model that computes with every effect the spec switches on, in the
physics' order: programming (:func:`xbarsim.nn.program_model`, or with stuck-device
mitigations :func:`xbarsim.nn.program_model_mitigated`), the conductances at operating
conditions and the line network (:func:`xbarsim.nn.at`, which composes them), then the
read path (:func:`xbarsim.nn.periphery.attach_periphery`: DAC -> TIA with its offset and
compensation -> ADC), calibrated once on the deployed chip at its nominal conditions. Each
stage switched off is the identity, so a spec with one effect on computes exactly what
that effect's own path computes. A spec with eFlash synapses tunes eFlash cell pairs
instead of programming memristors (:func:`xbarsim.nn.eflash.program_eflash`); its
conditions are the die temperature through the eFlash temperature model, and the read
path follows as for memristors.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from torch import nn

from xbarsim.chip.spec import ChipSpec
from xbarsim.crossbar.irdrop import first_order_matrix
from xbarsim.crossbar.lines import Lines
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.config import ChipConfig
from xbarsim.nn.conditions import FIRST_ORDER_BASE
from xbarsim.nn.defects import DefectMitigation, program_model_mitigated
from xbarsim.nn.eflash import program_eflash
from xbarsim.nn.nonlinear import balance_v_tune
from xbarsim.nn.periphery import attach_periphery
from xbarsim.nn.program import program_model
from xbarsim.nn.record import Deployment, LayerKernels

__all__ = ["Deployment", "LayerKernels", "deploy", "deploy_spec", "program_model"]


def deploy_spec(
    model: nn.Module,
    spec: ChipSpec,
    seed: int = 0,
    calibration_x: NDArray[np.float32] | None = None,
    progress: bool = False,
) -> Deployment:
    """Program ``model`` on the chip ``spec`` describes, with every effect it switches on.

    Parameters
    ----------
    model : torch.nn.Module
    spec : ChipSpec
    seed : int
        Seed of the chip instance (crossbars, stuck devices, TIA offsets; >= 0).
    calibration_x : ndarray, optional
        Inputs of the model the read path's ranges, the compensation column and the
        batch-norm recalibration are calibrated on; required when the spec has a read path
        or the ``pair+column`` mitigation.
    progress : bool

    Returns
    -------
    Deployment
        ``deployment.model`` computes with the chip's effects; ``deployment.at(...)``
        evaluates it at operating conditions (default: the spec's).

    Raises
    ------
    XbarsimInputError
        For a mitigation this path does not compose, or missing calibration inputs.
    """
    spec.check()
    m, r = spec.mitigation, spec.read_path
    for name, on in (("reference_bn_k", m.reference_bn_k > 0),
                     ("state_optimization", m.state_optimization)):
        if on:
            raise XbarsimInputError(
                f"mitigation.{name}: not composed with deploy(model, spec); it retrains or "
                "redesigns the network for temperature (use its own entry point)"
            )
    if m.kind != "none" and spec.programming.through_lines:
        raise XbarsimInputError(
            "programming.through_lines: not combined with a stuck-device mitigation yet (the "
            "mitigated programming verifies without the lines); turn one of them off"
        )
    needs = [] if r.preset == "none" else ["read_path"]
    needs += ["mitigation pair+column"] if m.kind == "pair+column" else []
    needs += ["mitigation balancing"] if m.balancing else []
    if needs and calibration_x is None:
        raise XbarsimInputError(f"calibration_x: required by the spec's {' and '.join(needs)}")
    chip = spec.chip_config()
    if m.balancing:
        chip = _balanced(model, chip, np.asarray(calibration_x))
    lines = spec.lines_config()
    if spec.eflash:
        deployment = program_eflash(model, spec, seed)
    elif m.kind != "none":
        mitigation = DefectMitigation(
            kind=m.kind, calibration_images=m.calibration_images, recalibrate_bn=m.recalibrate_bn
        )
        deployment = program_model_mitigated(
            model, chip, seed, mitigation, calibration_x, progress=progress, lines=lines
        ).deployment
    else:
        deployment = program_model(
            model, chip, seed=seed, progress=progress, lines=lines,
            verify_through_lines=spec.programming.through_lines,
        )
    deployment.spec = spec
    if spec.conditions.line_update == "first-order" and deployment.lines is not None:
        # the programmed state's first-order matrices, once: every condition updates from them
        deployment.cache[FIRST_ORDER_BASE] = first_order_matrix(
            deployment.conductance, deployment.lines
        )
    if r.preset != "none":
        import torch

        x = torch.as_tensor(np.asarray(calibration_x[: r.calibration_inputs]))
        deployment.periphery = attach_periphery(
            deployment.model, r.config(), x, offset_sigma_v=r.offset_sigma_v,
            offset_limit_v=r.offset_limit_v, compensation=r.offset_compensation, seed=seed,
        )
    deployment.model.xbarsim_deployment = deployment
    return deployment


def _balanced(model: nn.Module, chip: ChipConfig, x: NDArray[np.float32]) -> ChipConfig:
    """``chip`` with its devices tuned at the balanced voltage of ``model`` on ``x``
    (:func:`xbarsim.nn.nonlinear.balance_v_tune`)."""
    conditions = chip.device.conditions
    v_tune, _ = balance_v_tune(model, conditions.nonlinearity, x, chip.mapping, None,
                               chip.g_low_s, chip.g_high_s)
    nl = conditions.nonlinearity.model_copy(update={"v_tune_v": v_tune})
    device = chip.device.model_copy(
        update={"conditions": conditions.model_copy(update={"nonlinearity": nl})}
    )
    return chip.model_copy(update={"device": device})


def deploy(
    model: nn.Module,
    chip: ChipConfig | ChipSpec,
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
    chip : ChipSpec or ChipConfig
        A chip spec (every effect it switches on; :func:`deploy_spec`, then ``lines``,
        ``verify_through_lines`` and ``mitigation`` must be left out), or a chip config.
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
        record); ``calibration_x`` holds the calibration images.
    calibration_x : ndarray, optional
        Calibration inputs (mitigation, and a spec's read path).

    Returns
    -------
    torch.nn.Module
        In eval mode; ``xbarsim.nn.at(model, temp_c=..., age_h=...)`` evaluates it at
        operating conditions (in this process: the crossbar state is not saved). Save it
        with ``torch.save(model.state_dict(), path)``; load into ``convert(architecture,
        chip)`` with ``torch.load(path, weights_only=True)``.
    """
    if isinstance(chip, ChipSpec):
        given = [name for name, value in (("lines", lines), ("mitigation", mitigation),
                                          ("verify_through_lines", verify_through_lines or None))
                 if value is not None]
        if given:
            raise XbarsimInputError(
                f"{given[0]}: a chip spec carries it; set it in the spec, not as an argument"
            )
        return deploy_spec(model, chip, seed, calibration_x, progress).model
    if mitigation is not None:
        deployment = program_model_mitigated(
            model, chip, seed, mitigation, calibration_x, progress=progress, lines=lines
        ).deployment
    else:
        deployment = program_model(
            model, chip, seed=seed, progress=progress, lines=lines,
            verify_through_lines=verify_through_lines,
        )
    # the record (crossbars, per-device state) that xbarsim.nn.at(model, ...) evaluates
    deployment.model.xbarsim_deployment = deployment
    return deployment.model

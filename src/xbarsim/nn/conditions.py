"""A deployed network at operating conditions, without reprogramming (layer 6).

``with deployment.at(temp_c=85, age_h=87_660):`` (or :func:`at`) evaluates every analog
layer of a deployed model on its crossbars seen through
:meth:`xbarsim.crossbar.Crossbar.at`: conductances after retention drift and at the die
temperature (computed once on entry), the I-V nonlinearity of each device and read noise.
Per layer and forward pass the column currents are::

    I = sum_j f_j(V) @ (s_j(G+) - s_j(G-))  +  sqrt((V * V) @ (sigma+^2 + sigma-^2)) * eps

with the nonlinearity's basis ``f_j``/``s_j`` (:mod:`xbarsim.devices.nonlinearity`; two
products for the thesis polynomial) and the read noise drawn at the output (one product).
Inputs ``x`` drive the rows at ``V = v_in x`` and outputs are currents times
``weight_scale / v_in``; every matrix is stored with those factors folded in, so a pass
works on ``x`` and its outputs directly (no per-pass scaling). For the thesis polynomial
with read noise and nonnegative inputs (every layer after a ReLU), the basis factor
``V|V|`` equals the noise's ``V * V``, so its product and the variance product are one
product with the two matrices side by side (``squared``). The three products (main,
nonlinearity, variance) are exact and irreducible: with products a fraction ``p`` of the
ideal forward pass, all effects cost at least ``1 + 2p`` times it.
On exit the layers compute on the programmed conductances again.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from xbarsim.crossbar.conditions import ConditionsView
from xbarsim.crossbar.irdrop import effective_matrix, first_order_matrix, updated_matrix
from xbarsim.crossbar.lines import Lines
from xbarsim.crossbar.newton import solve_nonlinear
from xbarsim.devices.nonlinearity import Nonlinearity
from xbarsim.devices.validity import check_within
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.tiling import TileLayout, untile
from xbarsim.nn.layers import AnalogLayerMixin, analog_layers
from xbarsim.nn.record import Deployment


@dataclass
class LayerConditions:
    """What one analog layer needs to compute at operating conditions.

    The layer's inputs ``x`` drive the rows at ``V = x * v_in``; its outputs are the column
    currents times ``weight_scale / v_in`` (weight units). Every matrix below carries those
    factors, so it maps its input factor of ``x`` straight to outputs.

    Attributes
    ----------
    inputs : callable
        ``inputs(v, upto)``: the first ``upto`` terms of the nonlinearity's input basis
        ``f_j(V)`` (list of tensors), for the terms in ``states``.
    main : Tensor, (inputs, outputs)
        ``weight_scale * (s_0(G+) - s_0(G-))``, for ``x`` (``f_0(V) = V``);
        ``weight_scale * (G+ - G-)`` for a linear device.
    square_state : Tensor or None, (inputs, outputs)
        ``weight_scale * v_in * (s_k(G+) - s_k(G-))`` for ``x|x|``: the state term ``k``
        whose input factor is ``V|V|`` (thesis polynomial); None without one.
    states : list of (int, Tensor (inputs, outputs))
        ``(j, weight_scale / v_in * (s_j(G+) - s_j(G-)))`` for ``f_j(V)``: the other nonzero
        basis terms ``j >= 1``.
    variance : Tensor or None, (inputs, outputs)
        ``weight_scale^2 * (sigma+^2 + sigma-^2)`` for ``x * x``: the output's read-noise
        variance; None without read noise.
    generator : torch.Generator or None
        Source of the read-noise draws.
    range_check : RangeCheck
        The nonlinearity's input-range check, shared by the model's layers.
    v_in : float
        Input voltage per input unit (V).
    squared : Tensor or None, (inputs, 2 * outputs)
        ``[square_state | variance]`` side by side, both present; those two are then views
        of its halves, used at once for nonnegative inputs (``x|x| == x * x``).
    """

    inputs: object
    main: Tensor
    square_state: Tensor | None
    states: list[tuple[int, Tensor]]
    variance: Tensor | None
    generator: torch.Generator | None
    range_check: RangeCheck
    v_in: float = 1.0
    squared: Tensor | None = None

    def matmul(self, x: Tensor, span: Tensor | None = None) -> Tensor:
        """``x @ W`` of a deployed layer at these conditions (see the module docstring).

        ``span`` (default ``x``) holds the values of ``x`` and possibly zeros, e.g. a
        convolution's input before unfolding, for the input-range check.
        """
        nonnegative = False
        if (self.square_state is not None or self.states) and x.numel():
            nonnegative = self.range_check.record(x, span, self.v_in)
        currents = x @ self.main
        noise_variance = None
        if self.squared is not None and nonnegative:
            both = x.square() @ self.squared  # x|x| == x * x: state term and variance at once
            outputs = currents.shape[-1]
            currents.add_(both[..., :outputs])
            noise_variance = both[..., outputs:]
        else:
            if self.square_state is not None:
                currents.add_((x * x.abs()) @ self.square_state)
            if self.states:
                basis = self.inputs(x * self.v_in, self.states[-1][0] + 1)  # type: ignore[operator]
                for j, state in self.states:
                    currents.add_(basis[j] @ state)
            if self.variance is not None:
                noise_variance = x.square() @ self.variance
        if noise_variance is not None:
            std = noise_variance.sqrt_()
            noise = torch.randn(
                std.shape, generator=self.generator, dtype=std.dtype, device=std.device
            )
            currents.addcmul_(std, noise)
        return currents


@dataclass
class RangeCheck:
    """Check of layer inputs against the nonlinearity's fitted voltage range.

    On the CPU every pass is checked at once. On an accelerator (``defer``), reading a bound
    back to the host would stall the device at every layer, so the bounds stay on the device
    and are checked together after the model's forward pass (every ``FLUSH_EVERY`` layers,
    and on leaving the conditions): warnings and a ``strict`` refusal then come before the
    model returns its output.

    Attributes
    ----------
    fit_v : (float, float)
        Fitted input range of the nonlinearity (V).
    strict : bool
        Refuse inputs outside ``fit_v`` instead of warning.
    defer : bool
        Record bounds on the device and check them in :meth:`flush`.
    pending : list of Tensor
        Bounds (V) recorded on the device, not yet checked.
    """

    FLUSH_EVERY = 256

    fit_v: tuple[float, float]
    strict: bool
    defer: bool = False
    pending: list[Tensor] = field(default_factory=list)

    def record(self, x: Tensor, span: Tensor | None, v_in: float) -> bool:
        """Check (CPU) or record (accelerator) the input bound of one pass.

        ``span`` (default ``x``) holds the values of ``x`` and possibly zeros, e.g. a
        convolution's input before unfolding; on the CPU the range is taken over it (and over
        ``x`` itself only when ``span`` is out of range). Returns whether every input is
        nonnegative, known only when checked at once (False when deferred).
        """
        if self.defer:
            self.pending.append(torch.linalg.vector_norm(x.detach(), float("inf")) * v_in)
            if len(self.pending) >= self.FLUSH_EVERY:
                self.flush()
            return False
        low, high = _range(span if span is not None else x)
        if span is not None and max(-low, high) * v_in > self.fit_v[1]:
            low, high = _range(x)  # the span may hold values x never takes
        self._check(max(-low, high) * v_in)
        return low >= 0.0

    def flush(self) -> None:
        """Check the bounds recorded on the device (one read-back for all of them)."""
        if self.pending:
            bound = float(torch.stack(self.pending).amax())
            self.pending.clear()
            self._check(bound)

    def _check(self, bound_v: float) -> None:
        check_within("|voltage|", bound_v, *self.fit_v, self.strict, " V", "nonlinearity")


def _range(t: Tensor) -> tuple[float, float]:
    """(min, max) of ``t``, reduced in storage order."""
    low, high = torch.aminmax(_storage_order(t.detach()))
    return float(low), float(high)


def _record(deployment: Deployment | nn.Module) -> Deployment:
    """The deployment record of ``deployment`` (itself, or a deployed model's)."""
    if isinstance(deployment, Deployment):
        return deployment
    record = getattr(deployment, "xbarsim_deployment", None)
    if not isinstance(record, Deployment):
        raise XbarsimInputError(
            "model: not deployed in this process; conditions need the deployment record "
            "(use xbarsim.nn.deploy or program_model)"
        )
    return record


@dataclass
class Settings:
    """The effects :func:`at` evaluates with, resolved from the call and the chip spec.

    Attributes
    ----------
    temp_c, age_h, bake_c, strict, nonlinear, noise, seed
        As :func:`at`.
    solver : {"linearized", "newton"}
        Nonlinear devices under line resistance (:class:`xbarsim.chip.spec.ConditionsSpec`).
    line_update : {"exact", "first-order"}
        Effective matrices at a condition (:class:`xbarsim.chip.spec.ConditionsSpec`).
    """

    temp_c: float
    age_h: float
    bake_c: float | None
    strict: bool
    nonlinear: bool
    noise: bool
    seed: int
    solver: str = "linearized"
    line_update: str = "exact"


def resolve(
    deployment: Deployment,
    temp_c: float | None,
    age_h: float | None,
    bake_c: float | None,
    strict: bool | None,
    nonlinear: bool | None,
    noise: bool | None,
    seed: int,
) -> Settings:
    """What :func:`at` evaluates: the arguments given, else the deployment's chip spec's
    conditions, else (no spec) 25 degC, no ageing, nonlinearity and read noise on."""
    spec = deployment.spec
    if spec is None:
        return Settings(
            25.0 if temp_c is None else temp_c,
            0.0 if age_h is None else age_h,
            bake_c,
            False if strict is None else strict,
            True if nonlinear is None else nonlinear,
            True if noise is None else noise,
            seed,
        )
    c = spec.conditions
    return Settings(
        c.temp_c if temp_c is None else temp_c,
        c.age_h if age_h is None else age_h,
        c.bake_c if bake_c is None else bake_c,
        c.strict if strict is None else strict,
        c.nonlinearity if nonlinear is None else nonlinear,
        c.read_noise if noise is None else noise,
        seed,
        c.nonlinear_solver,
        c.line_update,
    )


#: Conditions whose per-condition work a deployment keeps (the most recent ones).
CACHED_CONDITIONS = 2
#: Cache key of the programmed state's first-order line matrices.
FIRST_ORDER_BASE = ("first_order_base",)


def effective_at(
    deployment: Deployment, view: ConditionsView, line_update: str = "exact"
) -> np.ndarray | None:
    """Effective matrices (S) of every kernel with the deployment's lines, on the
    conductances at the view's conditions; None for ideal lines. Cached per condition.

    ``line_update`` ``"first-order"`` updates the programmed state's exact matrices
    (:func:`xbarsim.crossbar.irdrop.updated_matrix`) instead of solving anew."""
    if deployment.lines is None:
        return None
    key = ("effective", view.temp_c, view.equivalent_hours, line_update)
    if key not in deployment.cache:
        if deployment.effective is not None and _nominal(deployment, view):
            matrices = deployment.effective
        elif line_update == "first-order" and deployment.effective is not None:
            if FIRST_ORDER_BASE not in deployment.cache:
                deployment.cache[FIRST_ORDER_BASE] = first_order_matrix(
                    deployment.conductance, deployment.lines
                )
            matrices = updated_matrix(
                deployment.effective, deployment.conductance, view.conductance,
                deployment.lines, deployment.cache[FIRST_ORDER_BASE],
            )
        else:
            matrices = effective_matrix(view.conductance, deployment.lines)
        stale = [k for k in deployment.cache if k[0] == "effective"]
        for k in stale[: max(0, len(stale) - CACHED_CONDITIONS + 1)]:
            del deployment.cache[k]
        deployment.cache[key] = matrices
    return deployment.cache[key]


def _nominal(deployment: Deployment, view: ConditionsView) -> bool:
    """Whether the view's conductances are the programmed ones, bit for bit."""
    return bool(np.array_equal(view.conductance, deployment.conductance))


@contextmanager
def at(
    deployment: Deployment | nn.Module,
    temp_c: float | None = None,
    age_h: float | None = None,
    bake_c: float | None = None,
    strict: bool | None = None,
    nonlinear: bool | None = None,
    noise: bool | None = None,
    seed: int = 0,
) -> Iterator[nn.Module]:
    """Context in which ``deployment.model`` computes at operating conditions.

    Parameters as :meth:`xbarsim.crossbar.Crossbar.at`: die temperature ``temp_c``
    (degrees C), ``age_h`` hours since programming spent at ``bake_c`` (default room
    temperature), ``strict`` (refuse extrapolation), ``nonlinear``, ``noise`` and the
    read-noise ``seed``. An argument left None takes the deployment's chip spec's value
    (:class:`xbarsim.chip.ChipSpec` ``conditions``); without a spec 25 degC, no ageing, no
    strictness, nonlinearity and read noise on. ``deployment`` is a :class:`Deployment` or
    a model returned by :func:`xbarsim.nn.deploy` in this process. Yields the model.

    With line resistance (the deployment's ``lines``) the conditions compose with it: the
    effective matrices are solved on the conductances at these conditions (all kernels
    in one batch, cached per condition). Nonlinear devices under lines are
    ``linearized`` by default: every device's nonlinear state terms and read-noise
    deviation are scaled by its effective-to-device conductance ratio ``M / G`` of the
    linear line network (exact for linear devices); ``newton`` (spec
    ``conditions.nonlinear_solver``) solves every input vector of every kernel exactly
    (:func:`xbarsim.crossbar.newton.solve_nonlinear`; slow, small networks).

    A deployment with its own evaluator (eFlash synapses, :func:`xbarsim.nn.eflash.eflash_at`)
    is evaluated by it.
    """
    deployment = _record(deployment)
    if deployment.evaluator is not None and deployment.evaluator is not at:
        with deployment.evaluator(deployment, temp_c=temp_c, age_h=age_h, bake_c=bake_c,
                                  strict=strict, nonlinear=nonlinear, noise=noise,
                                  seed=seed) as model:
            yield model
        return
    st = resolve(deployment, temp_c, age_h, bake_c, strict, nonlinear, noise, seed)
    xbars = deployment.crossbars()
    # warnings of the models (extrapolation) point at the caller's ``with`` line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        view = xbars.at(
            st.temp_c, st.age_h, st.bake_c, strict=st.strict, nonlinear=st.nonlinear,
            noise=st.noise, seed=st.seed,
        )
        g = view.conductance
        effective = effective_at(deployment, view, st.line_update)
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=3)
    models = xbars.device.conditions
    nl = models.nonlinearity
    bound = nl.fit_v[1]
    ratio = None
    if effective is not None and (st.nonlinear or st.noise):
        ratio = effective / g  # the line network's share of every device's current
    with_noise = st.noise and models.read_noise.sigma_rel > 0.0
    scale = xbars.device_state.noise_scale
    layers = dict(analog_layers(deployment.model))
    saved: list[tuple[AnalogLayerMixin, Tensor, Tensor]] = []
    on_device = any(p.device.type != "cpu" for p in deployment.model.buffers())
    range_check = RangeCheck(nl.fit_v, st.strict, defer=on_device)
    hook = deployment.model.register_forward_hook(lambda *_: range_check.flush())
    newton = st.nonlinear and effective is not None and st.solver == "newton"
    try:
        for index, record in enumerate(deployment.layers):
            layer = layers[record.name]
            factory = {"dtype": layer.g_plus.dtype, "device": layer.g_plus.device}

            def matrix(kernels: np.ndarray, layout=record.layout, factory=factory) -> Tensor:
                return torch.as_tensor(untile(kernels, layout)[0], **factory)

            sides = (record.plus, record.minus)
            # per layer, so that no basis of the whole chip is ever held at once
            g_pair = (g[record.plus], g[record.minus])
            r_pair = None if ratio is None else (ratio[record.plus], ratio[record.minus])
            saved.append((layer, layer.g_plus.clone(), layer.g_minus.clone()))
            m_pair = g_pair if effective is None else tuple(effective[s] for s in sides)
            g_plus, g_minus = matrix(m_pair[0]), matrix(m_pair[1])
            main = g_plus - g_minus
            ws, v_in = float(layer.weight_scale), float(layer.input_voltage_v)
            square_state, states = None, []
            if st.nonlinear and not newton:
                basis = [nl.state_basis(part, bound) for part in g_pair]
                if r_pair is not None:
                    basis = [[b * r for b in terms] for terms, r in zip(basis, r_pair,
                                                                        strict=True)]
                main = matrix(basis[0][0]) - matrix(basis[1][0])
                for j, (s_plus, s_minus) in enumerate(zip(*basis, strict=True)):
                    diff = matrix(s_plus) - matrix(s_minus)
                    if j == 0 or not bool(diff.any()):
                        continue
                    if j == nl.signed_square_term():
                        square_state = diff.mul_(ws * v_in)  # V|V| = v_in^2 x|x|
                    else:
                        states.append((j, diff.mul_(ws / v_in)))
            var = None
            if with_noise:
                sigma = [
                    models.read_noise.device_sigma(part, scale[sel])
                    for part, sel in zip(g_pair, sides, strict=True)
                ]
                if r_pair is not None:
                    sigma = [s * r for s, r in zip(sigma, r_pair, strict=True)]
                var = (matrix(sigma[0] ** 2) + matrix(sigma[1] ** 2)).mul_(ws * ws)
            squared = None
            if var is not None and square_state is not None:
                squared = torch.cat([square_state, var], dim=1)
                square_state, var = squared[:, : var.shape[1]], squared[:, var.shape[1] :]
            generator = None
            if var is not None:
                generator = torch.Generator(device=factory["device"])
                entropy = np.random.SeedSequence((deployment.seed, st.seed, index))
                generator.manual_seed(int(entropy.generate_state(1, np.uint64)[0] >> 1))
            with torch.no_grad():
                layer.g_plus.copy_(g_plus)
                layer.g_minus.copy_(g_minus)
                main = main * layer.weight_scale  # as the deployed layer: bit-equal at nominal
            compute = LayerConditions(
                inputs=(lambda v, upto, nl=nl, bound=bound: nl.input_basis(v, bound, upto)),
                main=main,
                square_state=square_state,
                states=states,
                variance=var,
                generator=generator,
                range_check=range_check,
                v_in=v_in,
                squared=squared,
            )
            if newton:
                compute = NewtonLayer(g_pair, record.layout, deployment.lines, nl, ws, v_in,
                                      st.strict, compute)
            layer.conditions = compute
        yield deployment.model
        range_check.flush()
    finally:
        hook.remove()
        range_check.pending.clear()
        for layer, g_plus, g_minus in saved:
            with torch.no_grad():
                layer.g_plus.copy_(g_plus)
                layer.g_minus.copy_(g_minus)
            layer.conditions = None


@dataclass
class NewtonLayer:
    """A layer of nonlinear devices under line resistance, solved exactly per input.

    Every kernel pair (``G+`` and ``G-``) is solved by Newton on its nodal network for
    every input vector (:func:`xbarsim.crossbar.newton.solve_nonlinear`); the partial
    column currents of a layer's row blocks are summed, as the chip's periphery does.
    Read noise (when on) is added as in :class:`LayerConditions`, scaled by the
    linear network's ``M / G``.

    Attributes
    ----------
    g_pair : (ndarray, ndarray), each (kernels, N, N)
        Conductances of the layer's ``G+`` and ``G-`` kernels at the conditions (S).
    layout : TileLayout
    lines : Lines
    law : Nonlinearity
        The devices' I-V law.
    weight_scale, v_in : float
        As the layer's buffers.
    strict : bool
        Refuse voltages outside the law's fitted range.
    noise : LayerConditions
        Its variance and generator give the read noise (None variance: no noise).
    """

    g_pair: tuple[np.ndarray, np.ndarray]
    layout: TileLayout
    lines: Lines
    law: Nonlinearity
    weight_scale: float
    v_in: float
    strict: bool
    noise: LayerConditions

    def current(self, g_s: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Device currents (A) of the law (the :class:`~xbarsim.crossbar.newton.IVLaw`)."""
        return self.law.current(g_s, v, self.strict)

    def matmul(self, x: Tensor, span: Tensor | None = None) -> Tensor:
        """``x @ W`` through the exact nonlinear line network (weight units)."""
        rows = x.reshape(-1, x.shape[-1]).detach().cpu().double().numpy() * self.v_in
        grid_r, grid_c = self.layout.grid
        size = self.layout.size
        padded = np.zeros((rows.shape[0], grid_r * size))
        padded[:, : rows.shape[1]] = rows
        out = np.zeros((rows.shape[0], grid_c * size))
        for r in range(grid_r):
            v = padded[:, r * size : (r + 1) * size]
            for c in range(grid_c):
                k = r * grid_c + c
                plus = solve_nonlinear(self.g_pair[0][k], self.lines, v, self).currents_a
                minus = solve_nonlinear(self.g_pair[1][k], self.lines, v, self).currents_a
                out[:, c * size : (c + 1) * size] += plus - minus
        y = out[:, : self.layout.outputs] * (self.weight_scale / self.v_in)
        currents = torch.as_tensor(y, dtype=x.dtype, device=x.device).reshape(
            *x.shape[:-1], self.layout.outputs
        )
        if self.noise.variance is not None:
            std = (x.square() @ self.noise.variance).sqrt_()
            draw = torch.randn(std.shape, generator=self.noise.generator, dtype=std.dtype,
                               device=std.device)
            currents.addcmul_(std, draw)
        return currents


def _storage_order(t: Tensor) -> Tensor:
    """``t`` with its dimensions permuted into storage order (contiguous when ``t`` is a
    permuted dense tensor, e.g. unfolded patches), so that reductions over it are fast."""
    order = sorted(range(t.dim()), key=lambda d: -t.stride(d))
    permuted = t.permute(order)
    return permuted if permuted.is_contiguous() else t

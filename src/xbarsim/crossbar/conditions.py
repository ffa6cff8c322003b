"""A batch of crossbars seen at operating conditions: temperature, age, nonlinearity, noise.

:meth:`xbarsim.crossbar.Crossbar.at` returns a :class:`ConditionsView`. It never changes
the crossbars: it evaluates the layer-1 models of ``device.conditions`` on the programmed
conductances ``G0`` and the per-device state drawn once
(:class:`~xbarsim.crossbar.state.DeviceState`)::

    G_ret = G0 (1 + eps_retention(G0, z, t_eq))          (Arrhenius equivalent time)
    G(T)  = G_ret (1 + dw/w0(G_ret, T))                   (temperature model)

clipped into the device bounds; a stuck device holds its stuck conductance at every
condition (the state models are fitted on working devices). The same device at (T, t) and
later at (T', t') follows one trajectory, because ``z`` is fixed and ``t_eq`` is one clock
(:meth:`ConditionsView.at` adds time to it). ``vmm`` adds the I-V nonlinearity (a few
matrix products) and read noise at the output (Gaussian with variance ``sum sigma^2 V^2``,
one more product); ``vmm_reference`` computes the same per device, for tests.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.crossbar.state import DeviceState
from xbarsim.devices.config import DeviceConfig
from xbarsim.devices.read_noise import output_noise, sample_device_noise
from xbarsim.devices.validity import check_within
from xbarsim.errors import XbarsimInputError


class Programmed(Protocol):
    """What a view reads of a batch of programmed crossbars (a
    :class:`~xbarsim.crossbar.Crossbar` has it)."""

    device: DeviceConfig
    device_state: DeviceState
    conductance: NDArray[np.float64]

    @property
    def batch(self) -> int:
        """Crossbars in the batch."""
        ...

    @property
    def rows(self) -> int:
        """Rows of every crossbar."""
        ...


class ConditionsView:
    """Read-only view of a :class:`~xbarsim.crossbar.Crossbar` at (T, t).

    Build it with :meth:`Crossbar.at`. Attributes: ``temp_c`` (degrees C),
    ``equivalent_hours`` (hours at the retention model's room temperature since
    programming), ``strict``, ``nonlinear``, ``noise``, ``seed``.
    """

    def __init__(
        self,
        xbars: Programmed,
        temp_c: float = 25.0,
        age_h: float = 0.0,
        bake_c: float | None = None,
        strict: bool = False,
        nonlinear: bool = True,
        noise: bool = True,
        seed: int = 0,
        _prior_hours: float = 0.0,
    ) -> None:
        models = xbars.device.conditions
        temp_c = _finite("temp_c", temp_c)
        age_h = _finite("age_h", age_h)
        if age_h < 0.0:
            raise XbarsimInputError(f"age_h: must be >= 0 hours, got {age_h:g}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise XbarsimInputError(f"seed: must be an integer >= 0, got {seed!r}")
        model = models.temperature
        check_within("temp_c", temp_c, *model.fit_temp_c, strict, " degC", "temperature model")
        self.xbars = xbars
        self.temp_c = temp_c
        self.equivalent_hours = _prior_hours + models.retention.equivalent_hours(age_h, bake_c)
        self.strict = strict
        self.nonlinear = nonlinear
        self.noise = noise
        self.seed = int(seed)
        self._reads = 0
        self._conductance: NDArray[np.float64] | None = None

    def at(
        self, temp_c: float | None = None, age_h: float = 0.0, bake_c: float | None = None
    ) -> ConditionsView:
        """The same crossbars ``age_h`` hours later (at ``bake_c``), read at ``temp_c``.

        The equivalent time adds up, so ``x.at(age_h=a).at(age_h=b)`` equals
        ``x.at(age_h=a + b)``; ``temp_c`` defaults to this view's.
        """
        return ConditionsView(
            self.xbars,
            self.temp_c if temp_c is None else temp_c,
            age_h,
            bake_c,
            strict=self.strict,
            nonlinear=self.nonlinear,
            noise=self.noise,
            seed=self.seed,
            _prior_hours=self.equivalent_hours,
        )

    @property
    def conductance(self) -> NDArray[np.float64]:
        """Conductances at these conditions (S), shape (batch, rows, cols); read-only."""
        if self._conductance is None:
            x = self.xbars
            models = x.device.conditions
            stuck = x.device_state.stuck
            # a stuck device holds its stuck conductance at every condition: the state
            # models (fitted on working devices) are evaluated on the working ones only
            working = ~stuck if stuck.any() else slice(None)
            g = x.conductance.copy()
            g0 = g[working]
            drift = models.retention.relative_change(
                g0, x.device_state.drift_z[working], self.equivalent_hours
            )
            g_cond = g0 * (1.0 + drift)
            if self.temp_c != models.temperature.t0_c:
                g_cond = models.temperature.conductance_at(g_cond, self.temp_c, self.strict)
            g[working] = np.clip(g_cond, x.device.g_min_s, x.device.g_max_s)
            g.flags.writeable = False
            self._conductance = g
        return self._conductance

    def noise_sigma(self) -> NDArray[np.float64]:
        """Per-device read-noise standard deviation at these conditions (S)."""
        models = self.xbars.device.conditions
        return models.read_noise.device_sigma(self.conductance, self.xbars.device_state.noise_scale)

    def read(self, voltage: float | None = None) -> NDArray[np.float64]:
        """Current of every device read alone at ``voltage`` (A), shape (batch, rows, cols).

        Defaults to the nonlinearity model's tuning voltage, where states are defined.
        """
        models = self.xbars.device.conditions
        v = models.nonlinearity.v_tune_v if voltage is None else _finite("voltage", voltage)
        g = self.conductance
        current = models.nonlinearity.current(g, v, self.strict) if self.nonlinear else g * v
        if self.noise and models.read_noise.sigma_rel > 0.0:
            sigma = self.noise_sigma()
            key = self._next_key()
            for b in range(self.xbars.batch):
                rng = self.xbars.device_state.noise_rng(b, key)
                current[b] += sigma[b] * v * rng.standard_normal(sigma.shape[1:])
        return current

    def vmm(self, voltages: ArrayLike) -> NDArray[np.float64]:
        """Column currents (A) for row voltages (V) at these conditions.

        Shapes as :meth:`Crossbar.vmm`. Nonlinearity as matrix products; read noise added
        at the output with one extra product (per crossbar, from its own stream).
        """
        return self._vmm(voltages, reference=False)

    def vmm_reference(self, voltages: ArrayLike) -> NDArray[np.float64]:
        """:meth:`vmm` computed per device (current of every device, independent noise on
        every device at every read): the slow reference, equal in distribution."""
        return self._vmm(voltages, reference=True)

    def _vmm(self, voltages: ArrayLike, reference: bool) -> NDArray[np.float64]:
        x = self.xbars
        v = np.asarray(voltages, dtype=np.float64)
        if v.ndim == 0 or v.shape[-1] != x.rows or v.ndim > 3:
            raise XbarsimInputError(
                f"voltages: last axis must have length rows={x.rows}, got shape {v.shape}"
            )
        if v.ndim == 3 and v.shape[0] != x.batch:
            raise XbarsimInputError(
                f"voltages: a 3-d input must have batch={x.batch} first, got {v.shape}"
            )
        vv = v[None, :] if v.ndim == 1 else v
        models = x.device.conditions
        g = self.conductance
        if self.nonlinear:
            models.nonlinearity.check(g, vv, self.strict)
            if reference:
                currents = models.nonlinearity.current(g[:, None], vv[..., None]).sum(axis=-2)
            else:
                currents = models.nonlinearity.column_currents(vv, g)
        elif reference:
            currents = (np.broadcast_to(vv, (x.batch, *vv.shape[-2:]))[..., None] * g[:, None]).sum(
                axis=-2
            )
        else:
            currents = np.matmul(vv, g)
        if self.noise and models.read_noise.sigma_rel > 0.0:
            sigma = self.noise_sigma()
            key = self._next_key()
            draw = sample_device_noise if reference else output_noise
            for b in range(x.batch):
                vb = vv[b] if vv.ndim == 3 else vv
                rng = x.device_state.noise_rng(b, key)
                currents[b] += draw(vb, sigma[b : b + 1], rng)[0]
        return currents[:, 0] if v.ndim == 1 else currents

    def _next_key(self) -> tuple[int, int]:
        self._reads += 1
        return self.seed, self._reads


def _finite(name: str, value: object) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise XbarsimInputError(f"{name}: must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise XbarsimInputError(f"{name}: must be finite, got {value!r}")
    return out

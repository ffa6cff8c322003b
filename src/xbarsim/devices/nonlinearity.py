"""Static I-V nonlinearity of programmed devices (layer 1; thesis section 2.3.2).

A device is exact at the input it was tuned at and deviates elsewhere. Three models, each
declaring the voltage (input) and conductance (state) range it was fitted on; evaluating
outside warns with :class:`~xbarsim.devices.validity.ExtrapolationWarning` or, with
``strict=True``, is refused.

``thesis-poly`` (memristor, Fig. 18a): absolute current error of one device, in uA::

    dy = x (x - x_tune) (p01 x + p03 x**3 + p10 w + p20 w**2 + p30 w**3)

with ``x = V / V_max`` (V_max = 0.1 V), ``x_tune = V_tune / V_max`` (V_tune = 60 mV) and
``w`` the conductance in uS. The device current is ``I = G V + dy * 1e-6`` (A). Negative
inputs use ``I(-V) = -I(V)`` (the paper: I(V) ~ I(-V) in magnitude at small V).

``sinh`` (physical law): ``I = G V s(b V) / s(b V_tune)``, ``s(u) = sinh(u) / u``, with the
steepness ``b`` log-interpolated in G between the paper's nonlinearity factors
(``0.5 I(V)/I(V/2) = cosh(b V / 2)`` = 1.3 at 10 uS and 1.1 at 100 uS, at 0.25 V).

``eflash-poly`` (Fig. 18b): normalized output error of a gate-coupled synapse
(see :mod:`xbarsim.devices.eflash`).

The memristor coefficients are **assumptions**: the thesis prints them in an inset only;
the defaults are a fit of the thesis form to the ``sinh`` law. Both column-current paths
here (per device, and as a few matrix products) are exact and agree to rounding.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xbarsim.devices.validity import check_finite, check_within

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
_UA = 1e-6  # A per uA
_US = 1e-6  # S per uS


class _NonlinearityBase(BaseModel, ABC):
    """Voltage scale and fitted ranges of a memristor nonlinearity model.

    Attributes
    ----------
    v_max_v : float
        Largest inference input (V); ``x = V / v_max_v``.
    v_tune_v : float
        Read voltage the devices were tuned at (V); the model is exact there.
    fit_v : (float, float)
        Input magnitudes the model was fitted on (V).
    fit_g_s : (float, float)
        Conductances the model was fitted on (S).
    """

    model_config = _STRICT

    v_max_v: float = Field(0.1, gt=0.0, le=10.0)
    v_tune_v: float = Field(0.06, gt=0.0, le=10.0)
    fit_v: tuple[float, float] = (0.0, 0.1)
    fit_g_s: tuple[float, float] = (10e-6, 100e-6)

    @model_validator(mode="after")
    def _check_ranges(self) -> _NonlinearityBase:
        if not 0.0 <= self.fit_v[0] < self.fit_v[1]:
            raise ValueError(f"fit_v: need 0 <= low < high (V), got {self.fit_v}")
        if not 0.0 < self.fit_g_s[0] < self.fit_g_s[1]:
            raise ValueError(f"fit_g_s: need 0 < low < high (S), got {self.fit_g_s}")
        return self

    @property
    def x_tune(self) -> float:
        """Normalized tuning input ``v_tune_v / v_max_v``."""
        return self.v_tune_v / self.v_max_v

    def check(self, g_s: ArrayLike, v: ArrayLike, strict: bool = False) -> None:
        """Warn (refuse with ``strict``) when inputs or states leave the fitted ranges."""
        check_finite("voltages", v)
        name = f"nonlinearity model {getattr(self, 'kind', '')!r}"
        magnitude = np.abs(np.asarray(v, dtype=np.float64))
        check_within("|voltage|", magnitude, *self.fit_v, strict, " V", name)
        check_within("conductance", g_s, *self.fit_g_s, strict, " S", name)

    @abstractmethod
    def current(self, g_s: ArrayLike, v: ArrayLike, strict: bool = False) -> NDArray[np.float64]:
        """Current (A) of devices of conductance ``g_s`` (S) at voltage ``v`` (V), broadcast."""

    @abstractmethod
    def input_basis(self, v: Any, v_bound: float, upto: int | None = None) -> list[Any]:
        """Input factors ``f_j(V)`` with ``I(G, V) = sum_j f_j(V) s_j(G)`` (A per state unit).

        Uses only arithmetic and ``abs``, so ``v`` may be a numpy array or a torch tensor.
        ``v_bound`` (V) bounds ``|v|`` and fixes the number of terms; ``upto`` computes only
        the first ``upto`` of them.
        """

    @abstractmethod
    def state_basis(self, g_s: ArrayLike, v_bound: float) -> list[NDArray[np.float64]]:
        """State factors ``s_j(G)`` matching :meth:`input_basis` (numpy)."""

    def signed_square_term(self) -> int | None:
        """Index ``j`` of the input factor ``f_j(V) = V |V|`` (V^2), or None.

        For nonnegative inputs that factor equals ``V**2``, the input of the read-noise
        variance product, so the two products can share one matrix product.
        """
        return None

    def column_currents(
        self, v: NDArray[np.float64], g_s: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Column currents (A) ``sum_r I(G[r, c], V[r])`` as a few matrix products.

        Parameters
        ----------
        v : ndarray, shape (n, rows) or (batch, n, rows)
            Row voltages (V).
        g_s : ndarray, shape (batch, rows, cols)
            Conductances (S).

        Returns
        -------
        ndarray, shape (batch, n, cols)
        """
        bound = float(np.max(np.abs(v), initial=0.0))
        inputs = self.input_basis(v, bound)
        states = self.state_basis(g_s, bound)
        out = np.matmul(inputs[0], states[0])
        for f, state in zip(inputs[1:], states[1:], strict=True):
            out = out + np.matmul(f, state)
        return out

    def relative_error(self, g_s: ArrayLike, v: ArrayLike) -> NDArray[np.float64]:
        """``(I - G V) / (G V)`` (fraction) at voltage ``v`` (V), nonzero ``v``."""
        g = np.asarray(g_s, dtype=np.float64)
        vv = np.asarray(v, dtype=np.float64)
        return self.current(g, vv) / (g * vv) - 1.0


class PolynomialNonlinearity(_NonlinearityBase):
    """The thesis's memristor nonlinearity polynomial (Fig. 18a); ``dy`` in uA, ``w`` in uS.

    Attributes
    ----------
    p01, p03 : float
        Input terms (uA).
    p10, p20, p30 : float
        State terms (uA/uS, uA/uS^2, uA/uS^3).

    Defaults: fit of this form to the ``sinh`` law on G in [10, 100] uS, x in [0, 1]
    (our reading of the thesis) -- an **assumption**, not the thesis's inset values.
    """

    kind: Literal["thesis-poly"] = "thesis-poly"
    p01: float = 7.07103e-2
    p03: float = 5.21061e-2
    p10: float = 1.72402e-3
    p20: float = 2.62820e-5
    p30: float = -2.35917e-7

    def state_term(self, g_s: ArrayLike) -> NDArray[np.float64]:
        """``p10 w + p20 w^2 + p30 w^3`` (uA) with ``w`` in uS."""
        w = np.asarray(g_s, dtype=np.float64) / _US
        return w * (self.p10 + w * (self.p20 + w * self.p30))

    def input_terms(self, v: Any) -> tuple[Any, Any]:
        """Odd-extended input factors ``(a, b)`` so that ``dy = a + b * state_term`` (uA).

        ``a = x (|x| - x_tune)(p01 |x| + p03 |x|^3)``, ``b = x (|x| - x_tune)``; arithmetic
        and ``abs`` only (numpy arrays or torch tensors).
        """
        x = v / self.v_max_v
        u = abs(x)
        b = x * (u - self.x_tune)
        return b * (self.p01 * u + self.p03 * u * u * u), b

    def input_basis(self, v: Any, v_bound: float = 0.0, upto: int | None = None) -> list[Any]:
        # I = V (G - k1 h(G)) + V|V| k2 h(G) + a(V) uA, since x (|x| - x_tune) h(G) uA
        # = (V|V| / V_max^2 - x_tune V / V_max) h(G) uA; V|V| with one temporary
        vv = abs(v)
        vv *= v
        if upto is not None and upto <= 2:
            return [v, vv][:upto]
        a, _ = self.input_terms(v)
        return [v, vv, a * _UA]

    def state_basis(self, g_s: ArrayLike, v_bound: float = 0.0) -> list[NDArray[np.float64]]:
        g = np.asarray(g_s, dtype=np.float64)
        h = self.state_term(g)
        k1 = _UA * self.x_tune / self.v_max_v
        k2 = _UA / self.v_max_v**2
        return [g - k1 * h, k2 * h, np.ones_like(g)]

    def signed_square_term(self) -> int | None:
        return 1

    def error_a(self, g_s: ArrayLike, v: ArrayLike) -> NDArray[np.float64]:
        """Absolute current error ``dy`` (A) of the model."""
        a, b = self.input_terms(np.asarray(v, dtype=np.float64))
        return (a + b * self.state_term(g_s)) * _UA

    def current(self, g_s: ArrayLike, v: ArrayLike, strict: bool = False) -> NDArray[np.float64]:
        self.check(g_s, v, strict)
        g = np.asarray(g_s, dtype=np.float64)
        vv = np.asarray(v, dtype=np.float64)
        return g * vv + self.error_a(g, vv)


class SinhNonlinearity(_NonlinearityBase):
    """Physical law ``I = G V s(bV) / s(b V_tune)``, ``s(u) = sinh(u)/u`` (odd in V).

    Attributes
    ----------
    b_low_per_v, b_high_per_v : float
        Steepness b (1/V) at ``g_low_s`` and ``g_high_s``; log-interpolated in between
        (and held constant outside). Defaults from the paper's nonlinearity factors
        ``cosh(b * 0.125 V)`` = 1.3 (off, 10 uS) and 1.1 (on, 100 uS).
    g_low_s, g_high_s : float
        Anchor conductances (S).
    """

    kind: Literal["sinh"] = "sinh"
    b_low_per_v: float = Field(math.acosh(1.3) / 0.125, gt=0.0, le=1e3)
    b_high_per_v: float = Field(math.acosh(1.1) / 0.125, gt=0.0, le=1e3)
    g_low_s: float = Field(10e-6, gt=0.0, lt=1.0)
    g_high_s: float = Field(100e-6, gt=0.0, lt=1.0)
    fit_v: tuple[float, float] = (0.0, 0.25)

    def steepness(self, g_s: ArrayLike) -> NDArray[np.float64]:
        """b(G) (1/V), log-interpolated between the anchors."""
        lg = np.log(np.asarray(g_s, dtype=np.float64))
        xs = [math.log(self.g_low_s), math.log(self.g_high_s)]
        ys = [math.log(self.b_low_per_v), math.log(self.b_high_per_v)]
        return np.exp(np.interp(lg, xs, ys))

    @staticmethod
    def _s(u: NDArray[np.float64]) -> NDArray[np.float64]:
        safe = np.where(u == 0.0, 1.0, u)
        return np.where(u == 0.0, 1.0, np.sinh(safe) / safe)

    def current(self, g_s: ArrayLike, v: ArrayLike, strict: bool = False) -> NDArray[np.float64]:
        self.check(g_s, v, strict)
        g = np.asarray(g_s, dtype=np.float64)
        vv = np.asarray(v, dtype=np.float64)
        b = self.steepness(g)
        return g * vv * self._s(b * vv) / self._s(b * self.v_tune_v)

    def n_terms(self, v_bound: float) -> int:
        """Series terms for double precision up to ``|V| <= v_bound`` (V)."""
        u = v_bound * max(self.b_low_per_v, self.b_high_per_v)
        k, bound = 0, 1.0
        while k < 60:
            k += 1
            bound *= u * u / ((2 * k) * (2 * k + 1))
            if bound < 1e-17:
                break
        return k

    def input_basis(self, v: Any, v_bound: float, upto: int | None = None) -> list[Any]:
        # I = sum_k V^(2k+1) G b^2k / ((2k+1)! s(b V_tune))
        out = [v]
        v2 = v * v
        n = self.n_terms(v_bound) if upto is None else min(upto, self.n_terms(v_bound))
        for _ in range(1, n):
            out.append(out[-1] * v2)
        return out

    def state_basis(self, g_s: ArrayLike, v_bound: float) -> list[NDArray[np.float64]]:
        g = np.asarray(g_s, dtype=np.float64)
        b = self.steepness(g)
        out = [g / self._s(b * self.v_tune_v)]
        for k in range(1, self.n_terms(v_bound)):
            out.append(out[-1] * b * b / ((2 * k) * (2 * k + 1)))
        return out


class EflashNonlinearity(BaseModel):
    """eFlash gate-coupled synapse nonlinearity (thesis Fig. 18b), normalized units.

    ``dy = x (x - x_tune)(p01 x + p03 x^3 + p10 w + p20 w^2 + p30 w^3 + p11 x w + p22 x^2 w^2)``
    with ``x = I_in / I_max``, ``w = I_state / I_max`` and ``dy`` in units of ``I_max``.
    The thesis's coefficients are inset-only; the defaults are zero (feature off until a
    user supplies coefficients, e.g. from ``xbarsim fit-device``) -- an **assumption**.
    """

    model_config = _STRICT

    kind: Literal["eflash-poly"] = "eflash-poly"
    x_tune: float = Field(0.7, gt=0.0, le=1.0)
    p01: float = 0.0
    p03: float = 0.0
    p10: float = 0.0
    p20: float = 0.0
    p30: float = 0.0
    p11: float = 0.0
    p22: float = 0.0
    fit_x: tuple[float, float] = (0.0, 1.0)
    fit_w: tuple[float, float] = (0.0, 1.0)

    def error(self, w: ArrayLike, x: ArrayLike, strict: bool = False) -> NDArray[np.float64]:
        """Normalized output error ``dy`` of synapses of weight ``w`` at input ``x``."""
        check_within("x", x, *self.fit_x, strict, "", "eFlash nonlinearity")
        check_within("w", w, *self.fit_w, strict, "", "eFlash nonlinearity")
        xx = np.asarray(x, dtype=np.float64)
        ww = np.asarray(w, dtype=np.float64)
        bracket = (
            self.p01 * xx
            + self.p03 * xx**3
            + self.p10 * ww
            + self.p20 * ww**2
            + self.p30 * ww**3
            + self.p11 * xx * ww
            + self.p22 * xx**2 * ww**2
        )
        return xx * (xx - self.x_tune) * bracket


Nonlinearity = Annotated[PolynomialNonlinearity | SinhNonlinearity, Field(discriminator="kind")]

"""Verdicts of the reproduce report: published numbers against ours (layer 7).

A quantity's verdict follows explicit rules (:data:`RULES`, printed on the page): a number
within a tolerance made of the printed precision and our uncertainty, a bound not
exceeded, a statement that holds in every instance, a value that only reads back what a
preset or formula was set from (*by construction*), a number smaller than one test image
can resolve (*below resolution*), or a gap with its size. Our uncertainty is the standard
error of our statistic over instances (plus the published spread where the source prints
one) -- never the population spread, which grows with the very variation a reproduction
must match. An experiment's badge is its worst quantity (:func:`worst`); verdicts of a
``--quick`` run are labelled as such (:func:`label`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Relative tolerance of a published value: printed as approximate ("~", "<", "about"),
#: printed plainly.
APPROX_BAND = 0.10
EXACT_BAND = 0.05
#: Standard uncertainties added to the tolerance (about 95 % for a normal mean).
COVERAGE = 2.0

WITHIN = "within published spread"
TREND = "trend reproduced"
GAP = "gap"
BY_CONSTRUCTION = "by construction"
BELOW_RESOLUTION = "below resolution"
SHOWN_BESIDE = "shown beside"
NOT_RUN = "not run in this store"
NOT_REPRODUCIBLE = "not reproducible from the text"
NOT_YET_BUILT = "not yet built"
#: Suffix of the verdicts of a ``--quick`` run.
QUICK_SUFFIX = " (quick mode)"

#: The verdict rules, as stated on the page.
RULES = (
    f"uncertainty u: the standard error of our statistic over its n instances (sample std / "
    f"sqrt(n) for a mean; the distribution-free 95 % interval of the median / {2 * 1.96:g} "
    "for a median), combined in quadrature with the published spread where the source "
    "prints one (none of the compared numbers has one printed); 0 for a deterministic "
    "number and for a single instance (n = 1, shown), which has no standard error.",
    f"{WITHIN}: a number: |ours - published| <= band x |published| + {COVERAGE:g} u, band "
    f"{APPROX_BAND:.0%} where the text prints the value as approximate ('~', '<', "
    f"'about'), {EXACT_BAND:.0%} otherwise (a fraction near 1 takes the band of its "
    f"complement, 1 - published); a bound ('< x'): |ours| + {COVERAGE:g} u <= x (a "
    "negative drop larger than the bound is noise the bound cannot resolve).",
    f"{BELOW_RESOLUTION}: the published number (or bound) is smaller than the accuracy one "
    f"test image is worth, and ours lies within one image + {COVERAGE:g} u of it (of zero, "
    "for a bound): the test set cannot tell them apart; never counts as within published "
    "spread.",
    f"{TREND}: a qualitative statement (e.g. 'linear in N') holds in every instance "
    "(the fitted log-log slope lies in the stated band).",
    f"{GAP}: otherwise; its size is ours - published (absolute, and relative to "
    "published). An experiment's badge is its worst quantity: gap, below resolution, by "
    "construction, trend reproduced, within published spread.",
    f"{BY_CONSTRUCTION}: ours only reads back a value the preset or a closed-form formula "
    "was set from (e.g. a device preset sampled from the published threshold statistics, "
    "the Arrhenius factor of the published activation energy, a drift direction the model "
    "encodes); shown when it agrees (as a number by the tolerance above, as a statement in "
    "every instance), gap otherwise. It confirms the implementation, not the physics, and "
    "never counts as within published spread.",
    f"{SHOWN_BESIDE}: a number of ours printed next to the compared one for context "
    "(e.g. the import-error curve beside the programmed chip); no verdict.",
    f"{NOT_REPRODUCIBLE}: the source gives no number a simulation can be set against (the "
    "reason is stated); where ours can still be computed it is shown alone.",
    f"{NOT_YET_BUILT}: the experiment has no reproduce entry yet (the reason is stated).",
    f"'{QUICK_SUFFIX.strip()}': a verdict of a --quick run (fewer instances, fewer epochs, "
    "smaller test sets); only a --full run's verdicts stand for the reproduction.",
)


@dataclass(frozen=True)
class Statistic:
    """Our number over instances and its standard uncertainty.

    Attributes
    ----------
    value : float
        The compared statistic (mean or median over instances).
    uncertainty : float
        Its standard uncertainty (same unit), before the published spread is added.
    n : int
        Instances.
    """

    value: float
    uncertainty: float
    n: int


def standard_error(std: float, n: int) -> float:
    """Standard error of a mean from the population std (ddof 0) of ``n`` instances; 0 for
    one instance or a deterministic number."""
    if n < 2:
        return 0.0
    return float(std) * math.sqrt(n / (n - 1)) / math.sqrt(n)


def mean_statistic(values: Sequence[float]) -> Statistic:
    """Mean of ``values`` with its standard error."""
    v = np.asarray(values, dtype=float)
    return Statistic(float(v.mean()), standard_error(float(v.std()), v.size), int(v.size))


def median_statistic(values: Sequence[float]) -> Statistic:
    """Median of ``values`` with a distribution-free standard uncertainty: the half-width of
    the order-statistic interval that covers the median with >= 95 % (binomial ranks),
    divided by 1.96; the whole range / 1.96 when n is too small for such an interval."""
    from scipy.stats import binom

    v = np.sort(np.asarray(values, dtype=float))
    n = v.size
    if n < 2:
        return Statistic(float(v.mean()), 0.0, int(n))
    k = int(binom.ppf(0.025, n, 0.5))  # 1-based rank of the interval's lower end
    lo, hi = max(k - 1, 0), min(n - k, n - 1)
    half = (v[hi] - v[lo]) / 2.0
    return Statistic(float(np.median(v)), float(half / 1.96), int(n))


def verdict(rule: str, published_value: Any, ours: float, u: float, approx: bool,
            resolution: float | None = None, complement: bool = False
            ) -> tuple[str, float | None]:
    """Verdict of one quantity and its gap (``ours - published``; None without a number).

    Parameters
    ----------
    rule : {"value", "bound", "trend", "readback", "readback-trend", "readback-floor", \
            "unpublished", "beside"}
        ``readback-floor``: a read-back of a lower bound ('> x'): ours - 2u >= x.
    published_value : float, str or None
        The compared value (the published number, or a derived reference).
    ours : float
        Our statistic (the quantity's unit); for a trend, the fraction of instances in which
        the statement holds.
    u : float
        Our standard uncertainty (:attr:`Statistic.uncertainty`, with the published spread
        in quadrature where the source prints one).
    approx : bool
        Whether the text prints the value as approximate.
    resolution : float, optional
        The accuracy one test image is worth (fraction), for accuracy quantities.
    complement : bool
        Take the relative band of ``1 - published`` (a fraction near 1).
    """
    if rule == "unpublished":
        return NOT_REPRODUCIBLE, None
    if rule == "beside":
        return SHOWN_BESIDE, None
    if rule in ("trend", "readback-trend"):
        agreed = TREND if rule == "trend" else BY_CONSTRUCTION
        return (agreed if ours == 1.0 else GAP), None
    p = float(published_value)
    gap = ours - p
    slack = COVERAGE * u
    # a bound is on a magnitude near zero: ours is resolved against zero, a value against p
    apart = abs(ours) if rule == "bound" else abs(gap)
    if resolution is not None and abs(p) < resolution and apart <= resolution + slack:
        return BELOW_RESOLUTION, gap
    agreed = BY_CONSTRUCTION if rule.startswith("readback") else WITHIN
    if rule == "readback-floor":
        return (agreed if ours - slack >= p else GAP), gap
    if rule == "bound":
        return (agreed if abs(ours) + slack <= p else GAP), gap
    return (agreed if abs(gap) <= tolerance(p, approx, complement) + slack else GAP), gap


def tolerance(published_value: float, approx: bool, complement: bool = False) -> float:
    """Half-width of the published band around a number (its unit): :data:`APPROX_BAND` or
    :data:`EXACT_BAND` of ``|published|`` (of ``|1 - published|`` for a ``complement``
    fraction), before our uncertainty is added."""
    p = float(published_value)
    return (APPROX_BAND if approx else EXACT_BAND) * (abs(1.0 - p) if complement else abs(p))


def label(verdict_text: str, mode: str) -> str:
    """The verdict as shown: suffixed with :data:`QUICK_SUFFIX` for a run's verdict in
    ``--quick`` mode (not for read-backs, which quick mode cannot change)."""
    computed = verdict_text not in (
        NOT_RUN, NOT_REPRODUCIBLE, NOT_YET_BUILT, SHOWN_BESIDE, BY_CONSTRUCTION
    )
    return verdict_text + QUICK_SUFFIX if mode == "quick" and computed else verdict_text


_ORDER = (GAP, BELOW_RESOLUTION, BY_CONSTRUCTION, TREND, WITHIN, SHOWN_BESIDE, NOT_REPRODUCIBLE)


def worst(verdicts: list[str]) -> str:
    """An experiment's badge: its worst quantity verdict (quick-mode labels ignored)."""
    plain = [v.removesuffix(QUICK_SUFFIX) for v in verdicts]
    for v in _ORDER:
        if v in plain:
            return v
    return plain[0] if plain else NOT_RUN

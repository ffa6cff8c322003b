"""Verdicts of the reproduce report: published numbers against ours (layer 7).

A quantity's verdict follows explicit rules (:data:`RULES`, printed on the page): a number
within a band, a bound not exceeded, a statement that holds in every instance, a value
that only reads back what a preset or formula was set from (*by construction*), or a gap
with its size. An experiment's badge is its worst quantity (:func:`worst`).
"""

from __future__ import annotations

from typing import Any

#: Relative half-width of a published value's band: "~" values, exact values.
APPROX_BAND = 0.25
EXACT_BAND = 0.10
#: Instances' standard deviations added to the band.
STD_WIDTH = 2.0

WITHIN = "within published spread"
TREND = "trend reproduced"
GAP = "gap"
BY_CONSTRUCTION = "by construction"
NOT_RUN = "not run in this store"
NOT_REPRODUCIBLE = "not reproducible from the text"
NOT_YET_BUILT = "not yet built"

#: The verdict rules, as stated on the page.
RULES = (
    f"{WITHIN}: a number: |ours_mean - published| <= max({STD_WIDTH:g} ours_std, band x "
    f"|published|), band {APPROX_BAND:.0%} where the text prints it as approximate ('~', "
    f"'<', 'about') and {EXACT_BAND:.0%} otherwise; a bound ('< x'): ours_mean <= x.",
    f"{TREND}: a qualitative statement (e.g. 'linear in N') holds in every instance "
    "(the fitted log-log slope lies in the stated band).",
    f"{GAP}: otherwise; its size is ours_mean - published (absolute, and relative to "
    "published). An experiment's badge is its worst quantity: gap, then by construction, "
    "then trend reproduced, then within published spread.",
    f"{BY_CONSTRUCTION}: ours only reads back a value the preset or a closed-form formula "
    "was set from (e.g. placeholder coefficients solved from the published crossover, the "
    "Arrhenius factor of the published activation energy, a drift direction the model "
    "encodes); shown when it agrees (as a number by the band above, as a statement in "
    "every instance), gap otherwise. It confirms the implementation, not the physics, and "
    "never counts as within published spread.",
    f"{NOT_REPRODUCIBLE}: the source gives no number a simulation can be set against (the "
    "reason is stated); where ours can still be computed it is shown alone.",
    f"{NOT_YET_BUILT}: the experiment has no reproduce entry yet (the reason is stated).",
)


def verdict(rule: str, published_value: Any, mean: float, std: float, approx: bool
            ) -> tuple[str, float | None]:
    """Verdict of one quantity and its gap (``ours_mean - published``; None for a trend).

    Parameters
    ----------
    rule : {"value", "bound", "trend", "readback", "readback-trend", "unpublished"}
    published_value : float, str or None
        The compared value (the published number, or a derived reference).
    mean, std : float
        Ours over instances (the quantity's unit).
    approx : bool
        Whether the text prints the value as approximate.
    """
    if rule == "unpublished":
        return NOT_REPRODUCIBLE, None
    if rule in ("trend", "readback-trend"):
        agreed = TREND if rule == "trend" else BY_CONSTRUCTION
        return (agreed if mean == 1.0 else GAP), None
    p = float(published_value)
    gap = mean - p
    if rule == "bound":
        return (WITHIN if mean <= p else GAP), gap
    band = max(STD_WIDTH * std, (APPROX_BAND if approx else EXACT_BAND) * abs(p))
    agreed = BY_CONSTRUCTION if rule == "readback" else WITHIN
    return (agreed if abs(gap) <= band else GAP), gap


_ORDER = (GAP, BY_CONSTRUCTION, TREND, WITHIN, NOT_REPRODUCIBLE)


def worst(verdicts: list[str]) -> str:
    """An experiment's badge: its worst quantity verdict."""
    for v in _ORDER:
        if v in verdicts:
            return v
    return verdicts[0] if verdicts else NOT_RUN

"""The verdict rules of the reproduce report, one test per rule.

Each test builds a case by hand that the previous rules (a band of max(2 population std,
25 % / 10 % of the published value), bounds on the mean alone, a trend on 'drop < 1 %',
read-backs of the device preset judged as reproductions) passed, and checks that the
current rule refuses it -- the flattering verdicts of the report this replaces.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xbarsim.report import verdicts as vd
from xbarsim.reproduce import runner as rp


def old_verdict(rule: str, pub: float, mean: float, std: float, approx: bool) -> str:
    """The replaced rule: band max(2 std, 25 % or 10 % of |published|); bound: mean <= x."""
    if rule == "bound":
        return vd.WITHIN if mean <= pub else vd.GAP
    band = max(2.0 * std, (0.25 if approx else 0.10) * abs(pub))
    return vd.WITHIN if abs(mean - pub) <= band else vd.GAP


def test_uncertainty_is_the_standard_error_not_twice_the_population_std() -> None:
    """An all-or-nothing population (thesis Fig. 28 VMM p99 at sigma 0.25): 20 instances, a
    quarter at 45 %, the rest at 10 %; published 7 %. Twice the population std (30 %)
    swallowed the 11-point gap; the standard error of the mean (3.4 %) does not."""
    values = [0.45] * 5 + [0.10] * 15
    mean, std = float(np.mean(values)), float(np.std(values))
    assert old_verdict("value", 0.07, mean, std, True) == vd.WITHIN
    stat = vd.mean_statistic(values)
    assert stat.uncertainty == pytest.approx(np.std(values, ddof=1) / np.sqrt(20))
    assert vd.verdict("value", 0.07, stat.value, stat.uncertainty, True)[0] == vd.GAP


def test_median_of_a_split_population_is_compared() -> None:
    """Tuning p99 at sigma 0.25: 5 of 20 instances at 50 %, 15 at 2.5 %; the mean (14.4 %)
    equals the published plateau by the mixture's proportions. The thesis's curve is one
    typical run: the median instance (2.5 %) is compared and misses it."""
    values = [0.50] * 5 + [0.025] * 15
    mean = float(np.mean(values))
    assert mean == pytest.approx(0.14375)
    assert old_verdict("value", 0.144, mean, float(np.std(values)), True) == vd.WITHIN
    med = vd.median_statistic(values)
    assert med.value == pytest.approx(0.025)
    assert vd.verdict("value", 0.144, med.value, med.uncertainty, True)[0] == vd.GAP


@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=40))
def test_median_uncertainty_is_bounded_by_the_range(values: list[float]) -> None:
    med = vd.median_statistic(values)
    assert 0.0 <= med.uncertainty <= (max(values) - min(values)) / 1.96 + 1e-12
    assert min(values) <= med.value <= max(values)


def test_a_number_below_one_test_image_is_below_resolution() -> None:
    """Drop with the extra column (published 0.3 %) on a 200-image test set, ours 0.5 %:
    one image is 0.5 %, so the test set cannot tell 0.3 % from 0.5 %."""
    assert old_verdict("value", 0.003, 0.005, 0.01, True) == vd.WITHIN
    assert vd.verdict("value", 0.003, 0.005, 0.002, True, resolution=0.005)[0] == (
        vd.BELOW_RESOLUTION)
    # a number far above the published one stays a gap, whatever the resolution
    assert vd.verdict("value", 0.003, 0.2, 0.002, True, resolution=0.005)[0] == vd.GAP
    # with a finer test set the same numbers are judged as numbers
    assert vd.verdict("value", 0.003, 0.005, 0.0, True, resolution=0.001)[0] == vd.GAP


def test_a_bound_below_one_image_is_below_resolution() -> None:
    """ResNet-18 drop with balancing, printed '< 0.4 %', on 200 test images (one image
    0.5 %): ours -0.3 % is one image from the bound, below resolution; ours -1 % (two images
    of noise) is a gap. The old bound passed any negative drop."""
    assert old_verdict("bound", 0.004, -0.003, 0.0, True) == vd.WITHIN
    assert vd.verdict("bound", 0.004, -0.003, 0.0, True, resolution=0.005)[0] == (
        vd.BELOW_RESOLUTION)
    assert old_verdict("bound", 0.004, -0.01, 0.0, True) == vd.WITHIN
    assert vd.verdict("bound", 0.004, -0.01, 0.0, True, resolution=0.005)[0] == vd.GAP


def test_a_bound_holds_on_the_magnitude_with_its_uncertainty() -> None:
    """'Sub-percent with few references': a -2 % worst drop is noise twice the bound, not a
    drop below 1 %; and a 0.9 % mean with a 0.2 % standard error does not clear 1 %."""
    assert old_verdict("bound", 0.01, -0.02, 0.0, False) == vd.WITHIN
    assert vd.verdict("bound", 0.01, -0.02, 0.0, False, resolution=0.001)[0] == vd.GAP
    assert old_verdict("bound", 0.01, 0.009, 0.0, False) == vd.WITHIN
    assert vd.verdict("bound", 0.01, 0.009, 0.002, False)[0] == vd.GAP
    assert vd.verdict("bound", 0.01, 0.004, 0.002, False)[0] == vd.WITHIN


def test_a_fraction_near_one_takes_the_band_of_its_complement() -> None:
    """Devices within 5 % (published ~98 %), ours 95.4 %: the 25 % band of 0.98 passed it;
    relative to the 2 % outside, 4.6 % outside is more than twice the published."""
    assert old_verdict("value", 0.98, 0.954, 0.0107, True) == vd.WITHIN
    u = vd.standard_error(0.0107, 10)
    assert vd.verdict("value", 0.98, 0.954, u, True, complement=True)[0] == vd.GAP


def test_the_published_band_is_the_printing_tolerance() -> None:
    """Mean tuning error, printed '3.76 %' with '~': ours 4.36 +- 0.08 % (n = 10) differs by
    16 %; the old 25 % band called it within."""
    assert old_verdict("value", 0.0376, 0.0436, 0.0024, True) == vd.WITHIN
    u = vd.standard_error(0.0024, 10)
    assert vd.verdict("value", 0.0376, 0.0436, u, True)[0] == vd.GAP


def test_a_preset_read_back_is_by_construction() -> None:
    """The paper's threshold statistics, extracted from the preset sampled from them, agree
    by construction: the old rule reported them as a reproduction."""
    assert old_verdict("value", 1.19, 1.205, 0.0035, False) == vd.WITHIN
    p2 = rp.select(["P2"])[0]
    assert {q.rule for q in p2.quantities} == {"readback"}
    assert vd.verdict("readback", 1.19, 1.205, 0.001, False)[0] == vd.BY_CONSTRUCTION


def test_quick_mode_verdicts_are_labelled() -> None:
    assert vd.label(vd.WITHIN, "quick") == "within published spread (quick mode)"
    assert vd.label(vd.WITHIN, "full") == vd.WITHIN
    assert vd.label(vd.NOT_REPRODUCIBLE, "quick") == vd.NOT_REPRODUCIBLE
    assert vd.label(vd.BY_CONSTRUCTION, "quick") == vd.BY_CONSTRUCTION
    assert vd.worst([vd.label(vd.GAP, "quick"), vd.WITHIN]) == vd.GAP


def test_the_compared_p4_quantity_is_the_programmed_gap() -> None:
    """The paper's 1.87 % is a measured chip against software; the import-error curve (~0)
    is shown beside, never compared."""
    p4 = rp.select(["P4"])[0]
    rules = {q.row_key: q.rule for q in p4.quantities}
    assert rules == {"programmed_gap": "value", "import_gap_at_1pct": "beside"}
    assert vd.verdict("beside", None, 0.0, 0.0, False) == (vd.SHOWN_BESIDE, None)


def test_mlp_energy_reads_as_gop_per_joule_from_the_printed_components() -> None:
    """The printed component powers (DACs 283 mW, layer-1 arrays 479 mW, local TIAs 180 mW,
    neurons, layer 2 5.85 mW, ADCs) sum to ~0.97 W: 101,780 Op per 66 ns is ~1586 GOp/J,
    the printed '~1582' in GOp/J, not TOp/J."""
    from xbarsim.reproduce.printed_budget import (
        component_sum_gop_per_j,
        printed_component_powers_w,
    )

    parts = printed_component_powers_w()
    assert parts["DACs"] == pytest.approx(0.2834, rel=1e-3)
    assert parts["layer-1 arrays"] == pytest.approx(0.4792, rel=1e-3)
    assert parts["local TIAs"] == pytest.approx(0.1797, rel=1e-3)
    assert parts["layer-2 arrays"] == pytest.approx(5.85e-3, rel=1e-3)
    assert 0.956 <= sum(parts.values()) <= 0.974
    assert vd.verdict("readback", 1582, component_sum_gop_per_j(), 0.0, True)[0] == (
        vd.BY_CONSTRUCTION)
    t51 = rp.select(["T51"])[0]
    assert "GOp/J" in t51.quantities[0].label

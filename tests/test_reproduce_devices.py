"""``xbarsim reproduce``: the chapter-2 device and mitigation ids (E8, E9, E10, E19, E24, E34)
and the *by construction* verdict of read-back quantities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xbarsim.report import verdicts as vd
from xbarsim.reproduce import jobs_devices as jd
from xbarsim.reproduce import runner as rp

READBACK = ("readback", "readback-trend", "readback-floor")
MINE = ("E8_17_temperature_model", "E9_16_single_device_tuning", "E10_15_retention_details",
        "E19_23_temperature_mitigation_details", "E24_25_defect_details",
        "E34_threshold_refresh")


def run(tmp_path: Path, only: list[str], settings: dict) -> dict[tuple[str, str], dict]:
    """Run ``only`` with ``settings`` into a store; the summary rows by (id, quantity)."""
    meta, rows, _ = rp.run_reproduce("quick", tmp_path / "store", only=only, seed=5,
                                     settings=settings)
    summary = rp.summarize(meta, rows)
    for r in summary:  # a read-back never counts as a reproduction
        if r["rule"] in READBACK:
            assert r["verdict"] in (vd.BY_CONSTRUCTION, vd.GAP), r
    figures = {r["id"] for r in rows if "figure" in r}
    assert {rp.select([x])[0].id for x in only} <= figures
    return {(r["id"], r["quantity"]): r for r in summary}


# -- verdict rules -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("rule", "pub", "mean", "std", "approx", "expected"),
    [
        ("readback", 5460.0, 5460.0, 0.0, False, vd.BY_CONSTRUCTION),
        ("readback", 14.0, 15.3, 0.0, True, vd.BY_CONSTRUCTION),
        ("readback", 14.0, 18.0, 0.0, True, vd.GAP),
        ("readback-trend", "symmetric", 1.0, 0.0, False, vd.BY_CONSTRUCTION),
        ("readback-trend", "symmetric", 2 / 3, 0.47, False, vd.GAP),
    ],
)
def test_readback_rules(rule, pub, mean, std, approx, expected) -> None:
    assert vd.verdict(rule, pub, mean, std, approx)[0] == expected


@given(pub=st.floats(-1e3, 1e3), mean=st.floats(-1e3, 1e3), std=st.floats(0, 1e2),
       approx=st.booleans())
def test_readback_is_value_agreement_relabelled(pub, mean, std, approx) -> None:
    value, gap = vd.verdict("value", pub, mean, std, approx)
    readback, gap_r = vd.verdict("readback", pub, mean, std, approx)
    assert readback != vd.WITHIN and gap_r == gap
    assert (readback == vd.BY_CONSTRUCTION) == (value == vd.WITHIN)


def test_by_construction_ranks_between_gap_and_trend() -> None:
    assert vd.worst([vd.WITHIN, vd.BY_CONSTRUCTION]) == vd.BY_CONSTRUCTION
    assert vd.worst([vd.TREND, vd.BY_CONSTRUCTION]) == vd.BY_CONSTRUCTION
    assert vd.worst([vd.BY_CONSTRUCTION, vd.GAP]) == vd.GAP
    assert any(rule.startswith(vd.BY_CONSTRUCTION) for rule in vd.RULES)


def test_quantities_of_the_device_ids() -> None:
    built = {e.id: e for e in rp.EXPERIMENTS}
    assert set(MINE) <= set(built) and not set(MINE) & set(rp.NOT_BUILT)
    ids = [e.id for e in rp.EXPERIMENTS]
    assert ids[ids.index("T10_11_retention") + 1: ids.index("T10_11_retention") + 7] == list(MINE)
    for e in rp.EXPERIMENTS:
        keys = [q.row_key for q in e.quantities]
        assert len(keys) == len(set(keys)), e.id
        for q in e.quantities:
            if q.rule in READBACK:
                assert q.note.startswith("by construction"), (e.id, q.key)
            if q.reference is not None:
                assert q.note, (e.id, q.key)
    e9 = built["E9_16_single_device_tuning"]
    assert {q.published(e9.id) for q in e9.quantities} == {100}  # via memristor.value
    assert {q.compared(e9.id) for q in e9.quantities if q.rule == "value"} == {1.0}
    assert e9.quantities[1].approx(e9.id) is False


@pytest.mark.parametrize("key", ["memristor_m1", "memristor_m2", "eflash_m1", "eflash_m2"])
def test_printed_fig23_rules_match_the_thesis_designs(key) -> None:
    from xbarsim.mapping.state_optimization import StateOptimization

    stack = "memristor" if key.startswith("memristor") else "eflash"
    thesis = StateOptimization.thesis(stack, "mapping1" if key.endswith("1") else "mapping2")
    for r in (0.0, 0.25, 0.5, 0.75, 1.0):
        assert rp._printed_rule(key, r) == pytest.approx(float(thesis.rule(r)), rel=1e-12)


# -- helpers of the jobs -----------------------------------------------------------------------

def test_tags() -> None:
    assert [jd.target_tag(t) for t in (1.7e-6, 50e-6, 10e-6)] == ["1p7us", "50us", "10us"]
    assert jd.rule_tag(0.25) == "r0p25"


def test_drift_direction_check_fails_when_a_direction_is_wrong() -> None:
    rng = np.random.default_rng(0)
    w0 = rng.uniform(0.1, 1.0, 20_000)
    mean = np.interp(w0, [0.1, 0.2, 0.8, 1.0], [0.01, 0.0, 0.0, -0.01])
    shift = mean + 0.01 * rng.standard_normal(w0.size)
    assert jd.drift_directions_hold(w0, shift)
    assert not jd.drift_directions_hold(w0, -shift)  # high up, low down
    assert not jd.drift_directions_hold(w0, np.abs(shift))  # mid-range one-sided


@pytest.mark.parametrize("seed", range(5))
def test_symmetry_check(seed: int) -> None:
    rng = np.random.default_rng(seed)
    assert jd.symmetric(rng.normal(0.0, 0.25, 60))
    assert not jd.symmetric(rng.exponential(0.25, 60) ** 2)


def test_traces_agree_with_the_engine() -> None:
    from xbarsim.crossbar.array import Crossbar
    from xbarsim.crossbar.bias import BiasScheme
    from xbarsim.devices.config import preset
    from xbarsim.programming import WriteVerify, program

    xbars = Crossbar.sample(preset(jd.DEVICE), (1, 1), batch=3, seed=2)
    algorithm = WriteVerify.thesis(scheme=BiasScheme.NONE)
    targets = [1.7e-6, 50e-6]
    traces = jd.tuning_traces(xbars.subset(), targets, algorithm)
    total = np.zeros(3, dtype=np.int64)
    for t in targets:
        total += program(xbars, np.full((1, 1), t), algorithm, engine="reference").pulses.ravel()
    assert [len(tr) - 1 for tr in traces] == total.tolist()
    assert [tr[-1] for tr in traces] == pytest.approx(xbars.conductance.ravel().tolist())


# -- the experiments on tiny settings ----------------------------------------------------------

def test_e8_e10_e34_tiny(tmp_path: Path) -> None:
    by = run(tmp_path, ["E8", "E10", "E34"],
             {"E10_15_retention_details": {"instances": 2},
              "E34_threshold_refresh": {"devices": 20, "instances": 2}})
    crossover = by["E8_17_temperature_model", "memristor_crossover_s"]
    assert crossover["ours_mean"] == pytest.approx(70e-6, rel=1e-4)  # rounded coefficients
    assert crossover["verdict"] == vd.BY_CONSTRUCTION and crossover["n"] == 1
    e10 = "E10_15_retention_details"
    assert by[e10, "arrhenius_acceleration_25c"]["ours_mean"] == pytest.approx(5460, rel=1e-3)
    assert by[e10, "projected_years_min"]["ours_mean"] == pytest.approx(15.6, abs=0.05)
    for key in ("most_devices_shift_below", "drift_direction"):
        assert by[e10, key]["n"] == 2 and by[e10, key]["ours_mean"] == 1.0
    assert {by[e10, k]["verdict"] for k in ("arrhenius_acceleration_25c", "projected_years_min",
                                              "most_devices_shift_below", "drift_direction")
            } == {vd.BY_CONSTRUCTION}
    e34 = "E34_threshold_refresh"
    assert by[e34, "relative_change_histogram"]["verdict"] == vd.BY_CONSTRUCTION
    after_set, after_reset = by[e34, "example_after_v.set"], by[e34, "example_after_v.reset"]
    assert 36 <= after_set["n"] <= 40  # one value per switchable device
    # zero-mean relative changes of width 0.25: the after-thresholds centre on the before
    assert after_set["ours_mean"] == pytest.approx(0.8, abs=0.1)
    assert after_reset["ours_mean"] == pytest.approx(-0.8, abs=0.1)
    assert 0.1 < after_set["ours_std"] < 0.3


def test_e9_tiny(tmp_path: Path) -> None:
    ex = "E9_16_single_device_tuning"
    by = run(tmp_path, ["E9"], {ex: {"devices": 4, "instances": 2, "engine": "reference"}})
    for tag in ("1p7us", "50us", "10us"):
        fraction = by[ex, f"fraction_within_target_in_pulses.{tag}"]
        assert fraction["n"] == 2 and fraction["published"] == 1.0
        eighths = fraction["ours_mean"] * 8  # mean of two instances of four devices
        assert eighths == pytest.approx(round(eighths))
        median = by[ex, f"pulses_median.{tag}"]
        assert median["rule"] == "bound" and median["published"] == 100
        # the thesis ramp restarts at 0.5 V in 10 mV steps: ~70 pulses to reach 1.2 V
        assert median["ours_mean"] > 50
        assert median["verdict"] == (vd.WITHIN if median["ours_mean"] <= 100 else vd.GAP)


def test_e24_tiny(tmp_path: Path) -> None:
    ex = "E24_25_defect_details"
    by = run(tmp_path, ["E24"], {ex: {"epochs": 1, "n_test": 100, "instances": 2}})
    for key in ("mapping1_more_sensitive_to", "mapping2_better_unmitigated"):
        assert by[ex, key]["n"] == 2 and by[ex, key]["ours_mean"] in (0.0, 0.5, 1.0)
        assert by[ex, key]["verdict"] == (vd.TREND if by[ex, key]["ours_mean"] == 1 else vd.GAP)
    random = by[ex, "unmitigated_at_20000_ppm"]
    assert random["published"] == pytest.approx(0.9) and "1 - 1/10" in random["reason"]
    assert random["n"] == 2 and -0.1 < random["ours_mean"] < 1.0


def test_e19_tiny(tmp_path: Path) -> None:
    ex = "E19_23_temperature_mitigation_details"
    by = run(tmp_path, ["E19"], {ex: {"epochs": 1, "n_test": 100, "temps_c": [25.0, 100.0],
                                      "instances": 1}})
    assert by[ex, "rm1_baseline_worst_case_temperature_c"]["ours_mean"] in (25.0, 100.0)
    sub = by[ex, "sub_percent_with_few_references"]
    assert sub["rule"] == "bound" and sub["published"] == 0.01 and -1.0 < sub["ours_mean"] < 1.0
    assert sub["resolution"] == pytest.approx(0.01)  # one image of 100
    assert sub["verdict"] in (vd.WITHIN, vd.GAP, vd.BELOW_RESOLUTION)
    assert by[ex, "rm1_baseline_worst_case_temperature_c"]["rule"] == "readback"
    for key in ("memristor_m1", "memristor_m2", "eflash_m1", "eflash_m2"):
        for r in ("r0p25", "r0p75"):
            row = by[ex, f"{key}.{r}"]
            assert row["n"] == 1 and row["ours_mean"] >= 0.0
            assert row["published"] == pytest.approx(rp._printed_rule(key, float(r[1:].replace(
                "p", "."))))


def test_page_badges_read_backs_by_construction(tmp_path: Path) -> None:
    from reproduce_fixtures import synthetic_store
    from xbarsim.reproduce import write_report

    summary = write_report(synthetic_store(tmp_path / "store"), tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text()
    readbacks = [r for r in summary if r["rule"] in READBACK]
    assert {r["id"] for r in readbacks} >= {"E8_17_temperature_model", "E10_15_retention_details",
                                            "E34_threshold_refresh"}
    off = [r for r in readbacks if r["id"] == "P2_thresholds" and r["quantity"] == "set_mean_v"]
    assert [r["verdict"] for r in off] == [vd.GAP]  # the fixture's one value far off
    assert {r["verdict"] for r in readbacks if r not in off} == {vd.BY_CONSTRUCTION}
    assert text.count('<span class="badge bycon">by construction</span>') >= len(readbacks) - 1
    assert f"<li>{vd.BY_CONSTRUCTION}: ours only reads back" in text

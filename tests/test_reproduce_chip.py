"""``xbarsim reproduce``: the chapter-4 experiments, the readback verdict, T28's figures and the
per-instance rows of T10, T21 and T24."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from xbarsim.chip import xblock
from xbarsim.chip.offset import OffsetComp
from xbarsim.experiments.offset_compensation import implied_offset_v
from xbarsim.experiments.xblock_decoder import check_table_iii, printed_buses, table_rows
from xbarsim.report import verdicts as vd
from xbarsim.reproduce import jobs as rj
from xbarsim.reproduce import jobs_chip as rjc
from xbarsim.reproduce import jobs_devices as rjd
from xbarsim.reproduce import runner as rp


def _run(tmp_path, ids: list[str], settings: dict[str, dict[str, Any]]
         ) -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]]]:
    meta, rows, _ = rp.run_reproduce("quick", tmp_path / "store", only=ids, settings=settings,
                                     seed=2)
    return {(r["id"], r["quantity"]): r for r in rp.summarize(meta, rows)}, rows


def _figures(rows: list[dict[str, Any]], ex: str) -> list[str]:
    return [r["figure"] for r in rows if r.get("id") == ex and "figure" in r]


# -- the readback rule ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("mean", "expected"), [(1.04, vd.BY_CONSTRUCTION), (1.2, vd.GAP), (0.96, vd.BY_CONSTRUCTION)]
)
def test_readback_is_never_badged_as_a_reproduction(mean: float, expected: str) -> None:
    verdict, gap = vd.verdict("readback", 1.0, mean, 0.0, False)
    assert verdict == expected and gap == pytest.approx(mean - 1.0)
    assert verdict != vd.WITHIN


def test_readback_ranks_below_within_and_above_not_reproducible() -> None:
    assert vd.worst([vd.BY_CONSTRUCTION, vd.WITHIN]) == vd.BY_CONSTRUCTION
    assert vd.worst([vd.BY_CONSTRUCTION, vd.NOT_REPRODUCIBLE]) == vd.BY_CONSTRUCTION
    assert vd.worst([vd.BY_CONSTRUCTION, vd.GAP]) == vd.GAP
    assert any(vd.BY_CONSTRUCTION in rule for rule in vd.RULES)


def test_readback_quantities_state_what_they_read_back() -> None:
    for e in rp.EXPERIMENTS:
        for q in e.quantities:
            if q.rule in ("readback", "unpublished"):
                assert q.note, (e.id, q.key)


# -- Table III ----------------------------------------------------------------------------------

def test_table_iii_transcription_resolves_merged_cells() -> None:
    rows = table_rows()
    assert list(rows) == ["forming", "set", "reset", "read", "inference",
                          "monitoring_input_generator", "monitoring_sensing_circuit"]
    assert rows["reset"]["enable"] == rows["set"]["enable"] == 1
    assert rows["monitoring_sensing_circuit"]["re"] == 1  # "as above"
    assert printed_buses(rows["reset"]) == {"sd_wl": 0.0, "sd_bl": 1.0, "ud_wl": 0.5,
                                            "ud_bl": 0.5}
    assert printed_buses(rows["read"]) == {"sd_wl": 1.0, "ud_wl": 0.0, "ud_bl": 0.0}


def test_table_iii_every_cell_matches_our_logic() -> None:
    check = check_table_iii(8)
    assert check["rows_matched_fraction"] == 1.0 and check["cells_matched_fraction"] == 1.0
    assert check["address_bits"] == 3 and check["register_round_trip"]
    assert all(r["checked"] > 0 for r in check["rows"].values())
    assert check_table_iii(64)["address_bits"] == 6


def test_table_iii_check_catches_a_wrong_decoder(monkeypatch) -> None:
    real = xblock.decode

    def ignores_re(word, address, lines):  # UD stays on in read-like words with Re set
        return real(word._replace(re=False), address, lines)

    monkeypatch.setattr("xbarsim.experiments.xblock_decoder.decode", ignores_re)
    check = check_table_iii(8)
    assert check["rows_matched_fraction"] < 1.0
    failing = [k for k, r in check["rows"].items() if r["matched"] < r["checked"]]
    assert "inference" in failing or "monitoring_input_generator" in failing


def test_table_iii_check_catches_wrong_bus_levels(monkeypatch) -> None:
    def full_unselect(mode, amplitude_v, floating_unselected=False):
        b = xblock.bus_voltages(mode, amplitude_v, floating_unselected)
        return b._replace(ud_wl=None if b.ud_wl is None else amplitude_v)

    monkeypatch.setattr("xbarsim.experiments.xblock_decoder.bus_voltages", full_unselect)
    rows = check_table_iii(4)["rows"]
    assert rows["set"]["matched"] < rows["set"]["checked"]
    assert rows["read"]["matched"] < rows["read"]["checked"]


# -- offset compensation ------------------------------------------------------------------------

def test_example_pair_offset_matches_the_closed_form() -> None:
    circuit = implied_offset_v(170e3, 41e3, 18.4e3)
    closed = OffsetComp().cancelled_offset_v(1 / 170e3, 1 / 41e3, 18.4e3)
    assert circuit == pytest.approx(0.0875, abs=2e-4)
    assert circuit == pytest.approx(float(closed), abs=1e-4)  # finite gain 2200: ~0.04 mV
    assert implied_offset_v(41e3, 170e3, 18.4e3) == pytest.approx(-circuit, abs=1e-12)


def test_example_pair_offset_refuses_bad_resistances() -> None:
    from xbarsim.errors import XbarsimInputError

    with pytest.raises(XbarsimInputError, match="r_c1_ohm"):
        implied_offset_v(0.0, 41e3)


# -- the MLP chip's area categories --------------------------------------------------------------

def test_area_categories_sum_over_layers() -> None:
    area = {"dacs": 2.0, "layer 1 arrays": 0.1, "layer 1 x-blocks": 1.0, "layer 1 tias": 3.0,
            "layer 2 arrays": 0.01, "layer 2 x-blocks": 0.5, "layer 2 tias": 0.2, "adcs": 0.05}
    cats = rjc.area_categories(area)
    assert cats == pytest.approx({"dacs": 2.0, "adcs": 0.05, "arrays": 0.11, "x-blocks": 1.5,
                                  "tias": 3.2})
    assert sum(cats.values()) == pytest.approx(sum(area.values()))


# -- end to end, tiny settings -------------------------------------------------------------------

def test_table3_and_vmm_trends_entries(tmp_path) -> None:
    by, rows = _run(tmp_path, ["F_table3_xblock_decoder", "F51_53_vmm_trends"],
                    {"F_table3_xblock_decoder": {"lines": 8}, "F51_53_vmm_trends": {}})
    table = by["F_table3_xblock_decoder", "boolean_form"]
    assert table["verdict"] == vd.TREND and table["n"] == 1 and "Table III" in table["reason"]
    bits = by["F_table3_xblock_decoder", "address_bits_for_64_lines"]
    assert bits["ours_mean"] == 3.0 and bits["verdict"] == vd.GAP  # 8 lines, not 64
    for key in ("mixed_signal_vs_analog", "settling_vs_size"):
        r = by["F51_53_vmm_trends", key]
        assert r["verdict"] == vd.TREND and r["n"] == 1
    assert _figures(rows, "F51_53_vmm_trends") == ["fig51_53_vmm_cost"]


def test_tia_and_converter_values_are_read_back(tmp_path) -> None:
    by, _ = _run(tmp_path, ["F48_50_tia_design", "F52_data_converters"], {})
    expected = {("F48_50_tia_design", "gain_value"): 2200.0,
                ("F48_50_tia_design", "current_budget_a"): 60e-6,
                ("F48_50_tia_design", "load_f"): 20e-15,
                ("F52_data_converters", "dac_lsb_v"): 0.28 / 31,
                ("F52_data_converters", "dac_energy_per_conversion_j"): 361e-6 / 62.5e6,
                ("F52_data_converters", "adc_energy_per_conversion_j"): 1.6e-3 / 500e6}
    for key, value in expected.items():
        r = by[key]
        assert r["ours_mean"] == pytest.approx(value, rel=1e-9), key
        assert r["verdict"] == vd.BY_CONSTRUCTION and r["n"] == 1 and r["reason"], key


def test_tia_gain_row_is_nan_when_the_gain_depends_on_n(monkeypatch) -> None:
    from xbarsim.periphery import TIA

    monkeypatch.setattr(TIA, "required_gain", classmethod(lambda cls, n, r_f: 100.0 * n))
    rows = rjc.tia_design_job({"sizes": [4, 8]}, 0)
    gain = [r["value"] for r in rows if r.get("quantity") == "gain_value"]
    assert len(gain) == 1 and np.isnan(gain[0])


def test_vmm_trends_fail_when_converters_are_free(monkeypatch) -> None:
    """With free, instant converters mixed-signal is no longer below analog: the trend row
    turns 0 (the check can fail)."""
    from xbarsim.chip.cost import CostParameters
    from xbarsim.experiments import vmm_cost

    free = CostParameters(dac_power_w=0.0, adc_power_w=0.0, dac_area_um2=0.0,
                          adc_area_um2=0.0, dac_rate_sps=1e30, adc_rate_sps=1e30)
    monkeypatch.setattr(vmm_cost, "CostParameters", lambda: free)
    rows = rjc.vmm_trends_job({"sizes": [4, 8, 16]}, 0)
    values = {r["quantity"]: r["value"] for r in rows if "value" in r}
    assert values == {"mixed_signal_vs_analog": 0.0, "settling_vs_size": 1.0}


def test_offset_details_entry(tmp_path) -> None:
    ex = "F59_61_offset_compensation_details"
    by, rows = _run(tmp_path, [ex], {ex: {"instances": 2, "tias": 4}})
    pair = by[ex, "implied_offset_for_example_pair_v"]
    assert pair["verdict"] == vd.BY_CONSTRUCTION and pair["n"] == 1
    assert pair["ours_mean"] == pytest.approx(0.0875, abs=2e-4)
    current = by[ex, "effective_offset_current"]
    assert current["verdict"] == vd.NOT_REPRODUCIBLE and current["n"] == 2
    assert 1e-8 < current["ours_mean"] < 1e-5  # A: tens of mV over 18.4 kOhm
    assert _figures(rows, ex) == ["fig60c_offset_currents"]


def _fake_mlp_run(power: dict[str, float], area: dict[str, float]) -> SimpleNamespace:
    summary = {"ops_per_s": 2e12, "ops_per_mm2": 15000.0, "ops_per_inference": 101780,
               "physical_devices": 107796, "area_mm2": 6.8, "power_breakdown_w": power,
               "area_breakdown_mm2": area}
    return SimpleNamespace(summary=summary)


@pytest.mark.parametrize(
    ("power", "area", "expected"),
    [({"dacs": 0.2, "layer 1 arrays": 0.9}, {"dacs": 2.0, "layer 1 x-blocks": 1.0,
                                             "layer 1 tias": 0.5}, (1.0, 1.0)),
     ({"dacs": 0.9, "layer 1 arrays": 0.2}, {"dacs": 2.0, "layer 1 x-blocks": 1.0,
                                             "layer 1 tias": 3.0}, (0.0, 0.0))],
)
def test_mlp_details_rows(monkeypatch, power, area, expected) -> None:
    """Random quantities in every instance, geometry-fixed ones in instance 0 only; the
    breakdown trends follow the largest components."""
    from xbarsim.experiments import mlp_chip

    monkeypatch.setattr(mlp_chip, "run_mlp_chip", lambda **kw: _fake_mlp_run(power, area))
    monkeypatch.setattr(mlp_chip, "write_figures", lambda run, out: [])
    settings = {"instances": 2, "epochs": 1, "engine": "cpu"}
    first = {r["quantity"]: r["value"] for r in rjc.mlp_details_job(settings, 0, 0)
             if "value" in r}
    second = {r["quantity"]: r["value"] for r in rjc.mlp_details_job(settings, 0, 1)
              if "value" in r}
    assert set(second) == {"throughput_op_per_s", "power_breakdown"}
    assert set(first) == {q.key for q in rp.select(["F54"])[0].quantities}
    assert (first["power_breakdown"], first["area_breakdown"]) == expected


@pytest.mark.slow
def test_mlp_details_entry(tmp_path) -> None:
    ex = "F54_56_mlp_chip_details"
    by, rows = _run(tmp_path, [ex], {ex: {"instances": 1, "epochs": 1}})
    assert by[ex, "ops_per_inference"]["ours_mean"] == 101780
    assert by[ex, "ops_per_inference"]["verdict"] == vd.BY_CONSTRUCTION
    assert by[ex, "physical_tile_devices"]["ours_mean"] == 26 * 4096 + 2 * 65 * 10
    area = by[ex, "implied_chip_area_mm2"]["ours_mean"]
    assert by[ex, "area_efficiency_op_per_mm2"]["ours_mean"] == pytest.approx(101780 / area)
    assert 1e11 < by[ex, "throughput_op_per_s"]["ours_mean"] < 1e14
    assert {by[ex, k]["ours_mean"] for k in ("power_breakdown", "area_breakdown")} <= {0.0, 1.0}
    assert all(by[ex, q.key]["n"] == 1 for q in rp.select([ex])[0].quantities)
    assert _figures(rows, ex) == ["fig56_breakdowns"]


# -- T28 figure, per-instance rows ---------------------------------------------------------------

def test_t28_instance_zero_carries_the_figs_28_29() -> None:
    settings = {"size": 8, "instances": 2, "inputs": 20, "engine": "cpu"}
    first = rj.t28_job(settings, 0, 0)
    figures = [r["figure"] for r in first if "figure" in r]
    assert any(f.startswith("error_distributions_N8") for f in figures)
    assert any(f.startswith("error_per_pass_N8") for f in figures)
    assert not [r for r in rj.t28_job(settings, 0, 1) if "figure" in r]


def test_t10_rows_are_per_instance_and_seeded_by_identity() -> None:
    plan = rp.select(["T10"])[0].plan({"instances": 3}, 5)
    assert [j.key for j in plan] == [f"T10_11_retention-{k}" for k in range(3)]
    rows = [r for j in plan for r in j.fn(*j.args) if "value" in r]
    assert [r["instance"] for r in rows] == [0, 1, 2]
    assert all(r["value"] in (0.0, 1.0) for r in rows)
    # instance 2 alone gives the same row as in the run of three
    alone = [r for r in rjd.t10_job({"instances": 1}, 5, 2) if "value" in r]
    assert alone == [rows[2]]
    figures = [r["figure"] for j in plan for r in j.fn(*j.args) if "figure" in r]
    assert figures == ["fig11_retention_shift_vs_state"]  # from instance 0 only


def test_t21_plan_is_one_job_per_instance() -> None:
    e = rp.select(["T21"])[0]
    for mode in ("quick", "full"):
        jobs = e.jobs(mode, 0)
        assert len(jobs) == e.settings[mode]["instances"] >= 2
        assert [j.args[2] for j in jobs] == list(range(len(jobs)))


def test_e7_plan_is_one_job_per_instance_in_full_mode() -> None:
    """The nonlinearity bound is judged over instances (a standard error needs n >= 2)."""
    e = rp.select(["E7"])[0]
    jobs = e.jobs("full", 0)
    assert len(jobs) == e.settings["full"]["instances"] >= 3
    assert [j.args[2] for j in jobs] == list(range(len(jobs)))


def test_t24_rows_are_per_instance(monkeypatch) -> None:
    """The job turns the study's per-instance drops into one value row per instance."""
    from xbarsim.experiments import defect_study

    result = SimpleNamespace(cases=[{"mitigation": "pair", "drops": [0.1, 0.2, 0.3]},
                                    {"mitigation": "pair+column", "drops": [0.0, 0.01, 0.02]}])
    monkeypatch.setattr(defect_study, "run_defect_study", lambda setup: result)
    monkeypatch.setattr(defect_study, "plot_defect_study", lambda result, out: [])
    rows = rj.t24_job({"epochs": 1, "n_test": 50, "instances": 3}, 0)
    values = [r for r in rows if "value" in r and r["quantity"] != "image_accuracy"]
    assert len(values) == 6 and {r["instance"] for r in values} == {0, 1, 2}
    images = [r["value"] for r in rows if r.get("quantity") == "image_accuracy"]
    assert images == [pytest.approx(1 / 50)]  # one image of the 50-image test set
    key = "at_20000_ppm_after_pair_retune.convnet"
    assert [r["value"] for r in values if r["quantity"] == key] == [0.1, 0.2, 0.3]


@pytest.mark.slow
def test_t21_and_t24_studies_give_per_instance_values(tmp_path) -> None:
    settings = {"T21_23_temperature": {"epochs": 1, "n_test": 100, "temps_c": [25.0, 100.0],
                                       "instances": 2},
                "T24_25_defects": {"epochs": 1, "n_test": 100, "instances": 2}}
    by, rows = _run(tmp_path, ["T21", "T24"], settings)
    for (ex, _), r in by.items():
        if ex in settings and r["quantity"] is not None:
            assert r["n"] == 2, r
    values = [r for r in rows if r.get("id") == "T24_25_defects" and "value" in r]
    assert len(values) == 4
    base = by["T21_23_temperature", "convnet_rm1_worst_drop.baseline"]
    assert base["verdict"] in (vd.BY_CONSTRUCTION, vd.GAP)
    assert np.isfinite(base["ours_mean"])


def test_vmm_cost_command_writes_the_figure(tmp_path, capsys) -> None:
    from xbarsim.cli import main

    out = tmp_path / "vc"
    assert main(["vmm-cost", "--sizes", "4,8", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fig51_53_vmm_cost.png", "results.json"]
    assert (out / "fig51_53_vmm_cost.png").stat().st_size > 5_000
    capsys.readouterr()
    assert main(["vmm-cost", "--kind", "x", "--out", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err.startswith("error: kind")
    assert not (tmp_path / "bad").exists()


def test_offset_instances_do_not_depend_on_the_count() -> None:
    one = rjc.offset_details_job({"instances": 1, "tias": 3}, 4)
    two = rjc.offset_details_job({"instances": 2, "tias": 3}, 4)
    values = [[(r["quantity"], r["instance"], r["value"]) for r in rows if "value" in r]
              for rows in (one, two)]
    assert values[0] == values[1][:2]
    assert len(values[1]) == 3 and values[1][1][2] != values[1][2][2]

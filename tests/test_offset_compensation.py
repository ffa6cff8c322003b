"""Layer 5/7: TIA offset compensation with memristor pairs (thesis 4.1.3, spec 2)."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.chip.offset import OffsetComp, draw_offsets
from xbarsim.cli import main
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.offset_compensation import run_offset_compensation, sensitivity
from xbarsim.periphery import TIA

IDEAL = TIA(r_f_ohm=18.4e3, open_loop_gain=1e12)


def test_published_pair_corresponds_to_87_5_mv():
    v = OffsetComp().cancelled_offset_v(1 / 170e3, 1 / 41e3, 18.4e3)
    assert v == pytest.approx(0.0875, abs=1e-4)


def test_spec_table_and_sign_rule():
    offsets = np.array([-0.1, -0.05, -0.01, 0.01, 0.05, 0.0875, 0.1])
    g1, g2 = OffsetComp().pair(offsets, IDEAL)
    np.testing.assert_allclose(g1 * 1e6, [28.12, 15.48, 7.70, 6, 6, 6, 6], atol=0.006)
    np.testing.assert_allclose(g2 * 1e6, [6, 6, 6, 7.70, 15.48, 24.58, 28.12], atol=0.006)
    current = OffsetComp().offset_current_a(offsets, g1, g2)
    np.testing.assert_allclose(
        current * 1e6, [-5.43, -2.72, -0.54, 0.54, 2.72, 4.76, 5.43], atol=0.006
    )


def test_printed_equation_gives_negative_conductance():
    assert OffsetComp().thesis_literal(0.05, IDEAL) == pytest.approx(-146e-6, rel=0.01)


@settings(max_examples=60, deadline=None)
@given(
    v_os=st.floats(-0.099, 0.099),
    r_f=st.floats(5e3, 60e3),
    gain=st.floats(100.0, 1e6),
    sum_g=st.floats(0.0, 200e-6),
)
def test_ideal_programming_zeroes_the_offset(v_os, r_f, gain, sum_g):
    comp = OffsetComp(sum_g_s=sum_g, g_max_s=0.5)
    tia = TIA(r_f_ohm=r_f, open_loop_gain=gain, offset_v=v_os)
    g1, g2 = comp.pair(v_os, tia)
    assert min(g1[0], g2[0]) == comp.g_min_s
    out = tia.output(comp.node_current_a(tia, g1[0], g2[0])).v_out
    assert abs(out - tia.v_cm_v) < 1e-12


def test_uncompensable_offset_names_the_tia():
    with pytest.raises(XbarsimInputError, match=r"tia 1: offset \+90.00 mV .*G_c2"):
        OffsetComp().pair([0.0, 0.09], TIA(r_f_ohm=1e3))
    with pytest.raises(XbarsimInputError, match=r"tia 0: .*delta_v"):
        OffsetComp().pair([-0.5], IDEAL)


def test_offsets_truncated_and_stable_per_tia():
    seq = np.random.SeedSequence(3)
    many = draw_offsets(500, 0.035, 0.1, seq)
    assert np.abs(many).max() <= 0.1 and 0.025 < many.std() < 0.04
    np.testing.assert_array_equal(
        draw_offsets(10, 0.035, 0.1, np.random.SeedSequence(3)), many[:10]
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_programmed_pairs_leave_residual_within_tuning_bound(seed):
    """Through the X-block with 1 % write-verify: every pair with working devices leaves at
    most R_f * 1 % * (G_c2 (dV - V_os) + G_c1 (dV + V_os)) of offset (spec 2.5)."""
    run = run_offset_compensation(tias=8, seed=seed)
    s = run.summary
    before = np.asarray(s["offset_before_v"])
    after = np.asarray(s["offset_after_v"])
    assert np.abs(before).max() <= 0.1
    g1, g2 = run.targets_s
    bound = 18.4e3 * 0.01 * (g2 * (0.4 - before) + g1 * (0.4 + before))
    working = (
        np.abs(np.asarray(s["programmed_ohm"]) / np.asarray(s["targets_ohm"]) - 1).max(1) < 0.0102
    )
    assert working.sum() >= 6
    assert np.all(np.abs(after[working]) <= bound[working] * 1.05 + 1e-6)
    assert np.abs(after).mean() < np.abs(before).mean()
    assert s["write_pulses"] > 0 and s["programming_energy_j"] > 0
    # unswitchable devices are counted apart from the tuning accuracy of the other pairs
    assert 0 <= s["tias_with_unswitchable_device"] <= 8 - working.sum()
    if s["tias_with_unswitchable_device"] < 8:
        assert s["max_abs_after_switchable_v"] <= s["max_abs_after_v"]


def test_sensitivity_tighter_tuning_never_worse():
    rows = sensitivity(8, [0, 1], [0.01, 0.002], [18.4e3], engine="reference")
    assert rows[1]["fraction_below_working_pairs"] >= rows[0]["fraction_below_working_pairs"]


def test_cli_bad_input_and_json(capsys, tmp_path):
    assert main(["offset-compensation", "--tias", "0"]) == 2
    assert "tias" in capsys.readouterr().err
    assert main(["offset-compensation", "--tias", "5", "--r-f", "1000", "--sweep-seeds", "0"]) == 2
    assert "cannot be compensated" in capsys.readouterr().err
    code = main(
        ["offset-compensation", "--tias", "4", "--seed", "2", "--sweep-seeds", "0", "--json", "-"]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["offset_before_v"]) == len(data["offset_after_v"]) == 4
    assert len(data["targets_ohm"]) == 4 and data["published"]["all_below_1mv"] is True
    assert 0.0 <= data["fraction_below_1mv"] <= 1.0
    out = tmp_path / "figs"
    assert (
        main(["offset-compensation", "--tias", "3", "--sweep-seeds", "0", "--out", str(out)]) == 0
    )
    assert {p.name for p in out.iterdir()} == {
        "fig60_offsets.png",
        "fig61_pair_tuning.png",
        "results.json",
    }
    refused = tmp_path / "refused"
    assert main(["offset-compensation", "--tias", "3", "--r-f", "500", "--out", str(refused)]) == 2
    assert not refused.exists()  # nothing written on a refused run

"""``xbarsim ir-drop`` through :func:`xbarsim.cli.main`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xbarsim.cli import main
from xbarsim.crossbar import Lines, effective_matrix

KEYS = {"g_s", "v_in_v", "i_out_a", "i_ideal_a", "max_rel_error_vs_ideal", "solve_ms"}


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["ir-drop", *args, "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ir_drop_json_record(capsys):
    args = ["--rows", "6", "--cols", "5", "--r-row", "2", "--r-col", "3", "--r-source", "10",
            "--r-sink", "20", "--seed", "7"]
    data = _run(args, capsys)
    assert set(data) == KEYS | {"provenance"}
    g, v = np.asarray(data["g_s"]), np.asarray(data["v_in_v"])
    assert g.shape == (6, 5) and v.shape == (6,)
    assert g.min() >= 10e-6 and g.max() <= 100e-6 and v.min() >= 0 and v.max() <= 0.1
    np.testing.assert_allclose(data["i_ideal_a"], v @ g, rtol=1e-14)
    lines = Lines(r_row_ohm=2, r_col_ohm=3, r_source_ohm=10, r_sink_ohm=20)
    np.testing.assert_allclose(data["i_out_a"], v @ effective_matrix(g, lines), rtol=1e-12)
    err = np.max(np.abs(np.asarray(data["i_out_a"]) / data["i_ideal_a"] - 1))
    assert data["max_rel_error_vs_ideal"] == pytest.approx(err) and err > 1e-3
    assert data["solve_ms"] > 0
    # same seed, same crossbar
    assert _run(args, capsys)["g_s"] == data["g_s"]


def test_ir_drop_zero_resistance_is_ideal(capsys):
    data = _run(["--rows", "8", "--cols", "8", "--r-row", "0", "--r-col", "0"], capsys)
    assert data["max_rel_error_vs_ideal"] <= 1e-12


def test_ir_drop_error_grows_with_wire_resistance(capsys):
    errors = [_run(["--rows", "16", "--cols", "16", "--r-row", r, "--r-col", r], capsys)[
        "max_rel_error_vs_ideal"] for r in ("0.1", "1", "10")]
    assert errors[0] < errors[1] < errors[2]


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--r-row", "-1"], "r_row_ohm"), (["--r-sink", "nan"], "r_sink_ohm"),
     (["--rows", "0"], "rows"), (["--cols", "x"], "cols"), (["--seed", "-2"], "seed"),
     (["--col-sense", "middle"], "col_sense"),
     (["--rows", "100000", "--cols", "100000"], "size")],
)
def test_ir_drop_bad_input_one_line_exit_2(args, field, capsys, tmp_path):
    out = tmp_path / "r.json"
    assert main(["ir-drop", *args, "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and field in err and "\n" not in err
    assert not out.exists()


def test_ir_drop_published_column_holds_nothing_of_ours() -> None:
    """No IR-drop value is published: the published column is empty on every row, and our
    first-order estimate appears as a number of ours."""
    from xbarsim.experiments.irdrop import comparison_rows, first_order_deficit, run_ir_drop

    run = run_ir_drop(8, 8, Lines(r_row_ohm=1.0, r_col_ohm=1.0), seed=0)
    rows = comparison_rows(run)
    assert {r.published for r in rows} <= {"-", f"{1e6 * float(run.i_ideal_a.mean()):.4g} (ideal)"}
    estimate = [r for r in rows if "first-order estimate" in r.quantity]
    assert len(estimate) == 1 and estimate[0].xbarsim == f"~{first_order_deficit(run):.3g}"

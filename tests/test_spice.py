"""Validation against ngspice: golden fixtures (always) and live runs (where installed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from xbarsim.crossbar import Lines, effective_matrix
from xbarsim.crossbar.newton import SinhIV, solve_nonlinear
from xbarsim.crossbar.spice import netlist, ngspice_available, parse_currents, run_ngspice
from xbarsim.errors import XbarsimInputError

FIXTURES = Path(__file__).parent / "fixtures" / "irdrop"
CASES = sorted(p.stem for p in FIXTURES.glob("*.json"))
needs_ngspice = pytest.mark.skipif(not ngspice_available(), reason="ngspice not installed")


def _regenerate_module():
    spec = importlib.util.spec_from_file_location("regenerate", FIXTURES / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _ours(case: dict) -> np.ndarray:
    g = np.asarray(case["conductance_s"])
    lines = Lines(**case["lines"])
    v = np.asarray(case["v_in_v"])
    if case["sinh_b_per_v"] is None:
        return v @ effective_matrix(g, lines)
    return solve_nonlinear(g, lines, v, SinhIV(case["sinh_b_per_v"])).currents_a[0]


def _netlist(case: dict, name: str) -> str:
    return netlist(np.asarray(case["conductance_s"]), Lines(**case["lines"]),
                   np.asarray(case["v_in_v"]), sinh_b_per_v=case["sinh_b_per_v"], title=name)


def test_fixture_set_covers_sizes_up_to_32_and_a_nonlinear_case():
    cases = [_load(name) for name in CASES]
    assert max(c["rows"] for c in cases) == 32
    assert any(c["sinh_b_per_v"] for c in cases)
    for c in cases:
        g = np.asarray(c["conductance_s"])
        assert g.min() >= 1e-6 and g.max() <= 200e-6
        assert 0.1 <= c["lines"]["r_row_ohm"] <= 10 and 0.1 <= c["lines"]["r_col_ohm"] <= 10


@pytest.mark.parametrize("name", CASES)
def test_netlist_generator_reproduces_golden_netlist(name):
    assert _netlist(_load(name), name) == (FIXTURES / f"{name}.cir").read_text()


@pytest.mark.parametrize("name", CASES)
def test_solvers_match_stored_ngspice_currents(name):
    case = _load(name)
    spice = np.asarray(case["ngspice_currents_a"])
    ours = _ours(case)
    np.testing.assert_allclose(ours, spice, rtol=1e-6, atol=0)
    # and the IR drop is not negligible in these cases: the check has teeth
    ideal = np.asarray(case["v_in_v"]) @ np.asarray(case["conductance_s"])
    assert np.max(np.abs(ours / ideal - 1.0)) > 1e-3


def test_parse_currents_reads_ngspice_output_and_detects_missing_columns():
    text = "No. of Data Rows : 1\ni(vsense1) = -2.5e-06\ni(vsense0) = 1.25e-05\n"
    np.testing.assert_array_equal(parse_currents(text, 2), [1.25e-05, -2.5e-06])
    with pytest.raises(RuntimeError, match="lacks"):
        parse_currents(text, 3)


def test_netlist_refuses_zero_ohm_elements():
    with pytest.raises(XbarsimInputError, match="r_row_ohm"):
        netlist(np.ones((2, 2)) * 1e-5, Lines(r_col_ohm=1, r_source_ohm=1, r_sink_ohm=1),
                [0.1, 0.1])


@needs_ngspice
@pytest.mark.parametrize("name", CASES)
def test_live_ngspice_on_golden_netlists(name):
    case = _load(name)
    spice = run_ngspice((FIXTURES / f"{name}.cir").read_text(), case["cols"])
    np.testing.assert_allclose(_ours(case), spice, rtol=1e-6, atol=0)


@needs_ngspice
@pytest.mark.parametrize(
    ("rows", "cols", "seed", "b", "v_max"),
    [(32, 32, 11, None, 0.1), (5, 17, 12, None, 0.1), (24, 7, 13, None, 0.1),
     (12, 12, 14, 3.55, 0.3), (16, 9, 15, 6.05, 0.2)],
)
def test_live_ngspice_on_fresh_random_circuits(rows, cols, seed, b, v_max):
    case = _regenerate_module().make_case(rows, cols, seed, b, v_max)
    spice = run_ngspice(_netlist(case, "fresh"), cols)
    np.testing.assert_allclose(_ours(case), spice, rtol=1e-6, atol=0)

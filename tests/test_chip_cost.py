"""Layer 5: energy, area and latency models (thesis Figs. 51, 53) and programming cost."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.chip.cost import (
    ArrayGroup,
    CostParameters,
    array_supply_power_w,
    chip_cost,
    estimate_programming_cost,
    programming_cost,
    vmm_cost,
)
from xbarsim.chip.xblock import XBlock
from xbarsim.cli import main
from xbarsim.crossbar import Crossbar
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.vmm_cost import TRENDS, run_vmm_cost
from xbarsim.programming import WriteVerify
from xbarsim.programming.port import program_port

# spec circuits.md 3.2 reference output of the default models (ours, for regression)
REFERENCE = {
    4: (0.45, 18.1, 3.92, 1.77, 170, 8.29, 36.1, 0.107, 0.886),
    64: (7.20, 8.63, 132, 949, 5668, 133, 26.6, 2.32, 308),
}


@pytest.mark.parametrize("n", sorted(REFERENCE))
def test_default_models_match_spec_reference_table(n):
    p_a, t_a, e_a, thr_a, area_a, p_m, t_m, e_m, thr_m = REFERENCE[n]
    a, m = vmm_cost(n, "analog"), vmm_cost(n, "mixed")
    assert a["power_w"] * 1e3 == pytest.approx(p_a, rel=0.01)
    assert a["latency_s"] * 1e9 == pytest.approx(t_a, rel=0.01)
    assert a["energy_eff_op_per_j"] / 1e12 == pytest.approx(e_a, rel=0.01)
    assert a["ops_per_s"] / 1e9 == pytest.approx(thr_a, rel=0.01)
    assert a["ops_per_s_per_mm2"] / 1e9 == pytest.approx(area_a, rel=0.01)
    assert m["power_w"] * 1e3 == pytest.approx(p_m, rel=0.01)
    assert m["latency_s"] * 1e9 == pytest.approx(t_m, rel=0.01)
    assert m["energy_eff_op_per_j"] / 1e12 == pytest.approx(e_m, rel=0.01)
    assert m["ops_per_s"] / 1e9 == pytest.approx(thr_m, rel=0.01)
    # energy per op is power x latency / ops
    assert a["energy_per_op_j"] == pytest.approx(a["power_w"] * a["latency_s"] / (2 * n * n))


def test_trend_slopes_within_bands_and_mixed_below_analog():
    run = run_vmm_cost([4, 8, 16, 32, 64], ["analog", "mixed"])
    for kind in ("analog", "mixed"):
        for metric, (_, (lo, hi)) in TRENDS.items():
            assert lo <= run["slopes"][kind][metric] <= hi, (kind, metric)
    assert all(run["mixed_below_analog"].values())
    latency = [c["latency_s"] for c in run["cases"] if c["kind"] == "analog"]
    assert all(b <= a for a, b in itertools.pairwise(latency))


def test_per_column_sum_array_power_is_n_times_thesis_form():
    thesis = CostParameters()
    summed = CostParameters(array_power="per_column_sum")
    for n in (4, 64):
        assert summed.array_power_w(n) == pytest.approx(n * thesis.array_power_w(n))
    assert thesis.array_power_w(64) == pytest.approx(288e-6)


def test_per_column_sum_uses_the_arrays_own_rows_and_columns():
    """Layer 2 of the MLP chip: two 65 x 10 arrays, 10 columns of (65/2) V_max G_avg V_dd."""
    summed = CostParameters(array_power="per_column_sum")
    assert summed.array_power_w(65, 10) == pytest.approx(10 * 0.5 * 65 * 0.1 * 50e-6 * 1.8)
    layer2 = ArrayGroup("layer 2", 65, 10, 2, 65, 10, 1)
    cost = chip_cost([layer2], summed)
    assert cost["power_breakdown_w"]["layer 2 arrays"] == pytest.approx(5.85e-3)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 256), t0=st.floats(0, 50e-9), c=st.floats(1e-15, 1e-12))
def test_settling_decreases_with_size_and_costs_positive(n, t0, c):
    p = CostParameters(settle_t0_s=t0, settle_load_f=c)
    small, big = vmm_cost(n, "analog", p), vmm_cost(n + 1, "analog", p)
    assert big["latency_s"] <= small["latency_s"]
    assert big["ops_per_s"] > small["ops_per_s"]
    for case in (small, vmm_cost(n, "mixed", p)):
        assert case["power_w"] > 0 and case["area_mm2"] > 0
        assert math.isclose(case["power_w"], sum(case["power_breakdown_w"].values()))


def test_array_power_from_simulated_currents():
    currents = np.array([[1e-6, -2e-6], [3e-6, 0.0]])  # two evaluations
    assert array_supply_power_w(currents) == pytest.approx(1.8 * 3e-6)
    with pytest.raises(XbarsimInputError, match="currents_a"):
        array_supply_power_w(np.zeros((0, 3)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_programming_cost_counts_half_selected_devices(seed):
    n = 4
    x = Crossbar.sample(preset("tio2-64x64-paper").with_sigma(0.05), (n, n), seed=seed)
    targets = np.random.default_rng(seed).uniform(10e-6, 100e-6, (n, n))
    alg = WriteVerify.thesis(passes=2)
    result, log = program_port(XBlock(x), targets, alg, skip=x.unswitchable[0])
    cost = programming_cost(log)
    # selected devices alone would dissipate sum G_sel V^2 t; half-selected ones add to it
    g_sel_max = 200e-6
    assert cost["write_energy_j"] > 0
    assert cost["pulses"] == result.total_pulses
    assert cost["programming_time_s"] == pytest.approx(log.pulses * 1e-3 + log.reads * 10e-6)
    assert cost["write_energy_j"] < (log.voltage_v**2).sum() * g_sel_max * 1e-3 * (1 + 2 * 3 / 4)
    estimate = estimate_programming_cost(result, alg)
    assert estimate["pulses"] == cost["pulses"]
    assert 1.5 < estimate["write_energy_j"] / cost["write_energy_j"] < 3.0  # upper estimate


def test_bad_input_and_cli(capsys):
    with pytest.raises(XbarsimInputError, match="size"):
        vmm_cost(0, "analog")
    with pytest.raises(XbarsimInputError, match="kind"):
        vmm_cost(4, "digital")
    assert main(["vmm-cost", "--sizes", "4,-8"]) == 2
    assert "sizes" in capsys.readouterr().err
    assert main(["vmm-cost", "--kind", "optical"]) == 2
    assert main(["vmm-cost", "--sizes", "4,8,16", "--kind", "analog", "--json", "-"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert [c["size"] for c in data["cases"]] == [4, 8, 16]
    assert set(data["cases"][0]) >= {
        "size",
        "kind",
        "power_w",
        "latency_s",
        "energy_per_op_j",
        "ops_per_s",
        "ops_per_s_per_mm2",
    }
    assert data["parameters"]["v_dd_v"] == 1.8

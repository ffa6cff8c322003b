"""Chapter-2 current mappings, the state-optimization cost, search and published presets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.devices.temperature import MemristorTemperature
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.currents import CurrentStack, ParameterRule, check_case, pair_currents
from xbarsim.mapping.state_optimization import StateOptimization, cost_of_errors, fit_rule, search


def _constant_model(c: float) -> CurrentStack:
    """Memristor stack whose devices all change by c %/degree C (only p00)."""
    temp = MemristorTemperature(p00=c, p10=0.0, p20=0.0, p30=0.0)
    return CurrentStack.memristor(memristor_temperature=temp)


def test_cost_hand_computed_constant_relative_change() -> None:
    # Every device changes by c (T - T0) / 100, so E_r = c (T - T0) / 100 for every W and
    # C = c * 75 / 100 * (1 - 0.01) at T_max = 100 degC.
    for mapping, p in (("mapping1", 1e-6), ("mapping2", 4.5e-6)):
        design = StateOptimization(
            stack=_constant_model(0.2),
            mapping=mapping,
            delta_i_max_a=6e-6,
            rule=ParameterRule.constant(p),
        )
        assert design.cost() == pytest.approx(0.2 * 75 / 100 * 0.99, rel=1e-12)


def test_cost_inverse_term_cancels_in_a_pair() -> None:
    # The 1/w0 term alone shifts every conductance by the same p10 g_ref (T - T0) / 100:
    # it cancels in G+ - G-, so C = 0 for either mapping.
    temp = MemristorTemperature(p00=0.0, p10=0.3, p20=0.0, p30=0.0)
    stack = CurrentStack.memristor(memristor_temperature=temp)
    for mapping in ("mapping1", "mapping2"):
        design = StateOptimization.baseline(stack, mapping)
        assert design.cost() == pytest.approx(0.0, abs=1e-12)


def test_cost_of_errors_trapezoid_of_known_integral() -> None:
    w = np.linspace(0.01, 1.0, 100)
    errors = np.stack([w * k for k in (0.1, 0.5, 0.3)])  # |E_r| = k W, integral k (1 - eps^2)/2
    assert cost_of_errors(errors, w) == pytest.approx(0.5 * (1 - 0.01**2) / 2, rel=1e-12)


def test_thesis_presets_match_printed_formulas() -> None:
    r = np.array([0.0, 0.5, 1.0])
    fm1 = StateOptimization.thesis("eflash", "mapping1")
    np.testing.assert_allclose(fm1.rule(r) / 1e-9, np.maximum(0, 3 - 3.75 * r), atol=1e-12)
    fm2 = StateOptimization.thesis("eflash", "mapping2")
    np.testing.assert_allclose(fm2.rule(r) / 1e-9, 2.35 * r + 12.65, atol=1e-12)
    rm1 = StateOptimization.thesis("memristor", "mapping1")
    np.testing.assert_allclose(rm1.rule(r) / 1e-6, np.maximum(0, 3.1 - 3.23 * r), atol=1e-12)
    rm2 = StateOptimization.thesis("memristor", "mapping2")
    np.testing.assert_allclose(rm2.rule(r) / 1e-6, np.maximum(3.1, 1.48 + 2.76 * r), atol=1e-12)
    assert rm1.delta_i_max_a == pytest.approx(6.5e-6) and fm2.delta_i_max_a == pytest.approx(30e-9)
    # FM2 spans exactly [0, 30] nA; RM2 reaches 0.99 uA on the minus device at r = 1
    i_plus, i_minus = fm2.currents(np.array([1.0, -1.0]))
    np.testing.assert_allclose(i_plus / 1e-9, [30.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(i_minus / 1e-9, [0.0, 30.0], atol=1e-9)
    _, i_minus = rm2.currents(np.array([1.0]))
    assert i_minus[0] / 1e-6 == pytest.approx(4.24 - 3.25, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=20),
    st.sampled_from(["rm1", "rm2", "fm1", "fm2"]),
    st.sampled_from(["baseline", "thesis"]),
)
def test_mapping_exact_at_tuning_temperature_and_in_range(weights, case, which) -> None:
    design = StateOptimization.for_case(case, which)
    s = np.array(weights)
    np.testing.assert_allclose(design.effective_weights(s, [25.0])[0], s, atol=1e-9)
    i_plus, i_minus = design.currents(s)
    cap = design.stack.i_cap_a
    for i in (i_plus, i_minus):
        assert np.all(i >= -1e-15) and np.all(i <= cap * (1 + 1e-12))


def test_pair_currents_clip_parameter_into_feasible_range() -> None:
    i_plus, i_minus = pair_currents(np.array([1.0]), "mapping2", 6e-6, 0.0, 9e-6)
    assert i_minus[0] == pytest.approx(0.0) and i_plus[0] == pytest.approx(6e-6)


def test_search_finds_weight_dependent_rules_of_the_thesis_shape() -> None:
    # memristor mapping 1 at the thesis's 6.5 uA: I_min falls with r down to 0;
    # mapping 2: I_b rises with r above a floor (thesis: max(3.1, 1.48 + 2.76 r) uA)
    grid = np.linspace(0.0, 9e-6, 25)[:-1]
    deltas = np.linspace(1e-6, 9e-6, 5)
    m1 = search("memristor", "mapping1", deltas, grid, delta_i_max_a=6.5e-6)
    assert m1.design.rule.slope_a < 0 and m1.design.rule(1.0) == 0.0
    m2 = search("memristor", "mapping2", deltas, grid, delta_i_max_a=6.5e-6)
    assert m2.design.rule.slope_a > 0 and m2.design.rule.floor_a > 0
    for s, case in ((m1, "rm1"), (m2, "rm2")):
        assert s.design.cost() < StateOptimization.for_case(case).cost()
        assert np.isnan(s.cost).any() and np.isfinite(s.cost).any()


def test_fit_rule_recovers_clipped_line() -> None:
    r = np.linspace(0, 1, 50)
    rule = fit_rule(r, np.maximum(1.0, 0.2 + 2.0 * r))
    assert (rule.intercept_a, rule.slope_a, rule.floor_a) == pytest.approx((0.2, 2.0, 1.0))


def test_bad_input() -> None:
    with pytest.raises(XbarsimInputError, match="mapping"):
        check_case("rm3")
    with pytest.raises(XbarsimInputError, match="mapping"):
        StateOptimization.baseline("memristor", "mapping3")
    with pytest.raises(XbarsimInputError, match="stack"):
        CurrentStack.named("pcm")
    with pytest.raises(ValueError, match="delta_i_max_a"):
        StateOptimization(
            stack=CurrentStack.eflash(),
            mapping="mapping1",
            delta_i_max_a=40e-9,
            rule=ParameterRule.constant(0.0),
        )


def test_fig23_figure(tmp_path) -> None:
    from xbarsim.report.state_optimization_figures import plot_state_search

    s = search("eflash", "mapping2", np.linspace(5e-9, 30e-9, 4), np.linspace(0, 30e-9, 7))
    path = plot_state_search(s, tmp_path)
    assert path.exists() and path.stat().st_size > 10_000

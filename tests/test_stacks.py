"""RM1/RM2/FM1/FM2: device stack x mapping, effective weights at temperature."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.stacks import StackMapping

LABELS = ["RM1", "RM2", "FM1", "FM2"]
WEIGHTS = st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=20)


@pytest.mark.filterwarnings("ignore::xbarsim.devices.ExtrapolationWarning")
@pytest.mark.parametrize("label", LABELS)
@given(w=WEIGHTS)
def test_effective_weights_are_exact_at_the_tuning_temperature(label, w):
    stack = StackMapping.preset(label)
    np.testing.assert_allclose(stack.effective_weights(w, 25.0), w, atol=1e-12)


@pytest.mark.filterwarnings("ignore::xbarsim.devices.ExtrapolationWarning")
@pytest.mark.parametrize("label", LABELS)
@given(w=WEIGHTS, temp=st.floats(25.0, 100.0))
def test_effective_weights_are_odd_and_bounded(label, w, temp):
    stack = StackMapping.preset(label)
    w = np.asarray(w)
    hot = stack.effective_weights(w, temp)
    np.testing.assert_allclose(stack.effective_weights(-w, temp), -hot, atol=1e-12)
    assert np.all(np.abs(hot) <= 1.6)


def test_mapping_currents_follow_the_definitions():
    rm1, fm2 = StackMapping.preset("RM1"), StackMapping.preset("FM2")
    plus, minus = rm1.currents([0.5, -1.0])
    np.testing.assert_allclose(plus, [4.5e-6, 0.0])
    np.testing.assert_allclose(minus, [0.0, 9e-6])
    plus, minus = fm2.currents([1.0, 0.0])
    np.testing.assert_allclose(plus, [30e-9, 15e-9])
    np.testing.assert_allclose(minus, [0.0, 15e-9])


def test_eflash_weights_grow_when_hot_and_memristor_low_states_cancel():
    fm1 = StackMapping.preset("FM1")
    assert np.all(fm1.effective_weights([0.2, 0.5], 100.0) > [0.2, 0.5])
    assert fm1.effective_weights([1.0], 100.0)[0] == pytest.approx(1.0)
    # RM1: both devices of a zero weight sit at G_min and move together
    assert StackMapping.preset("RM1").effective_weights([0.0], 100.0)[0] == 0.0


def test_stack_bad_input():
    with pytest.raises(XbarsimInputError, match=r"^stack: unknown label"):
        StackMapping.preset("XM3")
    with pytest.raises(ValidationError, match="i_bias_a"):
        StackMapping(stack="FM", mapping=2, delta_i_max_a=30e-9, i_bias_a=10e-9)
    with pytest.raises(ValidationError, match="exceeds"):
        StackMapping(stack="RM", mapping=1, delta_i_max_a=9.5e-6, i_min_a=1e-6)
    with pytest.raises(XbarsimInputError, match=r"^weights: "):
        StackMapping.preset("RM2").currents([1.5])

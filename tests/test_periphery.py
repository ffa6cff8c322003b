"""Periphery blocks (layer 5): DAC, TIA, ADC in physical units."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from xbarsim.errors import XbarsimInputError
from xbarsim.periphery import ADC, DAC, TIA

# --- DAC --------------------------------------------------------------------------------


def test_thesis_dac_levels():
    dac = DAC.thesis()
    assert dac.bits == 5 and dac.full_scale_v == 0.28
    assert dac.lsb_v == pytest.approx(0.28 / 31)  # 9.03 mV (specs/circuits.md §1.6)
    out = dac.convert([0.0, 0.28, 0.0046, 0.0044, 0.5, -0.01])
    np.testing.assert_array_equal(out.code, [0, 31, 1, 0, 31, 0])
    np.testing.assert_allclose(out.value[:2], [0.0, 0.28])
    np.testing.assert_array_equal(out.clipped, [False, False, False, False, True, True])


def test_bipolar_dac_is_symmetric():
    dac = DAC(bits=4, full_scale_v=0.1, bipolar=True)
    assert (dac.min_code, dac.max_code) == (-7, 7)
    v = np.linspace(-0.1, 0.1, 41)
    np.testing.assert_allclose(dac.convert(v).value, -dac.convert(-v).value, atol=0)


@given(
    bits=st.integers(1, 12),
    fs=st.floats(1e-3, 2.0),
    v=st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=20),
)
@settings(max_examples=60, deadline=None)
def test_dac_error_within_half_lsb_inside_range(bits, fs, v):
    dac = DAC(bits=bits, full_scale_v=fs)
    v = np.asarray(v)
    out = dac.convert(v)
    inside = ~out.clipped
    assert np.all(np.abs(out.value[inside] - v[inside]) <= 0.5 * dac.lsb_v * (1 + 1e-12))
    assert np.all((out.value >= 0.0) & (out.value <= fs * (1 + 1e-12)))
    assert np.all(np.diff(dac.convert(np.sort(v)).value) >= 0)  # monotonic


@pytest.mark.parametrize(
    "kwargs",
    [{"bits": 0}, {"bits": -3}, {"full_scale_v": 0.0}, {"full_scale_v": float("nan")},
     {"bits": 1, "bipolar": True}],
)
def test_dac_rejects_bad_config(kwargs):
    with pytest.raises(ValidationError):
        DAC(**kwargs)


# --- ADC --------------------------------------------------------------------------------


def test_thesis_adc_codes():
    adc = ADC.thesis()
    assert adc.max_code == 31
    assert adc.lsb_v == pytest.approx(1.1 / 31)
    out = adc.convert([0.1, 1.2, 0.65, 0.0, 1.5])
    np.testing.assert_array_equal(out.code, [0, 31, 16, 0, 31])
    np.testing.assert_array_equal(out.clipped, [False, False, False, True, True])
    np.testing.assert_allclose(out.value[:2], [0.1, 1.2])


@given(bits=st.integers(1, 16), v=st.floats(0.1, 1.2))
@settings(max_examples=60, deadline=None)
def test_adc_error_within_half_lsb(bits, v):
    adc = ADC(bits=bits)
    out = adc.convert(v)
    assert abs(float(out.value) - v) <= 0.5 * adc.lsb_v * (1 + 1e-12)
    assert not out.clipped


@pytest.mark.parametrize(
    "kwargs", [{"bits": 0}, {"v_min_v": 1.2, "v_max_v": 0.1}, {"v_min_v": 0.5, "v_max_v": 0.5}]
)
def test_adc_rejects_bad_config(kwargs):
    with pytest.raises(ValidationError):
        ADC(**kwargs)


# --- TIA --------------------------------------------------------------------------------


def test_measured_tia_preset():
    tia = TIA.measured()
    assert tia.r_f_ohm == 18.4e3 and tia.v_cm_v == 1.2 and tia.v_low_v == 0.1
    # linear swing to the 0.1 V saturation level: (1.2 - 0.1) V / 18.4 kOhm ~ 60 uA,
    # the thesis's "~70 uA" (derived from its design equations).
    lo, hi = tia.linear_current_range_a
    assert hi == pytest.approx(1.1 / (18.4e3 * 2200 / 2201))
    assert lo == pytest.approx(-0.5 / (18.4e3 * 2200 / 2201))
    assert 55e-6 < hi < 70e-6
    out = tia.output([0.0, 30e-6, 80e-6])
    np.testing.assert_allclose(out.v_out[:2], [1.2, 1.2 - 30e-6 * tia.transimpedance_ohm])
    assert out.v_out[2] == 0.1
    np.testing.assert_array_equal(out.saturated, [False, False, True])


def test_offset_lifts_zero_input_output():
    tia = TIA.measured().model_copy(update={"offset_v": 0.05})
    assert float(tia.output(0.0).v_out) == pytest.approx(1.25)
    # a read-out that knows only V_cm sees the offset as a current
    assert float(tia.current_estimate(1.25)) == pytest.approx(-0.05 / tia.transimpedance_ohm)


@pytest.mark.parametrize(
    ("n", "i_max", "r_f"),
    [(4, 10e-6, 110e3), (8, 20e-6, 55e3), (16, 40e-6, 27.5e3), (32, 80e-6, 13.75e3),
     (64, 160e-6, 6.875e3)],
)
def test_design_equations_reproduce_spec_table(n, i_max, r_f):
    assert TIA.max_current_a(n) == pytest.approx(i_max, rel=1e-12)
    assert TIA.feedback_resistance_ohm(n) == pytest.approx(r_f, rel=1e-12)
    # A = 100 R_f N G_avg = 200 V_out,d / V_max = 2200 for every N
    assert TIA.required_gain(n, TIA.feedback_resistance_ohm(n)) == pytest.approx(2200, abs=1e-9)
    tia = TIA.design(n)
    assert tia.r_f_ohm == pytest.approx(r_f) and tia.open_loop_gain == pytest.approx(2200)
    assert (tia.v_low_v, tia.v_high_v) == pytest.approx((0.1, 1.7))
    # design intent: input resistance is 1 % of the bit line's 1/(N G_avg)
    assert tia.input_resistance_ohm == pytest.approx(0.01 / (n * 50e-6), rel=1e-3)


@pytest.mark.parametrize(
    "call",
    [lambda: TIA.max_current_a(0), lambda: TIA.max_current_a(8, g_avg_s=-1e-6),
     lambda: TIA.feedback_resistance_ohm(8, v_out_range_v=0.0),
     lambda: TIA.required_gain(8, float("nan"))],
)
def test_design_equations_reject_bad_input(call):
    with pytest.raises(XbarsimInputError):
        call()


@pytest.mark.parametrize(
    "kwargs",
    [{"r_f_ohm": 0.0}, {"r_f_ohm": -5.0}, {"r_f_ohm": float("nan")}, {"open_loop_gain": 0.0},
     {"v_low_v": 1.2, "v_high_v": 0.1}],
)
def test_tia_rejects_bad_config(kwargs):
    with pytest.raises(ValidationError):
        TIA(**kwargs)


@given(
    g=st.lists(st.floats(1e-6, 200e-6), min_size=1, max_size=16),
    gain=st.floats(10.0, 1e6),
    v_os=st.floats(-0.1, 0.1),
)
@settings(max_examples=60, deadline=None)
def test_column_current_satisfies_node_equation(g, gain, v_os):
    """The finite-gain column current is the one that solves KCL at the summing node:
    current through the devices = current into R_in above V_p."""
    tia = TIA(open_loop_gain=gain, offset_v=v_os)
    g = np.asarray(g)[:, None]
    rng = np.random.default_rng(len(g))
    v_in = tia.v_cm_v + rng.uniform(0.0, 0.1, size=g.shape[0])
    i = float(tia.column_current(g, v_in)[0])
    v_node = tia.reference_v + tia.input_resistance_ohm * i
    assert i == pytest.approx(float(np.sum(g[:, 0] * (v_in - v_node))), rel=1e-10, abs=1e-18)
    # output equals V_n - R_f I (the feedback resistor carries the node current)
    v_out = float(tia.output(i).v_out)
    if not bool(tia.output(i).saturated):
        assert v_out == pytest.approx(v_node - tia.r_f_ohm * i, rel=1e-12)

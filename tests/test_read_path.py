"""The read path DAC → array → TIA → ADC (layer 5)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from xbarsim.crossbar import Crossbar, Lines, lines_preset
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.periphery import ADC, DAC, TIA, ReadPath


def _xbars(n: int = 16, batch: int = 3, seed: int = 0) -> Crossbar:
    xbars = Crossbar.sample(preset("thesis-uniformity"), (n, n), batch=batch, seed=seed)
    rng = np.random.default_rng(seed)
    xbars.conductance[...] = rng.uniform(10e-6, 100e-6, xbars.conductance.shape)
    return xbars


def _inputs(n: int = 16, count: int = 50, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 0.1, (count, n))


def test_ideal_chain_is_the_ideal_vmm():
    xbars, v = _xbars(), _inputs()
    path = ReadPath(dac=None, adc=None, tia=TIA(open_loop_gain=1e12, v_low_v=-10, v_high_v=10))
    out = path.vmm(xbars, v)
    np.testing.assert_allclose(out.currents_a, xbars.vmm(v), rtol=1e-9)
    assert out.rates() == {"dac_clip_rate": 0.0, "tia_saturation_rate": 0.0, "adc_clip_rate": 0.0}


def test_array_includes_lines_and_tia_input_resistance():
    xbars, v = _xbars(), _inputs()
    lines = lines_preset("paper")
    path = ReadPath(dac=None, adc=None, lines=lines)
    expected = xbars.vmm(v, lines=lines.with_tia(path.tia.r_f_ohm, path.tia.open_loop_gain))
    np.testing.assert_allclose(path.vmm(xbars, v).analog_currents_a, expected, rtol=1e-12)


def test_calibration_sets_ranges_and_removes_clipping():
    xbars, v = _xbars(), _inputs()
    raw = ReadPath.thesis(lines=lines_preset("paper"))
    # uncalibrated: the 18.4 kOhm TIA saturates on 16 rows of up to 100 uS at 0.1 V
    before = raw.vmm(xbars, v)
    assert before.tia_saturation_rate > 0.01
    manual = np.mean(raw.tia.output(before.analog_currents_a).saturated)
    assert before.tia_saturation_rate == pytest.approx(manual)
    path = raw.calibrate(xbars, v)
    assert path.calibrated and path.dac.full_scale_v == pytest.approx(v.max())
    after = path.vmm(xbars, v)
    assert after.rates() == {"dac_clip_rate": 0.0, "tia_saturation_rate": 0.0, "adc_clip_rate": 0.0}
    # the largest sample current maps to the designed 1.1 V swing
    i_max = after.analog_currents_a.max()
    assert path.tia.r_f_ohm * i_max * 2200 / 2201 == pytest.approx(1.1, rel=1e-8)
    # quantization: every read within half an ADC and half a DAC step of the analog current
    z = path.tia.transimpedance_ohm
    dac_step = path.dac.lsb_v / 2 * np.abs(path.array_matrix(xbars)).sum(axis=1)[:, None, :]
    bound = path.adc.lsb_v / 2 / z * (1 + 1e-9)
    assert np.all(np.abs(after.currents_a - after.analog_currents_a) <= bound)
    ideal = xbars.vmm(v, lines=path.array_lines)
    assert np.all(np.abs(after.currents_a - ideal) <= bound + dac_step)
    # a calibrated config round-trips through YAML
    again = ReadPath.model_validate(yaml.safe_load(yaml.safe_dump(path.model_dump())))
    assert again == path


def test_offset_acts_through_the_array():
    xbars = _xbars()
    tia = TIA.measured().model_copy(update={"offset_v": 0.05})
    path = ReadPath(dac=None, adc=None, tia=tia)
    out = path.vmm(xbars, np.zeros((1, 16)))
    m = path.array_matrix(xbars)
    np.testing.assert_allclose(out.analog_currents_a[:, 0], -0.05 * m.sum(axis=1), rtol=1e-12)
    # the read-out (knowing only V_cm) sees the offset as a current error
    assert np.all(out.currents_a < 0)


def test_bad_calibration_and_inputs():
    xbars = _xbars()
    path = ReadPath.thesis()
    with pytest.raises(XbarsimInputError, match="percentile"):
        path.calibrate(xbars, _inputs(), percentile=0.0)
    with pytest.raises(XbarsimInputError, match="0 V"):
        path.calibrate(xbars, np.zeros((3, 16)))
    with pytest.raises(XbarsimInputError, match="v_in_v"):
        path.vmm(xbars, np.zeros((3, 5)))
    with pytest.raises(XbarsimInputError, match="v_in_v"):
        path.vmm(xbars, np.full((3, 16), np.nan))
    assert isinstance(ReadPath(dac=DAC(bits=8), adc=ADC(bits=8), lines=Lines()), ReadPath)

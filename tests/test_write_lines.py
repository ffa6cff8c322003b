"""Write pulses through line resistance in write-verify (stepped per pulse)."""

import numpy as np
import pytest

from xbarsim.crossbar import BiasScheme, Crossbar, Lines
from xbarsim.crossbar.write_path import apply_write_pulse
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.write_path_study import WritePathSetup, run_write_path_study
from xbarsim.programming import WriteVerify, program

DEV = preset("tio2-64x64-paper")


@pytest.mark.parametrize("scheme", [BiasScheme.V2, BiasScheme.V3])
@pytest.mark.parametrize("voltage", [1.4, -1.3])
def test_ideal_lines_apply_the_nominal_pulse(scheme, voltage):
    a = Crossbar.sample(DEV.with_sigma(0.3), (5, 4), batch=2, seed=3)
    b = a.copy()
    a.apply_pulse(1, 2, 1, voltage, scheme)
    v = apply_write_pulse(b, 1, 2, 1, voltage, scheme, Lines())
    assert v[2, 1] == voltage
    np.testing.assert_allclose(b.conductance, a.conductance, rtol=1e-12, atol=0)


@pytest.mark.parametrize("scheme", [BiasScheme.V2, BiasScheme.V3])
def test_stepping_through_ideal_lines_equals_the_reference_engine(scheme):
    alg = WriteVerify.thesis(passes=2, scheme=scheme)
    x = Crossbar.sample(DEV.with_sigma(0.25), (4, 4), batch=1, seed=1)
    t = np.random.default_rng(5).uniform(10e-6, 100e-6, (1, 4, 4))
    ref = program(x.copy(), t, alg, engine="reference")
    through = program(x.copy(), t, alg, write_lines=Lines())
    np.testing.assert_array_equal(through.pulses, ref.pulses)
    np.testing.assert_array_equal(through.n_hs_per_pass, ref.n_hs_per_pass)
    np.testing.assert_allclose(through.conductance, ref.conductance, rtol=1e-12, atol=0)


def _pulses_for(row: int, col: int, lines: Lines | None) -> int:
    """Pulses of the first set ramp of one device of a uniform 4x4 crossbar, 20 -> 60 uS
    (one ramp: it ends when the device passes the target)."""
    x = Crossbar.sample(DEV.with_sigma(0.0), (4, 4), batch=1, seed=0)
    x.conductance[...] = 20e-6
    t = x.conductance.copy()
    t[0, row, col] = 60e-6
    alg = WriteVerify.thesis(passes=1, max_ramps=1)
    res = program(x, t, alg, engine="reference", write_lines=lines)
    assert res.conductance[0, row, col] >= 60e-6 * (1 - alg.tolerance)
    return int(res.pulses[0, row, col])


def test_tuning_needs_more_pulses_far_from_the_drivers():
    lines = Lines(r_row_ohm=50.0, r_col_ohm=50.0, r_source_ohm=10.0, r_sink_ohm=10.0)
    nominal = _pulses_for(3, 0, None)
    near = _pulses_for(3, 0, lines)  # next to the row driver (col 0) and the column driver
    far = _pulses_for(0, 3, lines)
    assert nominal <= near < far


def test_write_lines_need_the_stepping_engine():
    x = Crossbar.sample(DEV, (3, 3), batch=1, seed=0)
    t = np.full((3, 3), 50e-6)
    with pytest.raises(XbarsimInputError, match="engine"):
        program(x, t, WriteVerify.thesis(), engine="cpu", write_lines=Lines(r_row_ohm=1.0))


def test_study_reports_the_drop_by_distance():
    setup = WritePathSetup(size=3, r_wire_ohm=(0.0, 100.0), r_driver_ohm=0.0, instances=1,
                           passes=1)
    out = run_write_path_study(setup)
    nominal, lossy = out["cases"]
    assert nominal["selected_voltage_fraction"] == [1.0] * 5
    frac = np.array(lossy["selected_voltage_fraction"])
    assert np.all(np.diff(frac) < 0) and frac[-1] < 1.0
    assert len(lossy["pulses"]) == 5 and set(lossy["pulses"][0]) == {"mean", "std", "quantiles"}
    with pytest.raises(XbarsimInputError, match="r_wire_ohm"):
        WritePathSetup(r_wire_ohm=(-1.0,)).validate()

"""Write-verify on verify reads through the periphery: stepped per pulse, exact when ideal."""

import numpy as np
import pytest

from xbarsim.crossbar import Crossbar, lines_preset
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.periphery import ADC, ReadPath
from xbarsim.periphery.verify import periphery_read
from xbarsim.programming import WriteVerify, program
from xbarsim.programming.reference import program_reference
from xbarsim.programming.verify_read import ExactRead

DEV = preset("tio2-64x64-paper")
ALG = WriteVerify.thesis(passes=2)


def _case(n, sigma, seed, batch=2):
    x = Crossbar.sample(DEV.with_sigma(sigma), (n, n), batch=batch, seed=seed)
    targets = np.random.default_rng(seed + 100).uniform(10e-6, 100e-6, (batch, n, n))
    return x, targets


@pytest.mark.parametrize("sigma", [0.05, 0.35])
def test_stepping_with_an_exact_read_equals_the_closed_form_engines(sigma):
    x, t = _case(6, sigma, seed=1)
    stepped = program_reference(x.copy(), t, ALG, verify_read=ExactRead())
    plain = program_reference(x.copy(), t, ALG)
    closed = program(x.copy(), t, ALG, engine="cpu-direct", verify_read=ExactRead())
    np.testing.assert_array_equal(stepped.conductance, plain.conductance)
    np.testing.assert_array_equal(stepped.pulses, closed.pulses)
    np.testing.assert_array_equal(stepped.n_hs_per_pass, closed.n_hs_per_pass)
    np.testing.assert_allclose(stepped.conductance, closed.conductance, rtol=1e-12, atol=0)
    assert closed.engine != "reference"


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("bits", [5, 8])
def test_quantized_reads_bound_the_final_error_by_the_step(bits, seed):
    x, t = _case(4, 0.05, seed, batch=1)
    read = periphery_read(ReadPath(dac=None, adc=ADC(bits=bits)), 110e-6)
    res = program(x, t, ALG, verify_read=read)
    assert res.engine == "reference"
    ok = ~(res.abandoned | res.unswitchable)
    err = np.abs(res.conductance - t)[ok]
    assert ok.sum() >= 14
    assert np.all(err <= ALG.tolerance * t[ok] + read.step_s)
    if bits == 5:  # a 3.5 uS step is several tolerances wide: the reads, not 1 %, limit
        assert read.step_s > 4 * ALG.tolerance * 50e-6
        assert np.any(err > ALG.tolerance * t[ok])


def test_noisy_reads_are_seeded_per_crossbar():
    path = ReadPath(dac=None, adc=None)
    runs = []
    for seed, batch in ((7, 2), (7, 2), (8, 2), (7, 1)):
        x, t = _case(4, 0.05, seed=3, batch=batch)
        runs.append(program(x, t, ALG, verify_read=periphery_read(path, 110e-6, noise_a=2e-7,
                                                                  seed=seed)))
    np.testing.assert_array_equal(runs[0].conductance, runs[1].conductance)
    assert not np.array_equal(runs[0].conductance, runs[2].conductance)
    # crossbar 0 reads the same noise alone or in a batch
    np.testing.assert_array_equal(runs[3].conductance[0], runs[0].conductance[0])


def test_bad_verify_reads_are_refused():
    x, t = _case(4, 0.05, seed=0, batch=1)
    read = periphery_read(ReadPath.thesis(), 110e-6)
    with pytest.raises(XbarsimInputError, match="engine"):
        program(x, t, ALG, engine="cpu", verify_read=read)
    with pytest.raises(XbarsimInputError, match="lines"):
        periphery_read(ReadPath.thesis(lines_preset("paper")), 110e-6)
    for kwargs, field in (
        ({"g_max_s": -1.0}, "g_max_s"),
        ({"g_max_s": 1e-4, "read_voltage_v": float("nan")}, "read_voltage_v"),
        ({"g_max_s": 1e-4, "noise_a": -1e-9}, "noise_a"),
        ({"g_max_s": 1e-4, "seed": -1}, "seed"),
    ):
        with pytest.raises(XbarsimInputError, match=field):
            periphery_read(ReadPath.thesis(), **kwargs)

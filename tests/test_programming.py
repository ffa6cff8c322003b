"""Layer 3: write-verify behaviour and engine equivalence."""

import numpy as np
import pytest

from xbarsim.crossbar import BiasScheme, Crossbar
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.programming import StuckDevicesWarning, WriteVerify, program

DEV = preset("tio2-64x64-paper")


def _case(n, sigma, seed, batch=2):
    dev = DEV.with_sigma(sigma)
    x = Crossbar.sample(dev, (n, n), batch=batch, seed=seed)
    targets = np.random.default_rng(seed + 100).uniform(10e-6, 100e-6, (batch, n, n))
    return x, targets


def _assert_same(a, b, rtol=1e-9):
    np.testing.assert_array_equal(a.pulses, b.pulses)
    np.testing.assert_array_equal(a.abandoned, b.abandoned)
    np.testing.assert_array_equal(a.pulses_per_pass, b.pulses_per_pass)
    np.testing.assert_array_equal(a.n_hs_per_pass, b.n_hs_per_pass)
    np.testing.assert_allclose(a.conductance, b.conductance, rtol=rtol, atol=0)
    for key in a.history:
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-7, atol=1e-12)


ALGORITHMS = {
    "thesis": lambda scheme: WriteVerify.thesis(scheme=scheme, passes=3),
    "thesis-capped-abandon": lambda scheme: WriteVerify.thesis(
        scheme=scheme, passes=3, max_amplitude_v=2.0, abandon_at_cap=True
    ),
    "paper": lambda scheme: WriteVerify.paper(scheme=scheme),
}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("scheme", [BiasScheme.V2, BiasScheme.V3])
@pytest.mark.parametrize("sigma", [0.0, 0.05, 0.25, 0.35])
@pytest.mark.parametrize("n", [4, 8])
def test_engines_agree_with_reference(n, sigma, scheme, algorithm):
    alg = ALGORITHMS[algorithm](scheme)
    results = {}
    for engine in ("reference", "cpu", "cpu-direct"):
        x, t = _case(n, sigma, seed=n + int(100 * sigma))
        results[engine] = program(x, t, alg, engine=engine)
        np.testing.assert_array_equal(x.conductance, results[engine].conductance)
    _assert_same(results["reference"], results["cpu-direct"], rtol=1e-12)
    _assert_same(results["reference"], results["cpu"])


@pytest.mark.parametrize("sigma", [0.0, 0.05, 0.25, 0.35])
@pytest.mark.parametrize("n", [16, 32])
@pytest.mark.parametrize("seed", [1, 2])
def test_compiled_lazy_equals_direct_on_larger_arrays(n, sigma, seed):
    alg = WriteVerify.thesis()
    out = []
    for engine in ("cpu", "cpu-direct"):
        x, t = _case(n, sigma, seed, batch=2)
        out.append(program(x, t, alg, engine=engine))
    _assert_same(*out)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("scheme", [BiasScheme.V2, BiasScheme.V3])
@pytest.mark.parametrize("sigma", [0.0, 0.05, 0.25, 0.35])
@pytest.mark.parametrize("n", [16, 32])
def test_engines_agree_with_reference_large(n, sigma, scheme, algorithm):
    alg = ALGORITHMS[algorithm](scheme)
    out = []
    for engine in ("reference", "cpu"):
        x, t = _case(n, sigma, seed=3, batch=1)
        out.append(program(x, t, alg, engine=engine))
    _assert_same(*out)


def test_result_independent_of_batching_and_chunking():
    from xbarsim.programming.compiled import program_compiled

    x, t = _case(12, 0.25, seed=4, batch=5)
    whole = program_compiled(x.copy(), t, WriteVerify.thesis(), chunk=5)
    chunked = program_compiled(x.copy(), t, WriteVerify.thesis(), chunk=2)
    single = program_compiled(
        Crossbar.sample(DEV.with_sigma(0.25), (12, 12), batch=1, seed=4, first_index=3),
        t[3],
        WriteVerify.thesis(),
    )
    _assert_same(whole, chunked, rtol=0)
    np.testing.assert_array_equal(whole.conductance[3], single.conductance[0])


def test_write_verify_without_half_select_reaches_tolerance():
    """Without half-select every switchable device of every crossbar (12 sampled) ends
    within tolerance: no device's thresholds lie above the thesis's 5 V bound here."""
    x, t = _case(16, 0.25, seed=5, batch=12)
    res = program(x, t, WriteVerify.thesis(scheme=BiasScheme.NONE), engine="cpu")
    err = res.error[~res.excluded]
    assert err.max() <= 0.01
    assert np.all(res.n_hs_ever == 0.0)
    assert np.all(res.history["p99"][:, -1] <= 0.01)


def test_half_select_disturbs_and_later_passes_repair():
    """A population claim, over 12 sampled crossbars (N=32, sigma 0.25): the first pass
    leaves disturbed devices behind, later passes repair them and need fewer pulses --
    on the mean and in at least 10 of the 12."""
    x, t = _case(32, 0.25, seed=6, batch=12)
    res = program(x, t, WriteVerify.thesis(), engine="cpu")
    first, last = res.history["mean"][:, 1], res.history["mean"][:, -1]
    disturbed = res.history["max"][:, 1] > 0.05
    repaired = last < first
    fewer = res.pulses_per_pass[:, -1] < res.pulses_per_pass[:, 0]
    assert np.all(res.n_hs_per_pass[:, 0] > 0)
    assert disturbed.sum() >= 10 and repaired.sum() >= 10 and fewer.sum() >= 10
    assert last.mean() < first.mean()
    assert res.pulses_per_pass[:, -1].mean() < res.pulses_per_pass[:, 0].mean()


def test_unswitchable_devices_get_no_pulses_and_are_excluded():
    x, t = _case(16, 0.25, seed=7, batch=1)
    assert x.unswitchable.any()
    res = program(x, t, WriteVerify.paper(), engine="cpu")
    assert np.all(res.pulses[x.unswitchable] == 0)
    assert np.all(res.excluded[x.unswitchable])


def test_variants_cap_and_abandon():
    thesis, paper = WriteVerify.thesis(), WriteVerify.paper()
    assert (thesis.max_amplitude_v, thesis.abandon_at_cap) == (5.0, False)
    assert (paper.max_amplitude_v, paper.abandon_at_cap) == (2.5, True)
    assert thesis.ramp_length(1) == 451 and paper.ramp_length(1) == 501
    with pytest.raises(ValueError, match="max_amplitude_v"):
        WriteVerify(max_amplitude_v=0.0)


def test_abandoning_stops_retrying_and_no_abandon_retries():
    """A device whose set threshold is above the cap: abandoned after pass 1 with the rule,
    pulsed in every pass without it (and without the stuck-device rule, which would declare
    it stuck: below its threshold it barely moves)."""
    x, t = _case(4, 0.0, seed=0, batch=1)
    x.conductance[0, 1, 2] = 0.5 * t[0, 1, 2]
    x.v_set[0, 1, 2] = 3.0
    capped = WriteVerify.thesis(passes=3, max_amplitude_v=2.5, abandon_at_cap=True)
    a = program(x.copy(), t, capped, engine="cpu")
    retry = capped.model_copy(update={"abandon_at_cap": False, "stuck_detection": False})
    with pytest.warns(StuckDevicesWarning, match="1 device"):
        b = program(x.copy(), t, retry, engine="cpu")
    assert a.abandoned[0, 1, 2] and not b.abandoned.any()
    assert a.stuck[0, 1, 2] and b.stuck[0, 1, 2] and a.stuck.sum() == 1
    ramp = capped.ramp_length(1)
    assert a.pulses[0, 1, 2] == ramp and b.pulses[0, 1, 2] == 3 * ramp
    c = program(x.copy(), t, WriteVerify.thesis(passes=3), engine="cpu")
    assert c.error[0, 1, 2] <= 0.01  # 5 V reaches its 3 V threshold


def test_decreasing_cap_shortens_ramps():
    alg = WriteVerify.thesis(max_amplitude_v=2.5, cap_decrease_per_pass_v=0.3)
    assert alg.cap(0) == 2.5
    assert alg.cap(3) == pytest.approx(1.6)
    assert alg.ramp_length(1, 3) < alg.ramp_length(1, 0)
    assert alg.cap(100) == alg.ramp_start_v
    x, t = _case(8, 0.25, seed=8)
    a = program(x.copy(), t, alg, engine="reference")
    b = program(x.copy(), t, alg, engine="cpu")
    _assert_same(a, b)


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (np.full((3, 3), 50e-6), "shape"),
        (np.full((4, 4), np.nan), "finite"),
        (np.full((4, 4), 500e-6), "g_min, g_max"),
        (np.full((4, 4), -1e-6), "g_min, g_max"),
    ],
)
def test_bad_targets(targets, message):
    x, _ = _case(4, 0.1, seed=0, batch=1)
    with pytest.raises(XbarsimInputError, match=message):
        program(x, targets, engine="cpu")


def test_unknown_engine_and_missing_gpu():
    x, t = _case(4, 0.1, seed=0, batch=1)
    with pytest.raises(XbarsimInputError, match="engine"):
        program(x, t, engine="fpga")
    from xbarsim.programming import gpu_available

    if not gpu_available():
        with pytest.raises(XbarsimInputError, match="gpu"):
            program(x, t, engine="gpu")


def test_invalid_algorithm_parameters():
    with pytest.raises(ValueError, match="max_amplitude_v"):
        WriteVerify(max_amplitude_v=0.2, ramp_start_v=0.5)
    with pytest.raises(ValueError, match="tolerance"):
        WriteVerify(tolerance=-0.01)


def test_compiled_engines_count_ramps():
    """Every ramp is counted once: at least one per device tuned in a pass, at most
    ``max_ramps``; the accumulated and direct engines agree; the reference counts none."""
    alg = WriteVerify.thesis(passes=3)
    x, t = _case(8, 0.25, seed=5)
    lazy = program(x.copy(), t, alg, engine="cpu")
    direct = program(x.copy(), t, alg, engine="cpu-direct")
    np.testing.assert_array_equal(lazy.ramps_per_pass, direct.ramps_per_pass)
    assert program(x.copy(), t, alg, engine="reference").ramps_per_pass is None
    # one ramp per pulse run: pulses >= ramps >= 1 wherever a pass applied pulses
    active = lazy.pulses_per_pass > 0
    assert active.any()
    assert np.all(lazy.ramps_per_pass[active] >= 1)
    assert np.all(lazy.ramps_per_pass <= lazy.pulses_per_pass)
    assert np.all(lazy.ramps_per_pass[~active] == 0)
    assert lazy.ramps_per_pass.sum() <= alg.max_ramps * 8 * 8 * alg.passes * 2

"""GPU engine: equivalence with the compiled CPU engine.

On a machine with a CUDA GPU the real device is used; everywhere the kernel's logic is
also checked in numba's CUDA simulator (a subprocess with NUMBA_ENABLE_CUDASIM=1, since the
variable must be set before numba.cuda loads).
"""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from xbarsim.crossbar import Crossbar
from xbarsim.devices import preset
from xbarsim.programming import WriteVerify, gpu_available, program

CHECK = textwrap.dedent(
    """
    import numpy as np
    from xbarsim.crossbar import Crossbar
    from xbarsim.devices import device_config_from_dict, preset
    from xbarsim.programming import WriteVerify
    from xbarsim.programming.compiled import program_compiled
    from xbarsim.programming.gpu import program_gpu

    cases = [("V/2", 0.25, None), ("V/3", 0.35, None), ("V/2", 0.0, None), ("V/2", 0.35, 2.0)]
    for scheme, sigma, cap in cases:
        alg = WriteVerify.thesis(scheme=scheme, passes=3)
        if cap is not None:  # capped with abandoning, as the paper's variant
            alg = alg.model_copy(update={"max_amplitude_v": cap, "abandon_at_cap": True})
        x = Crossbar.sample(preset("tio2-64x64-paper").with_sigma(sigma), (5, 4), batch=2, seed=3)
        t = np.random.default_rng(0).uniform(10e-6, 100e-6, (2, 5, 4))
        a = program_compiled(x.copy(), t, alg)
        b = program_gpu(x.copy(), t, alg)
        assert np.array_equal(a.pulses, b.pulses), scheme
        assert np.array_equal(a.abandoned, b.abandoned), scheme
        assert np.array_equal(a.n_hs_per_pass, b.n_hs_per_pass), scheme
        assert np.array_equal(a.pulses_per_pass, b.pulses_per_pass), scheme
        assert np.array_equal(a.hs_exposures_per_pass, b.hs_exposures_per_pass), scheme
        np.testing.assert_allclose(a.conductance, b.conductance, rtol=1e-12, atol=0)
        np.testing.assert_allclose(a.pulse_v2_sum, b.pulse_v2_sum, rtol=1e-12, atol=0)
        assert a.pulse_v2_sum.max() > 0.0
        for key in a.history:
            np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-9)
    # the three-piece law (far piece: one more split index and table) alike
    for far in (1.5, 0.08):
        law = {"kind": "three-piece", "knee_v": 0.1, "slope_far_v": far}
        dev = device_config_from_dict({"preset": "tio2-64x64-paper", "dynamics": law})
        x = Crossbar.sample(dev.with_sigma(0.25), (6, 5), batch=2, seed=4)
        t = np.random.default_rng(1).uniform(10e-6, 100e-6, (2, 6, 5))
        a = program_compiled(x.copy(), t, WriteVerify.thesis(passes=3))
        b = program_gpu(x.copy(), t, WriteVerify.thesis(passes=3))
        assert np.array_equal(a.pulses, b.pulses) and np.array_equal(a.abandoned, b.abandoned)
        assert np.array_equal(a.n_hs_per_pass, b.n_hs_per_pass)
        np.testing.assert_allclose(a.conductance, b.conductance, rtol=1e-12, atol=0)
    # stuck devices (infinite thresholds at a fixed conductance) are pulsed alike
    stuck = {"high_ppm": 5e4, "low_ppm": 5e4, "random_ppm": 5e4}
    dev = device_config_from_dict({"preset": "tio2-64x64-paper", "conditions": {"stuck": stuck}})
    x = Crossbar.sample(dev, (6, 5), batch=2, seed=3)
    assert x.device_state.stuck.sum() >= 2
    t = np.random.default_rng(0).uniform(10e-6, 100e-6, (2, 6, 5))
    # with the stuck-device rule (the default) and without it
    for detect in (True, False):
        alg = WriteVerify.thesis(passes=2, stuck_detection=detect)
        a = program_compiled(x.copy(), t, alg)
        b = program_gpu(x.copy(), t, alg)
        assert np.array_equal(a.pulses, b.pulses) and np.array_equal(a.abandoned, b.abandoned)
        assert np.array_equal(a.stuck, b.stuck) and a.stuck.any()
        assert np.array_equal(a.n_hs_per_pass, b.n_hs_per_pass)
        np.testing.assert_allclose(a.conductance, b.conductance, rtol=1e-12, atol=0)
    # leak floor and cycle-to-cycle variation: the walked ramp and the counter-based stream
    stuck = {"conditions": {"stuck": {"high_ppm": 5e4, "low_ppm": 5e4, "random_ppm": 5e4}}}
    for extra in ({"leak_dose": 2e-4}, {"leak_dose": 1e-4, "cycle_to_cycle": 0.2, **stuck}):
        for scheme in ("V/2", "V/3"):
            dev = device_config_from_dict({"preset": "tio2-64x64-paper", **extra})
            x = Crossbar.sample(dev.with_sigma(0.25), (5, 4), batch=2, seed=3)
            t = np.random.default_rng(0).uniform(10e-6, 100e-6, (2, 5, 4))
            xa, xb = x.copy(), x.copy()
            alg = WriteVerify.thesis(scheme=scheme, passes=2)
            a, b = program_compiled(xa, t, alg), program_gpu(xb, t, alg)
            assert np.array_equal(a.pulses, b.pulses) and np.array_equal(a.abandoned, b.abandoned)
            assert np.array_equal(a.n_hs_per_pass, b.n_hs_per_pass)
            np.testing.assert_allclose(a.conductance, b.conductance, rtol=1e-12, atol=0)
            assert np.array_equal(xa.device_state.pulse_count, xb.device_state.pulse_count)
            assert np.array_equal(a.hs_exposures_per_pass, b.hs_exposures_per_pass)
    # without the history: nothing copied per pass, the same programming
    lean = program_gpu(x.copy(), t, alg, keep_history=False)
    kept = program_gpu(x.copy(), t, alg)
    assert lean.history["p99"].shape == (2, 0) and kept.history["p99"].shape == (2, 3)
    assert np.array_equal(lean.pulses, kept.pulses)
    assert np.array_equal(lean.conductance, kept.conductance)
    print("gpu-simulator-ok")
    """
)


def test_gpu_kernel_matches_cpu_engine_in_cuda_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    out = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "gpu-simulator-ok" in out.stdout


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("sigma", [0.05, 0.25])
def test_gpu_engine_matches_cpu_engine_on_device(sigma):
    alg = WriteVerify.thesis()
    x = Crossbar.sample(preset("thesis-uniformity").with_sigma(sigma), (32, 32), batch=8, seed=1)
    t = np.random.default_rng(1).uniform(10e-6, 100e-6, (8, 32, 32))
    a = program(x.copy(), t, alg, engine="cpu")
    b = program(x.copy(), t, alg, engine="gpu")
    np.testing.assert_array_equal(a.pulses, b.pulses)
    np.testing.assert_allclose(a.conductance, b.conductance, rtol=1e-9, atol=0)
    np.testing.assert_allclose(a.pulse_v2_sum, b.pulse_v2_sum, rtol=1e-12, atol=0)
    # the write power: reduced in the CPU kernel, on the host from the GPU's sums
    np.testing.assert_allclose(a.pulse_power_w, b.pulse_power_w, rtol=1e-9, atol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("detect", [True, False])
def test_gpu_engine_matches_cpu_engine_with_stuck_devices_on_device(detect):
    from xbarsim.devices import device_config_from_dict
    from xbarsim.programming import StuckDevicesWarning

    stuck = {"high_ppm": 1e4, "low_ppm": 1e4, "random_ppm": 1e4}
    dev = device_config_from_dict({"preset": "thesis-uniformity", "conditions": {"stuck": stuck}})
    x = Crossbar.sample(dev, (32, 32), batch=8, seed=2)
    t = np.random.default_rng(2).uniform(10e-6, 100e-6, (8, 32, 32))
    alg = WriteVerify.thesis(passes=3, stuck_detection=detect)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StuckDevicesWarning)
        a = program(x.copy(), t, alg, engine="cpu")
        b = program(x.copy(), t, alg, engine="gpu")
    assert a.stuck.any()
    np.testing.assert_array_equal(a.pulses, b.pulses)
    np.testing.assert_array_equal(a.stuck, b.stuck)
    np.testing.assert_array_equal(a.abandoned, b.abandoned)
    np.testing.assert_allclose(a.conductance, b.conductance, rtol=1e-12, atol=0)

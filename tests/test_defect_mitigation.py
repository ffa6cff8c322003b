"""Stuck-device mitigations: the pair-retuning rule, compensation column, BN recalibration."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.defects import compensation_pairs, retune_pairs

G_MIN, G_MAX = 10e-6, 100e-6
DG = G_MAX - G_MIN


@pytest.mark.parametrize("w", [-1.0, -0.4, 0.0, 0.3, 1.0])  # W / |W|_max
def test_pair_retuning_reproduces_the_six_printed_formulas(w: float) -> None:
    # targets of mapping 1 (the rule depends only on D = G+ - G- = dG W / |W|_max)
    tp, tm = G_MIN + DG * max(w, 0.0), G_MIN + DG * max(-w, 0.0)
    gx = 37e-6
    a = abs(w)
    cases = [
        # (stuck side, stuck value, expected partner), thesis 2.4.2 (upper sign: G+ stuck)
        ("plus", G_MAX, G_MAX - DG * (w + a) / 2),
        ("minus", G_MAX, G_MAX + DG * (w - a) / 2),
        ("plus", G_MIN, G_MIN + DG * (a - w) / 2),
        ("minus", G_MIN, G_MIN + DG * (a + w) / 2),
        ("plus", gx, np.clip(gx - DG * w, G_MIN, G_MAX)),
        ("minus", gx, np.clip(gx + DG * w, G_MIN, G_MAX)),
    ]
    for side, value, expected in cases:
        sp, sm = side == "plus", side == "minus"
        vp, vm = (value if sp else tp), (value if sm else tm)
        out = retune_pairs(tp, tm, vp, vm, sp, sm, G_MIN, G_MAX)
        partner = out.target_minus if sp else out.target_plus
        assert float(partner) == pytest.approx(expected, abs=1e-15)
        assert bool(out.retuned_minus if sp else out.retuned_plus)
        # the partner restores the target difference whenever the range allows it
        diff = (value - partner) if sp else (partner - value)
        if G_MIN < expected < G_MAX:
            assert diff == pytest.approx(tp - tm, abs=1e-15)


def test_pair_retuning_leaves_double_faults_and_good_pairs() -> None:
    out = retune_pairs(
        [50e-6, 60e-6],
        [20e-6, 30e-6],
        [100e-6, 60e-6],
        [10e-6, 30e-6],
        [True, False],
        [True, False],
        G_MIN,
        G_MAX,
    )
    np.testing.assert_array_equal(out.target_plus, [50e-6, 60e-6])
    np.testing.assert_array_equal(out.target_minus, [20e-6, 30e-6])
    np.testing.assert_array_equal(out.both_stuck, [True, False])
    assert out.pairs_retuned == 0


def test_compensation_pairs_cancel_mean_shift_per_row_kernel() -> None:
    mean = np.array([1.0, 0.5, 0.25])
    dg = np.array([[2e-6, 0.0], [4e-6, -1e-6], [-8e-6, 0.0]])
    cp, cm = compensation_pairs(mean, dg, kernel=2, g_low=G_MIN, g_high=G_MAX)
    shift = np.array([[2e-6 + 2e-6, -0.5e-6], [-2e-6, 0.0]])  # sum_i m_i dG_ij per block
    np.testing.assert_allclose(cp - cm, -shift, atol=1e-18)
    assert cp.min() >= G_MIN and cm.min() >= G_MIN


@pytest.fixture(scope="module")
def trained():
    from chapter2_fixtures import small_trained_convnet

    return small_trained_convnet()


def _faulty_chip(ppm: float):
    from xbarsim.devices.config import preset
    from xbarsim.devices.stuck import StuckFaults
    from xbarsim.nn import ChipConfig

    dev = preset("thesis-uniformity")
    cond = dev.conditions.model_copy(update={"stuck": StuckFaults.mixed(ppm)})
    return ChipConfig(device=dev.model_copy(update={"conditions": cond}), kernel=32, algorithm=None)


@pytest.fixture(autouse=True)
def one_thread():
    from xbarsim.nn import torch_threads

    with torch_threads(1):
        yield


def test_mitigation_ordering_over_seed_set(trained) -> None:
    from xbarsim.nn import accuracy
    from xbarsim.nn.defects import DefectMitigation, program_model_mitigated

    model, data, software = trained
    chip = _faulty_chip(2e4)
    drops = {}
    for kind in ("none", "pair", "pair+column"):
        accs = [
            accuracy(
                program_model_mitigated(
                    model,
                    chip,
                    seed,
                    DefectMitigation(kind=kind, calibration_images=300),
                    data.x_train,
                ).model,
                data.x_test,
                data.y_test,
            )
            for seed in range(4)
        ]
        drops[kind] = software - float(np.mean(accs))
    assert drops["pair+column"] <= drops["pair"] <= drops["none"]
    assert drops["none"] > drops["pair+column"] + 0.01


def test_mitigation_report_and_deploy_option(trained) -> None:
    from xbarsim.nn import accuracy, analog_layers, deploy
    from xbarsim.nn.defects import DefectMitigation, program_model_mitigated

    model, data, _ = trained
    chip = _faulty_chip(3e4)
    mit = DefectMitigation(kind="pair+column", calibration_images=200)
    out = program_model_mitigated(model, chip, 1, mit, data.x_train)
    total = sum(r.stuck_devices for r in out.layers)
    assert total > 0 and all(r.stuck_found <= r.stuck_devices for r in out.layers)
    assert sum(r.pairs_retuned for r in out.layers) > 0
    for rec, (_, layer) in zip(out.layers, analog_layers(out.model), strict=True):
        rows = -(-layer.matrix_shape[0] // chip.kernel)
        assert rec.compensation_pairs == rows * layer.matrix_shape[1]
        assert 0 <= rec.compensation_max_abs_us <= 90.0 + 1e-9
    again = deploy(model, chip, 1, mitigation=mit, calibration_x=data.x_train)
    assert accuracy(again, data.x_test, data.y_test) == accuracy(
        out.model, data.x_test, data.y_test
    )
    with pytest.raises(XbarsimInputError, match="calibration_x"):
        program_model_mitigated(model, chip, 0, mit, None)


@pytest.mark.slow
def test_write_verify_path_reads_the_run_and_orders_mitigations(trained) -> None:
    from xbarsim.nn import ChipConfig, accuracy
    from xbarsim.nn.defects import DefectMitigation, program_model_mitigated
    from xbarsim.programming.algorithm import WriteVerify

    model, data, software = trained
    # stuck devices never switch: the thesis variant (no abandoning) would ramp each of them
    # to its 5 V bound in every pass, and the 2.5 V half-selects would wipe out their lines;
    # a tuning that gives up on a device at the bound (as the paper's does) is what a
    # defect-aware deployment uses
    algorithm = WriteVerify.thesis(max_amplitude_v=2.5, abandon_at_cap=True)
    chip = ChipConfig(
        **{**_faulty_chip(2e4).model_dump(), "kernel": 16, "algorithm": algorithm}
    )
    drops = {}
    for kind in ("none", "pair", "pair+column"):
        out = program_model_mitigated(
            model, chip, 0, DefectMitigation(kind=kind, calibration_images=300), data.x_train
        )
        assert sum(r.stuck_found for r in out.layers) > 0
        drops[kind] = software - accuracy(out.model, data.x_test, data.y_test)
    assert drops["pair+column"] <= drops["pair"] <= drops["none"]

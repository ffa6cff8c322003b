"""The default chip survives 1 % stuck devices.

The acceptance test: over 16 chip instances of the default spec (64 x 64 kernels, the
paper's device population, thesis write-verify with the stuck-device rule, kernel padding
left alone, two touch-up passes at 1.6 V) an MLP on sklearn digits loses at most 3
accuracy points to 1 % stuck devices (measured 93.7 +/- 1.8 % -> 92.2 %), pair retuning and
pair retuning + compensation column each recover at least half of that (x0.87, x2.3), and
no instance runs away. The previous default (padding tuned, no touch-up) fails the same
test: instances run away through half-select, and pair retuning does not recover. On 16 x
16 kernels, without the stuck-device rule 1 % stuck devices take a network to chance (each
stuck device is ramped to the 5 V bound in every pass and its 2.5 V half-selects wipe out
its row and column).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from xbarsim.chip.spec import ChipSpec, DeviceSpec, MitigationSpec, ProgrammingSpec
from xbarsim.devices.config import preset
from xbarsim.devices.stuck import StuckFaults
from xbarsim.nn import ChipConfig, accuracy, load_digits, seeded, torch_threads, train
from xbarsim.nn.defects import DefectMitigation, program_model_mitigated
from xbarsim.nn.deploy import deploy, program_model
from xbarsim.nn.training import convnet, mlp
from xbarsim.programming import StuckDevicesWarning, WriteVerify

SEEDS = range(5)
#: Chip instances of the acceptance test.
INSTANCES = range(16)


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def data():
    return load_digits(seed=0, binarize_threshold=None)


@pytest.fixture(scope="module")
def trained_mlp(data):
    with seeded(0):
        model = mlp(64, 32, 10)
    train(model, data, epochs=30, lr=1e-2, batch_size=100, seed=0, threads=1)
    return model


def _spec(ppm: float, mitigation: str = "none", previous: bool = False) -> ChipSpec:
    """The default spec with ``ppm`` stuck devices (cpu engine, for exact numbers); with
    ``previous`` the previous default programming (padding tuned, no touch-up)."""
    programming = ProgrammingSpec(engine="cpu")
    if previous:
        programming = ProgrammingSpec(engine="cpu", tune_padding=True, touch_up_passes=0)
    return ChipSpec(
        device=DeviceSpec(stuck_ppm=ppm),
        programming=programming,
        mitigation=MitigationSpec(kind=mitigation, calibration_images=300),
    )


def _instances(model, data, instances: range = INSTANCES, **spec) -> np.ndarray:
    """Test accuracy of every instance."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StuckDevicesWarning)
        for seed in instances:
            deployed = deploy(model, _spec(**spec), seed=seed, calibration_x=data.x_train)
            out.append(accuracy(deployed, data.x_test, data.y_test))
    return np.array(out)


def _acceptance(
    model, data, previous: bool, instances: range = INSTANCES
) -> dict[str, float]:
    """The acceptance test's quantities (fractions) for one programming default."""
    pad = {"previous": previous, "instances": instances}
    clean = _instances(model, data, ppm=0.0, **pad)
    stuck = _instances(model, data, ppm=1e4, **pad)
    gap = clean.mean() - stuck.mean()
    out = {"clean": clean.mean(), "clean_std": clean.std(), "gap": gap}
    for kind in ("pair", "pair+column"):
        mitigated = _instances(model, data, ppm=1e4, mitigation=kind, **pad)
        out[kind] = (mitigated.mean() - stuck.mean()) / gap
    return out


def _accepted(q: dict[str, float], n_test: int) -> bool:
    """<= 3 points lost, something to recover (> 2 test images), each mitigation recovers
    at least half of it, and no runaway instance (clean spread < 3 points)."""
    return (
        2 / n_test < q["gap"] <= 0.03
        and q["pair"] >= 0.5
        and q["pair+column"] >= 0.5
        and q["clean_std"] < 0.03
    )


def test_default_spec_accepts_one_percent_stuck_devices(trained_mlp, data):
    q = _acceptance(trained_mlp, data, previous=False)
    assert _accepted(q, len(data.y_test)), q
    assert q["clean"] > 0.92


@pytest.mark.slow
def test_default_spec_over_32_instances(trained_mlp, data):
    """Instances 0-31: measured clean 93.4 +/- 2.1 %, gap 1.8 points, recovered x0.86 (pair)
    and x2.3 (pair+column); the previous default's clean chip 87.8 +/- 7.4 %."""
    q = _acceptance(trained_mlp, data, previous=False, instances=range(32))
    assert 2 / len(data.y_test) < q["gap"] <= 0.03
    assert q["pair"] >= 0.5 and q["pair+column"] >= 0.5
    assert q["clean"] > 0.92


def test_tuning_the_padding_fails_the_acceptance_test(trained_mlp, data):
    """Positive control: the previous default (padding tuned, no touch-up) fails it."""
    q = _acceptance(trained_mlp, data, previous=True)
    assert not _accepted(q, len(data.y_test))
    # measured: clean 89.3 +/- 7.7 % (instances at 64 % and 78 %), pair retuning -0.1 x
    assert q["clean_std"] > 0.05
    assert q["pair"] < 0.5


def _chip(ppm: float, detect: bool = True) -> ChipConfig:
    """The default chip (paper device, thesis write-verify), 16 x 16 kernels, ``ppm`` stuck."""
    dev = preset("tio2-64x64-paper")
    cond = dev.conditions.model_copy(update={"stuck": StuckFaults.mixed(ppm)})
    return ChipConfig(
        device=dev.model_copy(update={"conditions": cond}),
        kernel=16,
        algorithm=WriteVerify.thesis(stuck_detection=detect),
        engine="cpu",
    )


def _mean_accuracy(model, data, chip, kind: str | None = None) -> float:
    accs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StuckDevicesWarning)
        for seed in SEEDS:
            if kind is None:
                deployed = program_model(model, chip, seed).model
            else:
                mit = DefectMitigation(kind=kind, calibration_images=300)
                deployed = program_model_mitigated(model, chip, seed, mit, data.x_train).model
            accs.append(accuracy(deployed, data.x_test, data.y_test))
    return float(np.mean(accs))


def test_default_rule_keeps_an_mlp_within_three_points_at_one_percent_stuck(trained_mlp, data):
    model = trained_mlp
    clean = _mean_accuracy(model, data, _chip(0.0))
    stuck = _mean_accuracy(model, data, _chip(1e4))
    old = _mean_accuracy(model, data, _chip(1e4, detect=False))
    assert clean - stuck <= 0.03
    assert old < 0.3  # the old default: near chance (10 %)
    # the remaining gap (several test images: 1 image = 0.28 points) is halved by pair
    # retuning
    assert clean - stuck > 2 / len(data.y_test)
    pair = _mean_accuracy(model, data, _chip(1e4), "pair")
    assert pair - stuck >= 0.5 * (clean - stuck)


def test_mitigations_recover_a_cnn_at_one_percent_stuck(data):
    """A ConvNet with batch norm loses more to 1 % stuck devices than the MLP even with the
    rule (the stuck values themselves, not disturbance); pair retuning + compensation column
    (with BN recalibration) recovers more than half of that gap."""
    with seeded(0):
        model = convnet(1, 8, 10, width=8)
    train(model, data, epochs=8, lr=1e-2, batch_size=100, seed=0, threads=1)
    clean = _mean_accuracy(model, data, _chip(0.0))
    stuck = _mean_accuracy(model, data, _chip(1e4))
    old = _mean_accuracy(model, data, _chip(1e3, detect=False))
    assert clean - stuck > 2 / len(data.y_test)
    assert old < stuck - 0.2  # 0.1 % stuck without the rule already costs tens of points
    mitigated = _mean_accuracy(model, data, _chip(1e4), "pair+column")
    assert mitigated - stuck >= 0.5 * (clean - stuck)

"""Layer 6: analog layers, convert, deploy, hardware-aware training, data loaders."""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import torch
from scipy import stats
from torch import nn

from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.nn import (
    AnalogConv2d,
    AnalogLinear,
    ChipConfig,
    Dataset,
    analog_layers,
    convert,
    deploy,
    load_cifar10,
    program_model,
    set_zeta,
    train,
)
from xbarsim.nn.record import kernel_padding
from xbarsim.programming import WriteVerify
from xbarsim.programming.improved import ImprovedTuning

EXACT = ChipConfig(kernel=8, algorithm=None)
# the module, not the function ``xbarsim.nn.deploy`` that shadows it
deploy_module = importlib.import_module("xbarsim.nn.program")


def _small_convnet() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 5, 3, padding=1, stride=1),
        nn.BatchNorm2d(5),
        nn.ReLU(),
        nn.Conv2d(5, 4, 2, stride=2, padding="valid", bias=False),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 7),
        nn.ReLU(),
        nn.Linear(7, 3),
    ).eval()


def test_convert_swaps_layers_and_keeps_outputs() -> None:
    model = _small_convnet()
    analog = convert(model, EXACT)
    kinds = [type(m) for _, m in analog_layers(analog)]
    assert kinds == [AnalogConv2d, AnalogConv2d, AnalogLinear, AnalogLinear]
    assert not any(isinstance(m, AnalogLinear) for m in model.modules())  # original untouched
    x = torch.rand(4, 2, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(analog(x), model(x), rtol=1e-5, atol=1e-6)


def test_deploy_exact_targets_reproduce_float_model() -> None:
    """With targets loaded exactly (algorithm=None) the deployed model equals the float one."""
    model = _small_convnet()
    dep = program_model(model, EXACT, seed=0)
    # conv1 18x5 -> 3x1 kernels, conv2 20x4 -> 3x1, fc1 36x7 -> 5x1, fc2 7x3 -> 1x1; x2 (G+/-)
    assert dep.n_kernels == 2 * (3 + 3 + 5 + 1)
    assert dep.result is None
    x = torch.rand(4, 2, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(dep.model(x), model(x), rtol=1e-4, atol=1e-5)
    assert all(bool(layer.deployed) for _, layer in analog_layers(dep.model))


def test_deploy_programs_all_kernels_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ideal devices (sigma 0, no faults, 0.2 % tolerance): outputs within 1 % of float."""
    calls = []
    original = deploy_module.program

    def counting(xbars, targets, *args, **kwargs):
        calls.append(np.shape(targets))
        return original(xbars, targets, *args, **kwargs)

    monkeypatch.setattr(deploy_module, "program", counting)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
    device = preset("tio2-64x64-paper").with_sigma(0.0).without_faults()
    chip = ChipConfig(
        device=device,
        kernel=4,
        algorithm=WriteVerify.thesis(tolerance=0.002, passes=3),
        engine="reference",
    )
    dep = program_model(model, chip, seed=3)
    assert calls == [(dep.n_kernels, 4, 4)]
    assert dep.n_kernels == 2 * (2 * 2 + 2 * 1)
    assert dep.result is not None and not (dep.result.abandoned | dep.result.unswitchable).any()
    # only the cells carrying weights are tuned: layer 0 (6 inputs, 5 outputs) fills 30 of
    # its 2 x 2 kernels' 64 cells, layer 1 (5 inputs, 2 outputs) 10 of 32; G+ and G- alike
    assert np.array_equal(dep.result.skipped, kernel_padding(dep.layers, dep.n_kernels, 4))
    assert int(dep.result.skipped.sum()) == 2 * ((64 - 30) + (32 - 10))
    assert (dep.result.pulses[dep.result.skipped] == 0).all()
    x = torch.rand(16, 6)
    with torch.no_grad():
        ref, out = model(x), dep.model(x)
    assert float((out - ref).abs().max() / ref.abs().max()) < 0.01


def test_conv_same_padding_and_dilation_exact() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding="same", dilation=2), nn.Conv2d(3, 2, 3, stride=2, padding=1)
    ).eval()
    x = torch.rand(2, 1, 9, 9)
    deployed = deploy(model, EXACT)
    with torch.no_grad():
        torch.testing.assert_close(deployed(x), model(x), rtol=1e-4, atol=1e-5)


def test_deployed_model_save_load(tmp_path: Path) -> None:
    model = _small_convnet()
    chip = ChipConfig(kernel=8, algorithm=None, input_voltage_v=0.2)
    deployed = deploy(model, chip, seed=0)
    path = tmp_path / "deployed.pt"
    torch.save(deployed.state_dict(), path)
    fresh = convert(_small_convnet(), chip).eval()
    fresh.load_state_dict(torch.load(path, weights_only=True))
    x = torch.rand(3, 2, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), deployed(x))
    layer = analog_layers(fresh)[0][1]
    assert bool(layer.deployed) and float(layer.input_voltage_v) == pytest.approx(0.2)


def test_hat_perturbation_distribution_and_weights_untouched() -> None:
    zeta = 0.2
    torch.manual_seed(0)
    layer = AnalogLinear(60, 50, zeta=zeta).train()
    layer.generator = torch.Generator().manual_seed(5)
    before = layer.weight.detach().clone()
    gp, gm, gp2, gm2 = layer.hat_pair()
    rp = (gp2 / gp - 1).detach().numpy().ravel()
    rm = (gm2 / gm - 1).detach().numpy().ravel()
    for r in (rp, rm):
        assert r.min() >= -zeta and r.max() <= zeta
        assert stats.kstest(r, stats.uniform(loc=-zeta, scale=2 * zeta).cdf).pvalue > 1e-3
        assert abs(r.std() - zeta / np.sqrt(3)) < 0.01
    assert abs(np.corrcoef(rp, rm)[0, 1]) < 0.05  # independent for G+ and G-
    # a training step's forward/backward never writes the stored weights, gradients reach them
    x = torch.rand(8, 60)
    y1 = layer(x)
    y1.sum().backward()
    torch.testing.assert_close(layer.weight.detach(), before, rtol=0, atol=0)
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    y2 = layer(x)
    assert not torch.allclose(y1, y2)  # a fresh perturbation every pass
    layer.eval()
    torch.testing.assert_close(layer(x), x @ before.T + layer.bias)


def test_hat_training_is_deterministic_and_keeps_weights_ideal() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((64, 1, 4, 4)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    data = Dataset("toy", x, y, x[:8], y[:8], classes=3)
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        model = convert(nn.Sequential(nn.Flatten(), nn.Linear(16, 3)), zeta=0.1)
        losses = train(model, data, epochs=2, batch_size=16, seed=4)
        assert len(losses) == 2
        weights.append(model[1].weight.detach().clone())
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)
    set_zeta(model, 0.0)
    assert model[1].zeta == 0.0


@pytest.mark.parametrize("zeta", [-0.1, 1.0, 1.5, float("nan"), "x"])
def test_zeta_out_of_range(zeta: object) -> None:
    with pytest.raises(XbarsimInputError, match="zeta") as info:
        convert(nn.Linear(2, 2), zeta=zeta)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("layer", "name"),
    [
        (nn.Conv1d(2, 3, 3), "Conv1d"),
        (nn.ConvTranspose2d(2, 3, 3), "ConvTranspose2d"),
        (nn.LSTM(4, 4), "LSTM"),
        (nn.Embedding(5, 3), "Embedding"),
        (nn.Conv2d(2, 4, 3, groups=2), "groups=2"),
        (nn.Conv2d(2, 4, 3, padding_mode="reflect"), "reflect"),
        (nn.Conv2d(2, 4, 2, padding="same"), "same"),
    ],
)
def test_unmappable_layer_named(layer: nn.Module, name: str) -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(layer))
    with pytest.raises(XbarsimInputError, match=name) as info:
        convert(model)
    message = str(info.value)
    assert "'1.0'" in message and "\n" not in message


def test_load_cifar10_pickles(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
            b"labels": list(rng.integers(0, 10, 4)),
        }
        with open(tmp_path / name, "wb") as fh:
            pickle.dump(batch, fh)
    data = load_cifar10(tmp_path)
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_test.shape == (4, 3, 32, 32)
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    (tmp_path / "test_batch").unlink()
    with pytest.raises(XbarsimInputError, match="cifar10-dir: no test_batch"):
        load_cifar10(tmp_path)


def test_deploy_with_improved_tuning_pairs_kernels() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(10, 6))
    device = preset("thesis-uniformity").with_sigma(0.1)
    chip = ChipConfig(device=device, kernel=8, algorithm=ImprovedTuning.thesis(), engine="cpu")
    dep = program_model(model, chip, seed=0)
    record = dep.layers[0]
    assert (record.plus, record.minus) == (slice(0, 2), slice(2, 4))
    x = torch.rand(8, 10)
    with torch.no_grad():
        ref, out = model(x), dep.model(x)
    assert float((out - ref).abs().max() / ref.abs().max()) < 0.1

"""Deployed networks at operating conditions (Deployment.at, layer 6)."""

import numpy as np
import pytest
import torch
from torch import nn

from xbarsim.devices import device_config_from_dict
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping import ChipConfig
from xbarsim.nn import program_model


def deployment(noise: float = 0.0, algorithm: bool = False, nonlinearity: str = "thesis-poly"):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 5, bias=False))
    dev = device_config_from_dict(
        {
            "preset": "thesis-uniformity",
            "conditions": {
                "read_noise": {"sigma_rel": noise},
                "nonlinearity": {"kind": nonlinearity},
            },
        }
    )
    chip = ChipConfig(device=dev, kernel=16, algorithm=None, engine="cpu")
    if algorithm:
        chip = chip.model_copy(update={"algorithm": ChipConfig().algorithm})
    return program_model(model, chip, seed=2)


def test_nominal_conditions_reproduce_the_deployed_model_exactly():
    dep = deployment()
    x = torch.rand(6, 12, dtype=torch.float32)
    with torch.no_grad():
        before = dep.model(x)
        with dep.at(nonlinear=False, noise=False) as model:
            nominal = model(x)
        after = dep.model(x)
    assert torch.equal(before, nominal) and torch.equal(before, after)


@pytest.mark.parametrize("kind", ["thesis-poly", "sinh"])
def test_layer_at_conditions_matches_the_crossbar_view_per_device(kind):
    dep = deployment(nonlinearity=kind)
    dep.model.double()
    x = torch.rand(7, 12, dtype=torch.float64)
    with torch.no_grad(), dep.at(temp_c=70.0, age_h=5e4) as model:
        y = model(x).numpy()
    layer = model[0]
    view = dep.crossbars().at(temp_c=70.0, age_h=5e4)
    v = np.zeros((7, 16))
    v[:, :12] = x.numpy() * 0.1
    currents = view.vmm_reference(v)
    expected = (currents[0] - currents[1])[:, :5] * float(layer.weight_scale) / 0.1
    np.testing.assert_allclose(y, expected, rtol=1e-8, atol=1e-10)


def test_conditions_change_the_output_and_are_undone_even_on_error():
    dep = deployment(algorithm=True)
    x = torch.rand(3, 12)
    with torch.no_grad():
        base = dep.model(x)
        with dep.at(temp_c=100.0, age_h=1e6) as model:
            hot = model(x)
        assert not torch.allclose(base, hot)
        with pytest.raises(RuntimeError), dep.at(temp_c=90.0):
            raise RuntimeError("boom")
        assert torch.equal(dep.model(x), base)
        assert dep.model[0].conditions is None


def test_read_noise_in_a_deployed_model_is_seeded_and_zero_mean():
    dep = deployment(noise=0.05)
    x = torch.rand(1, 12).repeat(4000, 1)
    with torch.no_grad():
        with dep.at(nonlinear=False, seed=1) as model:
            a = model(x)
        with dep.at(nonlinear=False, seed=1) as model:
            b = model(x)
        with dep.at(nonlinear=False, seed=2) as model:
            c = model(x)
        clean = dep.model(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    spread = (a - clean).std(dim=0)
    assert torch.all(spread > 0)
    assert torch.all((a - clean).mean(dim=0).abs() < 4 * spread / np.sqrt(4000))


def test_deployment_conditions_bad_input():
    dep = deployment()
    with pytest.raises(XbarsimInputError, match=r"^age_h: "), dep.at(age_h=-5.0):
        pass
    with pytest.raises(XbarsimInputError, match=r"^temp_c: "), dep.at(temp_c=150.0, strict=True):
        pass
    with torch.no_grad(), dep.at(strict=True) as model:
        with pytest.raises(XbarsimInputError, match=r"^\|voltage\|: "):
            model(torch.full((1, 12), 3.0))


def test_a_deployed_model_itself_accepts_conditions():
    from xbarsim.nn import at, deploy

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 5))
    chip = ChipConfig(kernel=16, algorithm=None, engine="cpu")
    analog = deploy(model, chip, seed=3)
    x = torch.rand(4, 12)
    with torch.no_grad():
        base = analog(x)
        with at(analog, temp_c=90.0) as hot:
            assert hot is analog and not torch.allclose(hot(x), base)
        assert torch.equal(analog(x), base)
    with pytest.raises(XbarsimInputError, match=r"^model: not deployed"), at(model):
        pass


def test_converting_a_deployed_model_does_not_copy_its_crossbars():
    from xbarsim.nn import convert, deploy

    chip = ChipConfig(kernel=16, algorithm=None, engine="cpu")
    analog = deploy(nn.Sequential(nn.Linear(12, 5)), chip, seed=3)
    copied = convert(analog, chip)
    assert not hasattr(copied, "xbarsim_deployment")
    assert hasattr(analog, "xbarsim_deployment")


def test_conditions_compose_with_line_resistance_instead_of_dropping_it():
    from xbarsim.crossbar import lines_preset
    from xbarsim.crossbar.irdrop import effective_matrix
    from xbarsim.nn import program_model as program

    chip = ChipConfig(kernel=16, algorithm=None, engine="cpu")
    lines = lines_preset("paper").model_copy(update={"r_row_ohm": 50.0, "r_col_ohm": 50.0})
    dep = program(nn.Sequential(nn.Linear(12, 5, bias=False)), chip, seed=1, lines=lines)
    x = torch.rand(7, 12)
    with torch.no_grad():
        y_lines = dep.model(x)
        with dep.at(nonlinear=False, noise=False) as model:
            assert torch.equal(model(x), y_lines)  # nominal: the lines alone, bit for bit
        with dep.at(temp_c=85.0, age_h=1e4, nonlinear=False, noise=False) as model:
            y_hot = model(x)
    g = dep.crossbars().at(85.0, 1e4, nonlinear=False, noise=False).conductance
    m = effective_matrix(g, lines)
    layer = dep.model[0]
    w = float(layer.weight_scale) * (m[0, :12, :5] - m[1, :12, :5])
    np.testing.assert_allclose(y_hot.numpy(), x.double().numpy() @ w, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(y_hot, y_lines)


@pytest.mark.parametrize("kind", ["thesis-poly", "sinh"])
def test_shared_square_product_equals_the_separate_products(kind):
    from dataclasses import replace

    dep = deployment(noise=0.05, nonlinearity=kind)
    dep.model.double()
    x_pos = torch.rand(9, 12, dtype=torch.float64)
    x_mixed = x_pos - 0.5
    with torch.no_grad(), dep.at(temp_c=70.0, age_h=5e4) as model:
        layer = model[0]
        shared = layer.conditions
        assert (shared.squared is not None) == (kind == "thesis-poly")
        separate = replace(shared, squared=None)
        for x in (x_pos, x_mixed):
            shared.generator.manual_seed(11)
            a = shared.matmul(x)
            shared.generator.manual_seed(11)
            b = separate.matmul(x)
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)
            assert not torch.equal(a, layer.conditions.matmul(x))  # fresh noise


def test_read_noise_of_a_deployed_layer_agrees_in_distribution_with_per_device_sampling():
    from scipy import stats

    dep = deployment(noise=0.05)
    dep.model.double()
    n = 3000
    pvalues = []
    for seed in range(4):
        x = torch.rand(1, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad(), dep.at(temp_c=60.0, seed=seed) as model:
            assert model[0].conditions.squared is not None  # nonnegative inputs: shared path
            y = model(x.repeat(n, 1)).numpy()
            scale = float(model[0].weight_scale) / float(model[0].input_voltage_v)
        view = dep.crossbars().at(temp_c=60.0, seed=seed)
        v = np.zeros((n, 16))
        v[:, :12] = x.numpy() * 0.1
        reference = view.vmm_reference(v)  # per-device noise draws
        slow = (reference[0] - reference[1])[:, :5] * scale
        sigma = view.noise_sigma()
        expected = np.sqrt((v[0] ** 2) @ (sigma[0] ** 2 + sigma[1] ** 2))[:5] * scale
        np.testing.assert_allclose(y.std(axis=0), expected, rtol=0.08)
        tolerance = float(expected.max()) / 8  # about 5 standard errors of the difference
        np.testing.assert_allclose(y.mean(axis=0), slow.mean(axis=0), atol=tolerance)
        pvalues += [stats.ks_2samp(y[:, c], slow[:, c]).pvalue for c in range(5)]
    assert min(pvalues) > 1e-4 and np.median(pvalues) > 0.05


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch)")
@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_conditions_on_a_cuda_model_match_the_cpu_model(noise):
    """Temperature, ageing and nonlinearity agree on CPU and GPU to float64 rounding; with
    read noise the draws differ (device generators) but the spread agrees."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 25, 5)
    )
    dev = device_config_from_dict(
        {"preset": "thesis-uniformity", "conditions": {"read_noise": {"sigma_rel": noise}}}
    )
    dep = program_model(model, ChipConfig(device=dev, kernel=16, algorithm=None), seed=4)
    dep.model.double()
    x = torch.rand(1 if noise else 6, 2, 5, 5, dtype=torch.float64)
    x = x.repeat(2000, 1, 1, 1) if noise else x  # one input read 2000 times: noise only
    with torch.no_grad():
        with dep.at(temp_c=80.0, age_h=3e4, seed=1) as m:
            cpu = m(x)
        dep.model.cuda()
        with dep.at(temp_c=80.0, age_h=3e4, seed=1) as m:
            gpu = m(x.cuda()).cpu()
        dep.model.cpu()
    if noise:
        np.testing.assert_allclose(gpu.mean(0), cpu.mean(0), atol=float(cpu.std(0).max()) / 8)
        np.testing.assert_allclose(gpu.std(0), cpu.std(0), rtol=0.1)
    else:
        torch.testing.assert_close(gpu, cpu, rtol=1e-10, atol=1e-12)


def test_deferred_range_check_warns_and_refuses_before_the_model_returns():
    """On an accelerator the bound is checked after the forward pass, not per layer."""
    from xbarsim.devices import ExtrapolationWarning

    dep = deployment()
    x = torch.full((2, 12), 3.0)  # 0.3 V: beyond the fitted 0.1 V
    for strict in (False, True):
        with torch.no_grad(), dep.at(strict=strict) as model:
            check = model[0].conditions.range_check
            check.defer = True
            assert check.record(x, None, 0.1) is False and len(check.pending) == 1
            check.pending.clear()
            if strict:
                with pytest.raises(XbarsimInputError, match=r"^\|voltage\|: "):
                    model(x)  # raised by the model's forward hook, no output returned
            else:
                with pytest.warns(ExtrapolationWarning, match="voltage"):
                    model(x)
            assert check.pending == []
    with torch.no_grad(), dep.at() as model:  # within range: nothing recorded stays
        model[0].conditions.range_check.defer = True
        model(torch.full((2, 12), 0.5))
        assert model[0].conditions.range_check.pending == []

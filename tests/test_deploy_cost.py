"""Layer 6: a deployment reports the chip's energy, latency, area and programming cost."""

import pytest
import torch
from torch import nn

from xbarsim.devices import preset
from xbarsim.mapping import ChipConfig
from xbarsim.nn import program_model
from xbarsim.programming import WriteVerify
from xbarsim.programming.touch_up import TouchUp


def test_deployed_mlp_reports_thesis_counts_and_breakdowns():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    chip = ChipConfig(kernel=64, algorithm=None)
    cost = program_model(model, chip).cost(chip)
    # deploy keeps biases off the crossbars (no bias row): 784 x 64 + 64 x 10 weights
    assert cost["synapses"] == 50_816 and cost["devices"] == 2 * 50_816
    assert cost["dacs"] == 784 and cost["neurons"] == 74
    assert cost["ops_per_inference"] == 2 * 50_816
    assert cost["tiles"] == 26  # layer 1: 13 row blocks x 2 signs; layer 2 one 64-row block
    assert cost["arrays"] == 28
    assert cost["power_w"] == sum(cost["power_breakdown_w"].values())
    assert "programming_energy_j" not in cost  # targets loaded exactly: nothing programmed


def test_programmed_deployment_adds_programming_cost():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
    chip = ChipConfig(
        device=preset("tio2-64x64-paper").with_sigma(0.05),
        kernel=4,
        algorithm=WriteVerify.thesis(passes=2),
        engine="reference",
    )
    dep = program_model(model, chip, seed=2)
    cost = dep.cost(chip)
    assert cost["pulses"] == dep.result.total_pulses > 0
    assert cost["programming_energy_j"] > 0 and cost["programming_time_s"] > 0
    # per layer and per component, from the amplitudes the run recorded
    assert cost["programming_method"] == "pulse amplitudes recorded per device"
    layers = cost["programming_layers"]
    assert list(layers) == ["0", "2"]
    for key in ("programming_energy_j", "programming_time_s", "pulses"):
        assert sum(layer[key] for layer in layers.values()) == pytest.approx(cost[key], 1e-12)
    first = dep.layers[0]  # its G+ kernels, then its G- kernels
    assert layers["0"]["pulses"] == (
        dep.result.pulses[first.plus].sum() + dep.result.pulses[first.minus].sum()
    )
    parts = cost["programming_energy_breakdown_j"]
    assert sum(parts.values()) == pytest.approx(cost["programming_energy_j"], rel=1e-12)
    assert parts["half-selected"] > 0 and parts["other"] == 0.0  # V/2: no third fraction
    # the activity path reports the same programming cost
    activity = dep.cost(chip, activity=torch.zeros(3, 6).numpy())
    assert activity["programming_energy_j"] == cost["programming_energy_j"]
    assert activity["programming_layers"] == layers


@pytest.mark.parametrize("engine", ["reference", "cpu"])
def test_deployment_keeps_write_power_per_kernel_not_per_device(engine):
    """A deployment keeps no per-device squared-amplitude sums (a network has millions of
    devices), only each kernel's write power; with the touch-up passes on, their power is
    added and the cost is still the logged one (it used to fall back to the ramp grid)."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
    base = ChipConfig(
        device=preset("tio2-64x64-paper").with_sigma(0.25), kernel=4,
        algorithm=WriteVerify.thesis(passes=2), engine=engine,
    )
    plain = program_model(model, base, seed=3)
    touched = program_model(model, base.model_copy(update={"touch_up": TouchUp()}), seed=3)
    for dep in (plain, touched):
        assert dep.result.pulse_v2_sum is None
        if engine == "cpu":  # the compiled engines skip the per-pass history it does not keep
            assert dep.result.history["p99"].shape == (dep.n_kernels, 0)
        assert dep.result.pulse_power_w.shape == (dep.n_kernels, 3)
        assert dep.cost(base)["programming_method"] == "pulse amplitudes recorded per device"
    assert touched.result.pulses_per_pass.shape[1] == 4  # two passes, two touch-up passes
    assert touched.cost(base)["write_energy_j"] >= plain.cost(base)["write_energy_j"]

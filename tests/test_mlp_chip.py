"""Layer 5/7: the thesis's 784-64-10 MLP chip (mapping, inference in physical units, cost)."""

import json

import numpy as np
import pytest

from xbarsim.chip.cost import chip_cost
from xbarsim.chip.mlp import map_mlp, run_mlp, unit_logits
from xbarsim.cli import main
from xbarsim.errors import XbarsimInputError
from xbarsim.periphery import DAC


def _weights(seed, inputs=784, hidden=64, outputs=10):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(0, 0.05, (inputs, hidden)),
        rng.normal(0, 0.05, hidden),
        rng.normal(0, 0.2, (hidden, outputs)),
        rng.normal(0, 0.1, outputs),
    )


def test_thesis_counts():
    mapping = map_mlp(*_weights(0))
    assert mapping.layer1.shape == (26, 64, 64)
    assert mapping.layer2.shape == (2, 65, 10)
    assert mapping.layer1.size + mapping.layer2.size == 107_796  # physical devices
    cost = chip_cost(mapping.groups())
    assert cost["synapses"] == 50_890
    assert cost["devices"] == 101_780
    assert cost["neurons"] == 74
    assert cost["tiles"] == 26
    assert cost["dacs"] == 785
    assert cost["ops_per_inference"] == 101_780
    assert list(cost["latency_breakdown_s"]) == [
        "dac",
        "layer 1 local sensing",
        "layer 1 neurons",
        "layer 2 neurons",
        "adc",
    ]
    assert cost["ops_per_s"] == pytest.approx(101_780 / cost["latency_s"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ideal_conductances_reproduce_the_float_network(seed):
    """Exact targets: the chip's output currents, converted back, equal the float MLP on
    the DAC-quantized inputs."""
    w1, b1, w2, b2 = _weights(seed)
    mapping = map_mlp(w1, b1, w2, b2)
    x = np.random.default_rng(seed + 10).uniform(0, 1, (20, 784))
    act = run_mlp(mapping, mapping.layer1, mapping.layer2, x)
    dac = DAC.thesis()
    xq = dac.convert(x * dac.full_scale_v).value / dac.full_scale_v
    expect = np.maximum(xq @ w1 + b1, 0) @ w2 + b2
    np.testing.assert_allclose(unit_logits(mapping, act), expect, rtol=1e-9, atol=1e-9)
    # the arrays drew current, and the hidden p99 maps to 0.28 V
    assert np.all(act.array_current_a["layer 1"] > 0)
    assert np.percentile(act.hidden_v, 99) == pytest.approx(0.28, rel=0.05)


def test_activity_power_replaces_the_formula():
    mapping = map_mlp(*_weights(0))
    formula = chip_cost(mapping.groups())
    measured = chip_cost(mapping.groups(), array_power_w={"layer 1": 1.0})
    assert measured["power_breakdown_w"]["layer 1 arrays"] == 1.0
    assert measured["power_w"] > formula["power_w"]


def test_bad_input(capsys):
    w1, b1, w2, b2 = _weights(0)
    with pytest.raises(XbarsimInputError, match="weights"):
        map_mlp(w1, b1, w2[:10], b2)
    mapping = map_mlp(w1, b1, w2, b2)
    with pytest.raises(XbarsimInputError, match="x: shape"):
        run_mlp(mapping, mapping.layer1, mapping.layer2, np.zeros((2, 100)))
    with pytest.raises(XbarsimInputError, match="groups"):
        chip_cost([])
    assert main(["mlp-chip", "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err
    assert main(["mlp-chip", "--mnist-dir", "/nonexistent/dir"]) == 2
    capsys.readouterr()
    assert main(["mlp-chip", "--dataset", "emnist"]) == 2
    assert "dataset" in capsys.readouterr().err
    assert main(["mlp-chip", "--fold", "5"]) == 2
    assert "fold" in capsys.readouterr().err


@pytest.mark.slow
def test_mlp_chip_command_end_to_end(capsys):
    assert (
        main(["mlp-chip", "--epochs", "5", "--engine", "cpu", "--no-progress", "--json", "-"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    for key in (
        "synapses",
        "devices",
        "tiles",
        "dacs",
        "accuracy",
        "latency_s",
        "ops_per_inference",
        "energy_per_inference_j",
        "ops_per_j",
        "ops_per_s",
        "area_mm2",
        "programming_energy_j",
        "programming_time_s",
    ):
        assert key in data
    assert data["accuracy"] > 0.8
    assert data["published"]["ops_per_j"] == 1582e9
    assert data["dataset"] == "mnist-5k" and data["test_images"] == 1000

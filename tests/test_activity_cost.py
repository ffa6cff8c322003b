"""Costs from activity: every convolution window counted, energy from the column currents the
forward passes drew, and the thesis's MLP chip through this path equal to ``mlp-chip``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from xbarsim.chip.activity_cost import LayerActivity, activity_cost, run_programming_cost
from xbarsim.chip.cost import CostParameters, array_supply_power_w, chip_cost
from xbarsim.chip.mlp import map_mlp, run_mlp
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.nn import ChipConfig, convnet, mlp, seeded
from xbarsim.nn.activity import record_activity
from xbarsim.nn.deploy import program_model
from xbarsim.periphery import DAC
from xbarsim.programming import WriteVerify


def _layouts(dep):
    return {rec.name: rec.layout for rec in dep.layers}


def test_every_convolution_window_is_counted():
    with seeded(0):
        model = convnet(1, 8, 10, width=4)
    model.eval()
    dep = program_model(model, ChipConfig(kernel=16, algorithm=None))
    x = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    acts = {a.name: a for a in record_activity(dep.model, _layouts(dep), x, batch_size=2)}
    # conv 1: 8 x 8 windows of 3 x 3 x 1; conv 2 (after 2 x 2 pooling): 4 x 4 of 3 x 3 x 4
    assert acts["0"].evaluations == 3 * 64 and acts["4"].evaluations == 3 * 16
    assert acts["9"].evaluations == 3 and acts["12"].evaluations == 3
    assert all(a.samples == 3 for a in acts.values())
    cost = dep.activity_cost(x)
    per_layer = [9 * 4 * 64, 36 * 8 * 16, 32 * 16, 16 * 10]
    assert cost["ops_per_inference"] == 2 * sum(per_layer)
    assert [r["ops_per_inference"] for r in cost["layers"]] == [2 * n for n in per_layer]
    old = dep.cost(ChipConfig(kernel=16, algorithm=None))
    assert old["ops_per_inference"] == 2 * (9 * 4 + 36 * 8 + 32 * 16 + 16 * 10)
    # the same numbers through Deployment.cost(activity=...)
    again = dep.cost(ChipConfig(kernel=16, algorithm=None), activity=x)
    assert again["energy_per_inference_j"] == cost["energy_per_inference_j"]


def test_array_energy_is_the_column_currents_of_the_conductances_and_voltages():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 6), nn.ReLU(), nn.Linear(6, 3))
    chip = ChipConfig(kernel=8, algorithm=None, input_voltage_v=0.2)
    dep = program_model(model, chip)
    x = np.random.default_rng(1).random((5, 20)).astype(np.float32)
    (first, second) = record_activity(dep.model, _layouts(dep), x)
    assert (first.row_blocks, first.arrays, first.inputs, first.outputs) == (3, 6, 20, 6)
    # by hand: per row block of 8, |V @ G+| + |V @ G-| summed over columns
    layer = dep.model[0]
    v = np.pad(x.astype(np.float64) * 0.2, ((0, 0), (0, 4))).reshape(5, 3, 8)
    expected = 0.0
    for g in (layer.g_plus, layer.g_minus):
        gb = np.pad(g.double().numpy(), ((0, 4), (0, 0))).reshape(3, 8, 6)
        expected += np.abs(np.einsum("ebs,bso->ebo", v, gb)).sum()
    assert first.column_current_a == pytest.approx(expected, rel=1e-6)  # float32 voltage
    p = CostParameters()
    cost = activity_cost([first, second], p, converters="network")
    t = cost["latency_s"]
    assert cost["energy_breakdown_j"]["0 arrays"] == pytest.approx(p.v_dd_v * expected / 5 * t)
    assert cost["energy_per_inference_j"] == pytest.approx(sum(cost["energy_breakdown_j"].values()))
    assert cost["latency_s"] == pytest.approx(sum(cost["latency_breakdown_s"].values()))
    # converters on every layer: one more DAC and ADC stage, more energy
    per_layer = activity_cost([first, second], p, converters="layer")
    assert per_layer["dacs"] == 20 + 6 and per_layer["adcs"] == 6 + 3
    assert per_layer["latency_s"] > t
    with pytest.raises(XbarsimInputError, match="converters"):
        activity_cost([first], p, converters="everywhere")
    with pytest.raises(XbarsimInputError, match="same inferences"):
        activity_cost([first, LayerActivity("x", 6, 3, 2, 8, 8, 1, 4, 4, 1.0)], p)


def test_programming_energy_and_time_from_the_run():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
    alg = WriteVerify.thesis(passes=2)
    chip = ChipConfig(device=preset("tio2-64x64-paper").with_sigma(0.05), kernel=4,
                      algorithm=alg, engine="cpu")
    dep = program_model(model, chip, seed=2)
    cost = dep.activity_cost(np.ones((2, 6), dtype=np.float32))
    assert cost["pulses"] == dep.result.total_pulses > 0
    assert cost["programming_energy_j"] > 0 and cost["programming_time_s"] > 0
    assert run_programming_cost(None, None)["programming_energy_j"] == 0.0


def test_thesis_mlp_chip_through_the_deploy_path_matches_mlp_chip():
    """784-64-10 on 64 x 64 kernels (layer 1: 2 x 13 tiles), converters on the network's
    ends, rows driven as the chip drives them (pixels at the 280 mV DAC full scale, hidden
    neurons at their volts per unit activation) and the chip's neuron gains: energy and
    latency per inference within 1 % of the MLP chip's own accounting. What remains is the
    MLP chip's bias rows (the deployment keeps biases digital) and its 5-bit input steps."""
    rng = np.random.default_rng(0)
    x = rng.random((40, 784)).astype(np.float32) * (rng.random((40, 784)) < 0.3)
    with seeded(0):
        model = mlp(784, 64, 10)
    lin1, lin2 = model[1], model[3]
    with torch.no_grad():
        w1, b1 = lin1.weight.T.double().numpy(), lin1.bias.double().numpy()
        w2, b2 = lin2.weight.T.double().numpy(), lin2.bias.double().numpy()
    mapping = map_mlp(w1, b1, w2, b2)
    act = run_mlp(mapping, mapping.layer1, mapping.layer2, x)
    p = CostParameters()
    r_f = {"layer 1": act.r_f_gs_ohm, "layer 2": act.r_f_out_ohm}
    reference = chip_cost(
        mapping.groups(),
        p,
        array_power_w={k: array_supply_power_w(v, p) for k, v in act.array_current_a.items()},
        neuron_r_f_ohm=r_f,
    )
    dac = DAC.thesis()
    dep = program_model(model, ChipConfig(kernel=64, algorithm=None,
                                          input_voltage_v=dac.full_scale_v))
    volts_per_unit = act.r_f_gs_ohm * dac.full_scale_v * mapping.g_span_s / mapping.w1_max
    dep.model[3].input_voltage_v.fill_(volts_per_unit)
    cost = dep.activity_cost(
        x, converters="network", neuron_r_f_ohm={"1": r_f["layer 1"], "3": r_f["layer 2"]}
    )
    assert cost["arrays"] == reference["arrays"] == 28
    assert cost["layers"][0]["row_blocks"] == 13
    assert cost["latency_s"] == pytest.approx(reference["latency_s"], rel=1e-2)
    assert cost["energy_per_inference_j"] == pytest.approx(
        reference["energy_per_inference_j"], rel=1e-2
    )
    arrays = cost["energy_breakdown_j"]["1 arrays"] / cost["energy_per_inference_j"]
    assert arrays > 0.3  # the layer-1 arrays are the largest share, as Fig. 56b says


@settings(max_examples=25, deadline=None)
@given(
    scale=st.floats(0.1, 10.0),
    evaluations=st.integers(1, 50),
    samples=st.integers(1, 5),
    blocks=st.integers(1, 4),
)
def test_array_energy_is_linear_in_the_current_and_ops_count_every_evaluation(
    scale, evaluations, samples, blocks
):
    """Ohm's law: scaling every row voltage scales the column currents and hence the arrays'
    energy by the same factor, and nothing else; ops are 2 per weight per evaluation."""
    p = CostParameters()
    n = evaluations * samples

    def layer(current: float) -> LayerActivity:
        return LayerActivity("a", 16 * blocks, 8, 2 * blocks, 16, 16, blocks, samples, n, current)

    base = activity_cost([layer(1e-3)], p)
    scaled = activity_cost([layer(1e-3 * scale)], p)
    e0, e1 = base["energy_breakdown_j"], scaled["energy_breakdown_j"]
    assert e1["a arrays"] == pytest.approx(scale * e0["a arrays"], rel=1e-12)
    assert all(e1[k] == pytest.approx(e0[k], rel=1e-12) for k in e0 if k != "a arrays")
    assert scaled["latency_s"] == base["latency_s"]
    assert base["ops_per_inference"] == pytest.approx(2 * 16 * blocks * 8 * evaluations)
    # the latency counts every window: the chain is evaluations times one evaluation's
    one = activity_cost([LayerActivity("a", 16 * blocks, 8, 2 * blocks, 16, 16, blocks, 1, 1,
                                       1e-3)], p)
    assert base["latency_s"] == pytest.approx(evaluations * one["latency_s"], rel=1e-12)

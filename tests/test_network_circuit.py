"""``--lines`` / ``--periphery`` of the deployed-network commands: reads through the circuit."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from xbarsim.crossbar import effective_matrix, lines_preset  # noqa: E402
from xbarsim.errors import XbarsimInputError  # noqa: E402
from xbarsim.experiments.digits_perceptron import (  # noqa: E402
    PerceptronSetup,
    read_through_circuit,
    readout,
)
from xbarsim.experiments.network_study import (  # noqa: E402
    Circuit,
    NetworkStudySetup,
    deployed_accuracy,
)
from xbarsim.mapping import ChipConfig  # noqa: E402
from xbarsim.nn.data import Dataset  # noqa: E402
from xbarsim.nn.deploy import program_model  # noqa: E402
from xbarsim.periphery.read_path import periphery_preset  # noqa: E402

EXACT = ChipConfig(kernel=8, algorithm=None)


def _slp(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random binary images, programmed-like conductances (2 instances) and their labels."""
    rng = np.random.default_rng(seed)
    x = (rng.random((120, 64)) < 0.4).astype(np.float64)
    g = rng.uniform(10e-6, 100e-6, (2, 64, 10))
    bias = np.zeros(10)
    return x, g, bias, readout(x, g[0], bias, PerceptronSetup())


def test_ideal_circuit_reads_like_the_exact_readout():
    x, g, bias, y = _slp(0)
    setup = PerceptronSetup(lines="ideal", periphery="none")
    got = read_through_circuit(g, x, y, bias, x, setup)
    exact = np.mean(readout(x, g, bias, setup) == y, axis=-1)
    assert got["accuracies"] == [float(a) for a in exact]
    assert got["accuracies"][0] == 1.0
    assert got["rates"]["crossbar"] == {
        "dac_clip_rate": 0.0, "tia_saturation_rate": 0.0, "adc_clip_rate": 0.0
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_more_converter_bits_read_closer_to_ideal(seed):
    x, g, bias, y = _slp(seed)
    coarse = read_through_circuit(g, x, y, bias, x, PerceptronSetup(periphery="thesis"))
    fine = read_through_circuit(g, x, y, bias, x, PerceptronSetup(periphery="thesis-8bit"))
    # calibrated on the very images read: nothing clips or saturates
    for r in (coarse, fine):
        assert all(v == 0.0 for v in r["rates"]["crossbar"].values())
    assert fine["accuracies"][0] >= 0.9
    assert fine["accuracies"][0] >= coarse["accuracies"][0]


def test_ir_drop_changes_the_reads():
    x, g, bias, y = _slp(3)
    paper = read_through_circuit(g, x, y, bias, x, PerceptronSetup(lines="paper"))
    assert paper["accuracies"][0] < 1.0


def test_bad_presets_name_the_field():
    with pytest.raises(XbarsimInputError, match="lines"):
        PerceptronSetup(lines="copper").validate()
    with pytest.raises(XbarsimInputError, match="periphery"):
        PerceptronSetup(periphery="dac").validate()
    with pytest.raises(XbarsimInputError, match="lines"):
        NetworkStudySetup(lines="copper").validate()
    with pytest.raises(XbarsimInputError, match="periphery"):
        NetworkStudySetup(periphery="x").validate()
    assert NetworkStudySetup().circuit is None
    assert periphery_preset("none") is None
    assert periphery_preset("thesis-8bit").adc.bits == 8


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 9), nn.ReLU(), nn.Linear(9, 4)).double()


def test_compute_with_effective_matrices_equals_deploying_with_lines():
    lines = lines_preset("paper").model_copy(update={"r_row_ohm": 5.0, "r_col_ohm": 5.0})
    x = torch.rand(32, 12, dtype=torch.float64)
    with_lines = program_model(_mlp(), EXACT, lines=lines)
    swapped = program_model(_mlp(), EXACT)
    with torch.no_grad():
        ideal = swapped.model(x)
        swapped.compute_with(effective_matrix(swapped.conductance, lines))
        torch.testing.assert_close(swapped.model(x), with_lines.model(x), rtol=1e-12, atol=0)
        assert float((swapped.model(x) - ideal).abs().max()) > 1e-6
    with pytest.raises(XbarsimInputError, match="matrices"):
        swapped.compute_with(np.zeros((1, 8, 8)))


def test_deployed_accuracy_reports_circuit_reads_and_rates_per_layer():
    rng = np.random.default_rng(0)
    xs = rng.random((80, 1, 3, 4))
    model = _mlp()
    with torch.no_grad():
        ys = model(torch.as_tensor(xs)).argmax(dim=1).numpy()
    data = Dataset("toy", xs[:40], ys[:40], xs[40:], ys[40:])
    ideal, kernels, none = deployed_accuracy(model, EXACT, 0, data)
    assert none is None and kernels == 12
    same, _, read = deployed_accuracy(model, EXACT, 0, data, Circuit("ideal", "none", 40))
    assert read == {"accuracy": ideal, "rates": {}} and same == ideal
    _, _, read = deployed_accuracy(model, EXACT, 0, data, Circuit("paper", "thesis-8bit", 40))
    assert set(read["rates"]) == {"1", "3"}
    assert read["accuracy"] >= 0.85

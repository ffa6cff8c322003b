"""Training-side temperature mitigations: sweep schedule, k-reference BN, batched evaluation."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from xbarsim.devices.temperature import MemristorTemperature
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping.currents import CurrentStack
from xbarsim.mapping.state_optimization import StateOptimization
from xbarsim.nn.reference_bn import ReferenceBatchNorm, check_k, reference_temperatures
from xbarsim.nn.temperature_training import triangular_temperature
from xbarsim.nn.thermal import ThermalWeights, check_temps


@pytest.fixture(autouse=True)
def one_thread():
    from xbarsim.nn import torch_threads

    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def trained():
    from chapter2_fixtures import small_trained_convnet

    return small_trained_convnet()


def _designs(scale: float) -> tuple[StateOptimization, StateOptimization]:
    stack = CurrentStack.memristor(memristor_temperature=MemristorTemperature(temp_scale=scale))
    return StateOptimization.baseline(stack, "mapping1"), StateOptimization.thesis(
        stack, "mapping1"
    )


def test_triangular_schedule_period_14() -> None:
    seq = [triangular_temperature(i) for i in range(30)]
    assert seq[:15] == [25, 35, 45, 55, 65, 75, 85, 95, 85, 75, 65, 55, 45, 35, 25]
    assert seq[14:28] == seq[:14] and max(seq) == 95


def test_reference_temperatures_and_selection_by_sensed_temperature() -> None:
    np.testing.assert_allclose(reference_temperatures(3), [37.5, 62.5, 87.5])
    sets = [{"bn.weight": torch.full((2,), float(j))} for j in range(3)]
    ref = ReferenceBatchNorm(reference_temperatures(3), sets)
    np.testing.assert_array_equal(
        ref.select([20, 37.5, 49.9, 50.1, 75.1, 100, 140]), [0, 0, 0, 1, 2, 2, 2]
    )
    again = ReferenceBatchNorm.from_state_dict(ref.state_dict())
    np.testing.assert_array_equal(again.select([30, 60, 90]), [0, 1, 2])
    assert float(again.sets[2]["bn.weight"][0]) == 2.0


def test_reference_bn_sets_apply_and_export(trained, tmp_path) -> None:
    model, data, _ = trained
    base, _ = _designs(5.0)
    small = data.subset(300, 100)
    ref = ReferenceBatchNorm.fit(model, small, base, k=2, seed=0)
    assert ref.k == 2 and not torch.equal(ref.sets[0]["1.bias"], ref.sets[1]["1.bias"])
    work = copy.deepcopy(model)
    assert ref.apply(work, 90.0) == 1
    assert torch.equal(work[1].bias, ref.sets[1]["1.bias"])
    torch.save(ref.state_dict(), tmp_path / "kref.pt")
    loaded = ReferenceBatchNorm.from_state_dict(torch.load(tmp_path / "kref.pt", weights_only=True))
    assert torch.equal(loaded.sets[1]["1.running_var"], ref.sets[1]["1.running_var"])


def test_batched_evaluation_equals_one_temperature_at_a_time(trained) -> None:
    from xbarsim.nn import accuracy
    from xbarsim.nn.thermal import accuracy_by_temperature, logits_by_temperature, weights_at

    model, data, _ = trained
    base, _ = _designs(5.0)
    temps = [25.0, 60.0, 100.0]
    thermal = ThermalWeights(model, base, temps)
    x = torch.as_tensor(data.x_test[:50])
    batched = logits_by_temperature(model, thermal, x)
    accs = accuracy_by_temperature(model, thermal, data.x_test, data.y_test)
    for i, temp in enumerate(temps):
        work = copy.deepcopy(model)
        with torch.no_grad():
            for m in (work[0], work[4], work[9], work[12]):
                m.weight.copy_(weights_at(m.weight, base, [temp])[0])
        work.eval()
        torch.testing.assert_close(batched[i], work(x), rtol=1e-5, atol=1e-5)
        assert accs[i] == accuracy(work, data.x_test, data.y_test)
    assert accs[0] == accuracy(model, data.x_test, data.y_test)  # exact at T0


def test_approach_ordering_over_seed_set(trained) -> None:
    from xbarsim.nn.temperature_training import train_temperature_sweep
    from xbarsim.nn.thermal import accuracy_by_temperature

    model, data, software = trained
    base, optimized = _designs(5.0)
    temps = [25.0, 50.0, 75.0, 100.0]

    def worst(m, design, ref=None) -> float:
        accs = accuracy_by_temperature(
            m,
            ThermalWeights(m, design, temps),
            data.x_test,
            data.y_test,
            None if ref is None else ref.stacked(temps),
        )
        return software - float(accs.min())

    baseline = worst(model, base)
    for seed in (0, 1, 2):
        tuned = copy.deepcopy(model)
        train_temperature_sweep(tuned, data, base, epochs=1, lr=1e-3, seed=seed)
        a1 = worst(tuned, base)
        a12 = worst(tuned, base, ReferenceBatchNorm.fit(tuned, data, base, k=3, seed=seed))
        a123 = worst(
            tuned, optimized, ReferenceBatchNorm.fit(tuned, data, optimized, k=3, seed=seed)
        )
        assert a123 <= a12 <= a1 <= baseline
        assert baseline - a123 > 0.3  # the mitigations buy most of the accuracy back


def test_bad_input() -> None:
    for k in (0, -1, 1.5, True):
        with pytest.raises(XbarsimInputError, match="k"):
            check_k(k)
    for temps in ([-5.0], [151.0], [np.nan], []):
        with pytest.raises(XbarsimInputError, match="temps"):
            check_temps(temps)

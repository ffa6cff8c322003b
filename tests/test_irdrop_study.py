"""``irdrop-study``: VMM error and perceptron accuracy vs size and wire resistance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xbarsim.cli import main
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments import irdrop_study as study


def test_vmm_points_zero_resistance_monotone_and_grid_independent():
    zero = study.vmm_point(8, 0.0, instances=3, inputs=20, seed=4)
    assert zero["error_p99_p95"] == 0.0
    low = study.vmm_point(8, 0.5, instances=3, inputs=20, seed=4)
    high = study.vmm_point(8, 2.0, instances=3, inputs=20, seed=4)
    assert 0 < low["error_mean_p50"] < high["error_mean_p50"]
    # first order in r: four times the resistance, about four times the error
    assert high["error_mean_mean"] / low["error_mean_mean"] == pytest.approx(4.0, rel=0.05)
    grid = study.run_irdrop_study([4, 8], [0.5, 2.0], instances=3, inputs=20, seed=4,
                                  network=False, through_lines=False)
    assert next(p for p in grid.vmm if p["size"] == 8 and p["r_wire_ohm"] == 2.0) == high
    assert {"error_mean_std", "error_p99_p5", "error_p99_p95"} <= set(high)


def test_programming_through_lines_cancels_linear_ir_drop():
    """Verify reads in read mode measure the effective-matrix entries inference uses, so
    tuning them to the targets removes the inference error; the price is higher
    conductances far from the drivers."""
    point = study.vmm_point(16, 2.0, instances=2, inputs=20, seed=1, through_lines=True)
    assert point["error_p99_p50"] > 1e-3
    assert point["verified_error_p99_p95"] < 1e-8
    assert point["verified_g_ratio_max_p50"] > 1.0 + point["error_p99_p50"]


def test_error_grows_with_size():
    small = study.vmm_point(8, 1.0, instances=2, inputs=20, seed=0)
    large = study.vmm_point(32, 1.0, instances=2, inputs=20, seed=0)
    assert large["error_p99_p50"] > 4 * small["error_p99_p50"]


@pytest.mark.parametrize(
    "kwargs",
    [{"sizes": []}, {"sizes": [0]}, {"r_wires": [-1.0]}, {"r_wires": [float("nan")]},
     {"instances": 0}, {"sizes": [10**6]}],
)
def test_bad_study_input(kwargs):
    args = {"sizes": [4], "r_wires": [1.0], "network": False, **kwargs}
    with pytest.raises(XbarsimInputError):
        study.run_irdrop_study(**args)


def test_cli_json_and_figures(tmp_path, capsys):
    code = main(["irdrop-study", "--sizes", "4,8", "--r-wire", "0,1", "--instances", "2",
                 "--inputs", "10", "--no-network", "--no-progress", "--out", str(tmp_path),
                 "--json", "-"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"vmm", "network", "software_accuracy", "provenance"}
    assert len(data["vmm"]) == 4 and data["network"] == []
    assert (tmp_path / "irdrop_vmm.png").exists() and (tmp_path / "results.json").exists()
    assert main(["irdrop-study", "--sizes", "4,x", "--no-network"]) == 2
    assert "sizes" in capsys.readouterr().err


def test_network_points_pipeline(monkeypatch):
    """Tiling, per-kernel solves and readout on a fixed linear classifier (no training):
    ideal lines reproduce the software accuracy, strong lines lose some of it, and
    programming through the lines restores it."""
    rng = np.random.default_rng(0)
    w = rng.uniform(0, 1, (64, 10))
    x = (rng.uniform(size=(300, 64)) > 0.5).astype(float)
    y = np.argmax(x @ w, axis=1)
    monkeypatch.setattr(study, "_perceptron", lambda seed: (w, np.zeros(10), x, y))
    software, records = study.network_points([16, 64], [0.0, 2.0, 5.0], seed=0,
                                             through_lines=True)
    assert software == 1.0
    by = {(r["size"], r["r_wire_ohm"]): r for r in records}
    assert by[(16, 0.0)]["accuracy"] == 1.0 and by[(64, 0.0)]["accuracy_drop"] == 0.0
    assert 0.0 < by[(16, 2.0)]["accuracy_drop"] < by[(64, 2.0)]["accuracy_drop"]
    assert by[(64, 2.0)]["accuracy_drop"] < by[(64, 5.0)]["accuracy_drop"]
    # verify reads through the lines cancel the drop while devices can follow (< 200 uS)
    assert by[(64, 2.0)]["verified_accuracy"] == 1.0
    assert by[(64, 5.0)]["accuracy"] < by[(64, 5.0)]["verified_accuracy"] < 1.0


@pytest.mark.slow
def test_network_accuracy_with_lines():
    pytest.importorskip("torch")
    software, records = study.network_points([64], [0.0, 5.0], seed=0)
    assert software > 0.8
    ideal, strong = records
    assert ideal["accuracy"] == software and ideal["accuracy_drop"] == 0.0
    assert strong["accuracy_drop"] > 0.0

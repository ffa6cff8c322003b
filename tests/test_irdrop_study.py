"""``irdrop-study``: VMM error and perceptron accuracy vs size and wire resistance."""

from __future__ import annotations

import json

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
                                  network=False)
    assert next(p for p in grid.vmm if p["size"] == 8 and p["r_wire_ohm"] == 2.0) == high
    assert {"error_mean_std", "error_p99_p5", "error_p99_p95"} <= set(high)


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
    assert set(data) == {"vmm", "network", "software_accuracy"}
    assert len(data["vmm"]) == 4 and data["network"] == []
    assert (tmp_path / "irdrop_vmm.png").exists() and (tmp_path / "results.json").exists()
    assert main(["irdrop-study", "--sizes", "4,x", "--no-network"]) == 2
    assert "sizes" in capsys.readouterr().err


def test_network_accuracy_with_lines():
    pytest.importorskip("torch")
    software, records = study.network_points([64], [0.0, 5.0], seed=0)
    assert software > 0.8
    ideal, strong = records
    assert ideal["accuracy"] == software and ideal["accuracy_drop"] == 0.0
    assert strong["accuracy_drop"] > 0.0

"""Seeds by point identity: the helper, and "a point alone equals the same point inside a
larger grid" for the sweep, vmm-study and network-study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xbarsim.cli.study_commands  # noqa: F401  (registers the commands on the app)
from xbarsim.cli import main
from xbarsim.errors import XbarsimInputError
from xbarsim.seeding import point_key, point_seed, point_seed_sequence
from xbarsim.sweeps import read_results, run_sweep, sweep_config_from_dict


def test_point_key_is_canonical() -> None:
    a = point_key({"size": 64, "sigma": 0.25, "device": "x"})
    b = point_key({"device": "x", "sigma": 0.250, "size": 64.0})
    assert a == b
    assert point_key({"size": 64, "sigma": 0.3}) != a


@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 512),
    st.floats(0.0, 2.0, allow_nan=False),
    st.integers(0, 10_000),
)
def test_point_seed_depends_on_identity_only(root: int, n: int, sigma: float, i: int) -> None:
    params = {"size": n, "sigma": sigma}
    assert point_seed(root, params, i) == point_seed(root, dict(reversed(params.items())), i)
    assert point_seed(root, params, i) != point_seed(root, params, i + 1)
    assert point_seed(root, params, i) != point_seed(root + 1, params, i)
    assert 0 <= point_seed(root, params, i) < 2**63
    ss = point_seed_sequence(root, params, i, 3)
    assert ss.spawn_key == (i, 3)


def test_unhashable_parameter_is_rejected() -> None:
    with pytest.raises(XbarsimInputError, match="point parameters"):
        point_key({"x": object()})


def _sweep(results: Path, sizes: list[int], sigmas: list[float], **extra: object) -> pd.DataFrame:
    cfg = sweep_config_from_dict(
        {
            "sizes": sizes,
            "sigmas": sigmas,
            "targets": [0.02],
            "algorithms": ["baseline"],
            "crossbars": 2,
            "weight_sets": 2,
            "inputs": 40,
            "seed": 5,
            "engine": "cpu",
            "results": str(results),
            **extra,
        }
    )
    run_sweep(cfg, workers=0)
    frame = read_results(results).drop(columns="task")
    return frame.sort_values(["size", "sigma", "crossbar", "weight_set"]).reset_index(drop=True)


def test_sweep_point_alone_equals_point_in_grid(tmp_path: Path) -> None:
    alone = _sweep(tmp_path / "alone", [6], [0.3])
    grid = _sweep(tmp_path / "grid", [4, 6, 8], [0.05, 0.3])
    inside = grid[(grid["size"] == 6) & np.isclose(grid["sigma"], 0.3)].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, inside)


def test_vmm_study_point_alone_equals_point_in_grid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def cases(sizes: str, sigmas: str) -> list[dict]:
        args = ["vmm-study", "--sizes", sizes, "--sigmas", sigmas, "--crossbars", "2"]
        args += ["--weights", "2", "--inputs", "40", "--seed", "3", "--engine", "cpu"]
        assert main([*args, "--workers", "0", "--no-progress", "--json", "-"]) == 0
        return json.loads(capsys.readouterr().out)["cases"]

    alone = cases("6", "0.3")
    grid = cases("4,6", "0.05,0.3")
    assert len(alone) == 1 and len(grid) == 4
    assert alone[0] in grid


def test_vmm_study_cap_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--max-amplitude / --abandon reach the algorithm; bad caps exit 2 before any work."""
    capped = _sweep(tmp_path / "c", [6], [0.35], max_amplitude_v=1.2, abandon_at_cap=True)
    free = _sweep(tmp_path / "f", [6], [0.35])
    assert not capped["tuning_error_p99"].equals(free["tuning_error_p99"])
    for bad, field in (("0", "max_amplitude_v"), ("0.2", "max_amplitude_v")):
        args = ["vmm-study", "--sizes", "4", "--sigmas", "0.1", "--max-amplitude", bad]
        assert main([*args, "--workers", "0"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and field in err and "\n" not in err


def test_network_study_point_alone_equals_point_in_grid() -> None:
    pytest.importorskip("torch")
    from xbarsim.experiments.network_study import NetworkStudySetup, run_network_study

    common = {"models": ("mlp",), "instances": 2, "epochs": 1, "n_test": 60, "engine": "cpu"}
    alone = run_network_study(NetworkStudySetup(sizes=(16,), sigmas=(0.35,), **common))
    # the point sits at index 1 of both option lists here, at index 0 when alone
    grid = run_network_study(NetworkStudySetup(sizes=(32, 16), sigmas=(0.05, 0.35), **common))
    point = next(c for c in grid.cases if c["size"] == 16 and c["sigma"] == 0.35)
    assert alone.cases[0]["accuracies"] == point["accuracies"]

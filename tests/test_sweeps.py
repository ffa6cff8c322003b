"""Dask sweeps: determinism across workers, resume, Parquet store, config errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

import xbarsim.cli.study_commands  # noqa: F401  (registers the commands on the app)
from xbarsim.cli import main
from xbarsim.errors import XbarsimInputError
from xbarsim.sweeps import ResultStore, plan, read_results, run_sweep, sweep_config_from_dict
from xbarsim.sweeps.store import META_NAME

ENGINE = "cpu"


def _config(results: Path, **overrides: object) -> dict:
    data = {
        "sizes": [4, 6],
        "sigmas": [0.05, 0.3],
        "targets": [0.02],
        "algorithms": ["baseline", "improved"],
        "crossbars": 3,
        "weight_sets": 2,
        "inputs": 40,
        "seed": 7,
        "engine": ENGINE,
        "results": str(results),
    }
    data.update(overrides)
    return data


def _frame(path: Path) -> pd.DataFrame:
    return read_results(path).drop(columns="task")


def test_two_workers_equal_serial(tmp_path: Path) -> None:
    serial = run_sweep(sweep_config_from_dict(_config(tmp_path / "serial")), workers=0)
    cfg = sweep_config_from_dict(_config(tmp_path / "dask", crossbars_per_task=2))
    dask = run_sweep(cfg, workers=2)
    assert len(dask.parts()) == 2 * len(serial.parts())
    pd.testing.assert_frame_equal(_frame(serial.path), _frame(dask.path))


def test_resume_after_interruption(tmp_path: Path) -> None:
    full = run_sweep(sweep_config_from_dict(_config(tmp_path / "full")), workers=0)
    cfg = sweep_config_from_dict(_config(tmp_path / "part"))
    written: list[Path] = []

    class Interrupted(Exception):
        pass

    def stop_after_three(path: Path) -> None:
        written.append(path)
        if len(written) == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_sweep(cfg, workers=0, on_part=stop_after_three)
    (tmp_path / "part" / ".tmp-halfwritten").write_bytes(b"PAR1 truncated")  # killed mid-write
    assert len(ResultStore(cfg.results).parts()) == 3
    with pytest.raises(XbarsimInputError, match="--resume"):
        run_sweep(cfg, workers=0)
    resumed: list[Path] = []
    run_sweep(cfg, workers=0, resume=True, on_part=resumed.append)
    assert len(resumed) == len(plan(cfg)) - 3
    assert not list((tmp_path / "part").glob(".tmp-*"))
    pd.testing.assert_frame_equal(_frame(full.path), _frame(tmp_path / "part"))


def test_parquet_round_trip(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "ds")
    store.init({"seed": 1})
    row = {
        "size": 4,
        "sigma": 0.25,
        "target": 0.01,
        "algorithm": "baseline",
        "crossbar": 0,
        "weight_set": 1,
        "tuning_error_p99": 0.011,
        "tuning_error_mean": 0.004,
        "within_tolerance": 0.99,
        "vmm_error_p99": 0.02,
        "vmm_error_mean": 0.005,
        "vmm_error_intrinsic_p99": 0.01,
        "n_hs": 0.0,
        "n_hs_final_pass": 0.1,
        "pulses_per_device": 120.5,
        "history_p99": [0.5, 0.02, 0.011],
        "history_mean": [0.3, 0.01, 0.004],
        "tuning_error_hist": [0, 3, 1],
        "vmm_error_hist": [2, 0, 7],
    }
    store.write_part("a", [row])
    store.write_part("b", [{**row, "crossbar": 1}])
    frame = read_results(tmp_path / "ds")
    assert list(frame["task"]) == ["a", "b"]
    back = frame.drop(columns="task").to_dict("records")
    assert [list(r["history_p99"]) for r in back] == [row["history_p99"]] * 2
    first = {
        k: (list(v) if hasattr(v, "__len__") and not isinstance(v, str) else v)
        for k, v in back[0].items()
    }
    assert first == row


def test_cli_sweep_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "grid.yaml"
    cfg.write_text(yaml.safe_dump(_config(tmp_path / "res", sizes=[4], algorithms=["no-hs"])))
    assert main(["sweep", str(cfg), "--workers", "0", "--no-progress"]) == 0
    assert "2 parts" in capsys.readouterr().out
    assert main(["sweep", str(cfg), "--workers", "0", "--no-progress"]) == 2
    assert main(["sweep", str(cfg), "--workers", "0", "--no-progress", "--resume"]) == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"colour": "red"}, "colour"),
        ({"sizes": []}, "sizes"),
        ({"sigmas": [0.1, -0.2]}, "sigma"),
        ({"targets": [0.0]}, "target"),
        ({"sizes": [1, 8]}, "size"),
        ({"engine": "warp"}, "engine"),
    ],
)
def test_bad_config_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], overrides: dict, message: str
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(_config(tmp_path / "res", **overrides)))
    assert main(["sweep", str(cfg), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err
    assert not (tmp_path / "res").exists()


def test_unreachable_scheduler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "grid.yaml"
    cfg.write_text(yaml.safe_dump(_config(tmp_path / "res")))
    code = main(["sweep", str(cfg), "--scheduler", "tcp://127.0.0.1:9", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: scheduler:") and "\n" not in err
    assert not (tmp_path / "res").exists()


def test_results_path_that_is_not_a_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    cfg = tmp_path / "grid.yaml"
    cfg.write_text(yaml.safe_dump(_config(other)))
    assert main(["sweep", str(cfg), "--workers", "0", "--resume"]) == 2
    assert "not an xbarsim sweep dataset" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    # a dataset of another study (different seed) is refused as well
    run_sweep(sweep_config_from_dict(_config(tmp_path / "ds", sizes=[4], sigmas=[0.05])))
    cfg.write_text(yaml.safe_dump(_config(tmp_path / "ds", seed=8)))
    assert main(["sweep", str(cfg), "--workers", "0", "--resume"]) == 2
    assert "seed" in capsys.readouterr().err
    assert (tmp_path / "ds" / META_NAME).is_file()

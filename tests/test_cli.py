"""``xbarsim thresholds`` and ``xbarsim program-image`` through :func:`xbarsim.cli.main`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xbarsim.cli import main

THRESHOLD_KEYS = {
    "set_mean_v",
    "set_std_v",
    "reset_mean_v",
    "reset_std_v",
    "set_reset_corr",
    "unswitchable_fraction",
    "n_devices",
}
IMAGE_KEYS = {
    "mean_error",
    "median_error",
    "p99_error",
    "within_5pct_fraction",
    "unswitchable_fraction",
    "exclusion",
    "excluded_fraction",
    "total_pulses",
    "passes",
}


def test_thresholds_json_to_stdout_table_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["thresholds", "--size", "8", "--seed", "2", "--json", "-"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert set(data) == THRESHOLD_KEYS | {"provenance"}
    assert data["n_devices"] == 64
    assert "published" in captured.err and "1.19 ± 0.31" in captured.err


def test_thresholds_out_dir_and_json_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, json_file = tmp_path / "fig2", tmp_path / "r.json"
    args = ["thresholds", "--size", "8", "--out", str(out), "--json", str(json_file)]
    assert main([*args, "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "set threshold (V)" in captured.out
    assert json.loads(json_file.read_text()) == json.loads((out / "results.json").read_text())
    assert {p.name for p in out.glob("*.png")} == {
        "threshold_histogram.png",
        "set_threshold_map.png",
        "reset_threshold_map.png",
        "set_vs_reset.png",
    }


def test_thresholds_config_and_sigma(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "device.yaml"
    config.write_text("preset: tio2-64x64-paper\nfaults: {unswitchable_fraction: 0.0}\n")
    args = ["thresholds", "--size", "8", "--config", str(config), "--sigma", "0", "--json", "-"]
    assert main([*args, "--no-progress"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unswitchable_fraction"] == 0.0
    assert data["set_std_v"] < 0.05  # all thresholds equal: measured on one or two grid steps


def test_program_image_json_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fig3"
    args = ["program-image", "--size", "8", "--seed", "3", "--engine", "reference"]
    assert main([*args, "--json", "-", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert set(data) == IMAGE_KEYS | {"provenance"}
    assert data == json.loads((out / "results.json").read_text())
    assert data["passes"] == 3
    assert data["exclusion"] == "error-above-95pct"
    assert "3.76%" in captured.err
    assert {p.name for p in out.glob("*.png")} == {
        "target_map.png",
        "achieved_map.png",
        "error_histogram.png",
        "error_per_pass.png",
    }


def _invalid_config(tmp_path: Path) -> Path:
    path = tmp_path / "inverted.yaml"
    path.write_text("g_min_s: 2.0e-4\ng_max_s: 1.0e-6\n")
    return path


def _unreadable_image(tmp_path: Path) -> Path:
    path = tmp_path / "picture.png"
    path.write_text("this is not a picture")
    return path


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["thresholds", "--size", "0"], "size"),
        (["thresholds", "--size", "-3"], "size"),
        (["thresholds", "--size", "2.5"], "size"),
        (["thresholds", "--size", "abc"], "size"),
        (["program-image", "--size", "0"], "size"),
        (["thresholds", "--seed", "-1"], "seed"),
        (["program-image", "--seed", "1.5"], "seed"),
        (["thresholds", "--sigma", "-0.1"], "sigma"),
        (["thresholds", "--sigma", "nan"], "sigma"),
        (["program-image", "--sigma", "-1"], "sigma"),
        (["thresholds", "--sigma", "abc"], "--sigma"),
        (["thresholds", "--preset", "no-such-device"], "preset"),
        (["thresholds", "--config", "{invalid_config}"], "g_max_s"),
        (["thresholds", "--config", "{missing}"], "config"),
        (["program-image", "--image", "{unreadable_image}"], "image"),
        (["program-image", "--image", "{missing}"], "image"),
        (["program-image", "--engine", "warp"], "engine"),
        (["program-image", "--exclusion", "all"], "exclusion"),
        (["thresholds", "--bogus"], "--bogus"),
        (["program-image", "--size"], "--size"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {
        "{invalid_config}": str(_invalid_config(tmp_path)),
        "{unreadable_image}": str(_unreadable_image(tmp_path)),
        "{missing}": str(tmp_path / "missing.yaml"),
    }
    argv = [paths.get(a, a) for a in args]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ") and field in lines[0]
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["thresholds", "--size", "0"], ">= 1"),
        (["thresholds", "--seed", "-1"], ">= 0"),
        (["thresholds", "--sigma", "-0.1"], ">= 0"),
        (["thresholds", "--preset", "x"], "tio2-64x64-paper"),
        (["program-image", "--engine", "warp"], "reference"),
    ],
)
def test_error_names_allowed_range(
    args: list[str], allowed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert allowed in capsys.readouterr().err

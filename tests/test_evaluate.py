"""``xbarsim evaluate``: models from safe sources, the grid of conditions and instances,
the JSON, the store, figures, and one-line refusals that write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from xbarsim.cli import main  # noqa: E402
from xbarsim.experiments.evaluate import instance_seed  # noqa: E402

FAST = ["evaluate", "--model", "perceptron", "--preset", "ideal", "--epochs", "3",
        "--test-samples", "60", "--instances", "2", "--temps", "25,85", "--ages-h", "0,1000",
        "--workers", "0"]


def _run(args: list[str], capsys) -> tuple[int, dict | None, str]:
    code = main(args)
    captured = capsys.readouterr()
    data = json.loads(captured.out) if code == 0 and "--json" in args else None
    return code, data, captured.err


def test_evaluate_writes_cases_statistics_cost_and_figures(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code, data, _ = _run([*FAST, "--stuck-ppm", "20000", "--json", "-", "--out", str(out)],
                         capsys)
    assert code == 0
    assert len(data["cases"]) == 2 * 2 * 2
    assert set(data["cases"][0]) == {"temp_c", "age_h", "instance", "accuracy", "drop"}
    for case in data["cases"]:
        assert case["drop"] == pytest.approx(data["software_accuracy"] - case["accuracy"])
    assert [(r["temp_c"], r["age_h"]) for r in data["conditions"]] == [
        (25.0, 0.0), (25.0, 1000.0), (85.0, 0.0), (85.0, 1000.0)]
    row = data["conditions"][0]
    assert set(row["accuracy_quantiles"]) == {"5", "50", "95"} and row["instances"] == 2
    assert set(data["cost"]) >= {"ops_per_inference", "energy_per_inference_j", "latency_s",
                                 "area_mm2", "programming_energy_j"}
    assert data["cost"]["ops_per_inference"] == 2 * 64 * 10
    assert (data["dataset"], data["test_images"]) == (data["data"], 60)
    assert data["image_accuracy"] == pytest.approx(1 / 60, rel=1e-12)
    assert len(data["spec_hash"]) == 16 and data["effects"]["stuck_devices"]
    assert data["provenance"]["seeds"] == {"seed": 0}
    for name in ("results.json", "accuracy_vs_temperature.png", "accuracy_vs_age.png",
                 "cost_breakdown.png"):
        assert (out / name).is_file()
    assert len(list((out / "cases").glob("part-*.parquet"))) == 2
    # resuming runs nothing new and gives the same cases
    code, again, _ = _run([*FAST, "--stuck-ppm", "20000", "--json", "-", "--out", str(out),
                           "--resume"], capsys)
    assert code == 0 and again["cases"] == data["cases"]


def test_an_instance_is_the_same_chip_at_every_condition_and_seeds_follow_the_chip() -> None:
    a = instance_seed(0, "chip-a", 3)
    assert a == instance_seed(0, "chip-a", 3)
    assert len({a, instance_seed(0, "chip-a", 4), instance_seed(0, "chip-b", 3),
                instance_seed(1, "chip-a", 3)}) == 4


def test_temperature_without_drift_noise_is_the_same_chip(capsys) -> None:
    """With stuck devices drawn per instance, instances differ; the grid does not
    reshuffle them: at 25 degC and no ageing every instance reads as at deployment."""
    code, first, _ = _run([*FAST, "--stuck-ppm", "50000", "--json", "-"], capsys)
    single = list(FAST)
    single[single.index("--temps") + 1] = "25"
    single[single.index("--ages-h") + 1] = "0"
    code2, second, _ = _run([*single, "--stuck-ppm", "50000", "--json", "-"], capsys)
    assert code == code2 == 0
    nominal = [c for c in first["cases"] if c["temp_c"] == 25.0 and c["age_h"] == 0.0]
    assert nominal == second["cases"]


def test_torchscript_and_module_function_models(tmp_path: Path, capsys, monkeypatch) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    scripted = tmp_path / "net.pt"
    torch.jit.script(net).save(str(scripted))
    args = ["--preset", "ideal", "--test-samples", "40", "--instances", "1", "--temps", "25",
            "--workers", "0", "--json", "-"]
    code, a, _ = _run(["evaluate", "--model", str(scripted), *args], capsys)
    assert code == 0
    (tmp_path / "user_net.py").write_text(
        "from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), "
        "nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))\n"
    )
    weights = tmp_path / "w.pt"
    torch.save(net.state_dict(), weights)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, b, _ = _run(["evaluate", "--model", "user_net:build", "--weights", str(weights),
                       *args], capsys)
    assert code == 0
    assert a["software_accuracy"] == b["software_accuracy"]
    assert a["cases"] == b["cases"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--preset", "nope"], "preset: unknown chip preset"),
        (["--mitigation", "magic"], "mitigation.kind"),
        (["--lines", "copper"], "lines: unknown preset"),
        (["--periphery", "8bit"], "read_path.preset"),
        (["--model", "no_such_module_xyz:build"], "does not import"),
        (["--model", "resnet-9000"], "no built-in model"),
        (["--data", "mnist", "--data-dir", "."], "mnist-dir"),
        (["--data", "imagenet"], "data: unknown data set"),
        (["--temps", "hot"], "temps: must be"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(extra: list[str], needle: str,
                                                          tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    args = ["evaluate", "--model", "perceptron", "--instances", "1", "--workers", "0",
            "--out", str(out)]
    code = main([*args, *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists()


def test_files_that_are_not_torchscript_or_hold_unmappable_layers_are_refused(
        tmp_path: Path, capsys, monkeypatch) -> None:
    pickled = tmp_path / "model.pkl"
    torch.save(nn.Linear(64, 10), pickled)  # a full pickle: never loaded
    (tmp_path / "lstm_net.py").write_text(
        "from torch import nn\n\ndef build():\n    return nn.Sequential(nn.LSTM(8, 8))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "run"
    for model, needle in ((str(pickled), "not a TorchScript file"),
                          ("lstm_net:build", "LSTM")):
        code = main(["evaluate", "--model", model, "--workers", "0", "--out", str(out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and needle in err[0], err
    assert not out.exists()


@pytest.mark.slow
def test_dask_workers_give_the_serial_results(capsys) -> None:
    code, serial, _ = _run([*FAST, "--stuck-ppm", "20000", "--json", "-"], capsys)
    dask_args = list(FAST)
    dask_args[dask_args.index("--workers") + 1] = "2"
    code2, dask, _ = _run([*dask_args, "--stuck-ppm", "20000", "--json", "-"], capsys)
    assert code == code2 == 0
    assert serial["cases"] == dask["cases"]

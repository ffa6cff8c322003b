"""Pre-run checks: output paths, memory estimates and limits, counts, library seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from xbarsim.cli import main
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments import resources
from xbarsim.sweeps import run_sweep, sweep_config_from_dict
from xbarsim.sweeps import runner as sweep_runner
from xbarsim.validation import (
    GIB,
    check_memory,
    check_output_dir,
    check_output_file,
    check_outputs,
    check_temperature,
    check_time,
    expand_range,
    library_seed,
    parse_duration,
    parse_memory,
)


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_output_dir_checks(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    check_output_dir(tmp_path / "new" / "deeper")
    check_output_dir(tmp_path)
    with pytest.raises(XbarsimInputError, match=r"out: .*afile exists and is not a directory"):
        check_output_dir(afile)
    with pytest.raises(XbarsimInputError, match="afile is not a directory"):
        check_output_dir(afile / "sub")
    assert not (tmp_path / "new").exists()


def test_output_file_checks(tmp_path: Path) -> None:
    check_output_file("-")
    check_output_file(tmp_path / "new" / "r.json")
    with pytest.raises(XbarsimInputError, match=r"json: .* is a directory"):
        check_output_file(tmp_path)
    (tmp_path / "f").write_text("")
    with pytest.raises(XbarsimInputError, match="is not a directory"):
        check_output_file(tmp_path / "f" / "r.json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("16G", 16 * GIB), ("512MiB", 512 * 1024**2), ("2e9", 2_000_000_000), ("1.5g", 1.5 * GIB)],
)
def test_parse_memory(text: str, expected: float, monkeypatch: pytest.MonkeyPatch) -> None:
    from xbarsim import validation

    monkeypatch.setattr(validation, "total_memory", lambda: 64 * GIB)
    assert parse_memory(text) == int(expected)


def test_max_memory_above_the_machine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from xbarsim import validation

    monkeypatch.setattr(validation, "total_memory", lambda: 8 * GIB)
    assert parse_memory("8G") == 8 * GIB
    with pytest.raises(XbarsimInputError, match=r"^max-memory: 8.5G is more than this "
                       r"machine's memory \(8.0 GiB\)"):
        parse_memory("8.5G")
    with pytest.raises(XbarsimInputError, match="more than this machine's memory"):
        parse_memory("1000T")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("25:100:25", [25.0, 50.0, 75.0, 100.0]), ("0:0.3:0.1", [0.0, 0.1, 0.2, 0.3]),
     ("5:5:1", [5.0])],
)
def test_expand_range(text: str, expected: list[float]) -> None:
    assert expand_range(text, "temps") == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [("25:100:1e-7", "expands to 750,000,001 points, more than 10,000"),
     ("25:inf:5", "must be finite"), ("25:nan:5", "must be finite"),
     ("25:100:0", "STEP > 0"), ("100:25:5", "STOP >= START"), ("a:b", "START:STOP:STEP")],
)
def test_expand_range_refuses_before_materializing(text: str, message: str) -> None:
    with pytest.raises(XbarsimInputError, match=message):
        expand_range(text, "temps")


@pytest.mark.parametrize("value", [-300.0, -0.1, 150.1, float("nan"), float("inf")])
def test_temperatures_outside_the_one_range_are_refused(value: float) -> None:
    with pytest.raises(XbarsimInputError, match=r"must lie in \[0, 150\] °C"):
        check_temperature("temp-c", value)
    assert check_temperature("temp-c", 150) == 150.0


def test_outputs_are_checked_together(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("x\n")
    check_outputs({"out": tmp_path / "a.yaml", "json": tmp_path / "a.json"}, {"data": data})
    with pytest.raises(XbarsimInputError, match=r"^json: .* is also given as --out"):
        check_outputs({"out": tmp_path / "a.yaml", "json": tmp_path / "x" / ".." / "a.yaml"})
    with pytest.raises(XbarsimInputError, match=r"^json: .* is the input --data"):
        check_outputs({"out": tmp_path / "a.yaml", "json": data}, {"data": data})
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    with pytest.raises(XbarsimInputError, match=r"is the input --data"):
        check_outputs({"json": link}, {"data": data})
    with pytest.raises(XbarsimInputError, match=r"^out: .* is not a directory"):
        check_outputs({"out": data / "d"}, directories=frozenset({"out"}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "link.csv"]


@pytest.mark.parametrize("text", ["", "12q", "-1G", "G", "0", "nan"])
def test_parse_memory_rejects(text: str) -> None:
    with pytest.raises(XbarsimInputError, match="max-memory"):
        parse_memory(text)


def test_default_limit_is_below_available_memory() -> None:
    from xbarsim.validation import available_memory

    assert 0 < parse_memory(None) <= available_memory()


def test_memory_refusal_states_estimate_and_limit() -> None:
    with pytest.raises(XbarsimInputError) as info:
        check_memory(3 * GIB, 2 * GIB, "a thing")
    assert str(info.value) == (
        "max-memory: a thing needs about 3.0 GiB, more than the limit 2.0 GiB; "
        "shrink the request or raise --max-memory"
    )


@given(st.integers(1, 4096), st.integers(1, 64), st.integers(1, 64), st.integers(1, 10_000))
def test_vmm_task_estimate_grows_with_every_factor(n: int, pairs: int, sets: int, inputs: int):
    base = resources.vmm_task_bytes(n, pairs, sets, inputs)
    assert resources.vmm_task_bytes(n + 1, pairs, sets, inputs) > base
    assert resources.vmm_task_bytes(n, pairs + 1, sets, inputs) > base
    assert resources.vmm_task_bytes(n, pairs, sets + 1, inputs) > base
    assert resources.vmm_task_bytes(n, pairs, sets, inputs + 1) > base
    assert base >= 2 * pairs * sets * n * n * resources.PROGRAM_BYTES_PER_DEVICE


@given(st.integers(1, 512))
def test_deployment_covers_every_weight_twice(kernel: int) -> None:
    shapes = resources.layer_shapes("convnet", 3, 32)
    weights = sum(a * b for a, b in shapes)
    assert resources.deployment_devices(shapes, kernel) >= 2 * weights


def test_sweep_of_fields_each_within_limits_is_refused_as_a_product(tmp_path: Path) -> None:
    """Every field is inside its own bound, but the product does not fit 8 GiB."""
    config = tmp_path / "big.yaml"
    results = tmp_path / "runs" / "big"
    config.write_text(
        yaml.safe_dump(
            {
                "sizes": [1024],
                "sigmas": [0.1],
                "targets": [0.01],
                "crossbars": 50,
                "weight_sets": 50,
                "inputs": 1000,
                "results": str(results),
            }
        )
    )
    before = _files(tmp_path)
    assert main(["sweep", str(config), "--workers", "0", "--max-memory", "8G"]) == 2
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    "args",
    [
        ["thresholds", "--size", "20000", "--out"],
        ["program-image", "--size", "20000", "--out"],
        ["vmm-study", "--sizes", "1024", "--crossbars", "500", "--weights", "500", "--results"],
        ["network-study", "--sizes", "100000", "--instances", "1", "--out"],
        ["calibrate", "--size", "512", "--instances", "10000", "--out"],
    ],
)
def test_oversized_requests_refused_before_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    out = tmp_path / "out"
    assert main([*args, str(out), "--max-memory", "4G"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: max-memory: ") and err.count("\n") == 1
    assert "limit 4.0 GiB" in err
    assert not out.exists()


def test_max_memory_override_lets_a_run_through(tmp_path: Path) -> None:
    args = ["thresholds", "--size", "4", "--no-progress", "--json", str(tmp_path / "r.json")]
    assert main([*args, "--max-memory", "1M"]) == 2
    assert not (tmp_path / "r.json").exists()
    assert main([*args, "--max-memory", "1G"]) == 0
    assert (tmp_path / "r.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["network-study", "--epochs", "10001"], "epochs: must be at most 10,000"),
        (["network-study", "--instances", "10001"], "instances: must be at most 10,000"),
        (["mnist-slp", "--epochs", "100000"], "epochs: must be at most 10,000"),
        (["mnist-slp", "--trials", "100001"], "trials: must be at most 100,000"),
        (["vmm-study", "--inputs", "1000001"], "inputs"),
    ],
)
def test_unbounded_counts_have_limits(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_calibrate_creates_out_before_computing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs" / "calibration"
    small = ["--size", "4", "--instances", "1", "--image-seeds", "1", "--image-size", "4"]
    args = ["calibrate", *small, "--budget", "2", "--params", "slope_below", "--workers", "0"]
    assert main([*args, "--no-progress", "--out", str(out)]) == 0
    assert {"trials.csv", "calibrated_device.yaml", "results.json"} <= {
        p.name for p in out.iterdir()
    }
    (tmp_path / "blocker").write_text("")
    assert main([*args, "--out", str(tmp_path / "blocker" / "c")]) == 2
    assert "blocker is not a directory" in capsys.readouterr().err


def test_json_checked_before_figures_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fig"
    args = ["thresholds", "--size", "4", "--out", str(out), "--json", str(tmp_path)]
    assert main(args) == 2
    assert "json: " in capsys.readouterr().err
    assert not out.exists()


def test_failed_sweep_leaves_nothing_and_the_corrected_config_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "runs"
    data = {
        "sizes": [4],
        "sigmas": [0.1],
        "targets": [0.05],
        "crossbars": 1,
        "weight_sets": 1,
        "inputs": 8,
        "engine": "cpu",
        "results": str(results),
    }

    def boom(*args: object, **kwargs: object) -> list[dict]:
        raise MemoryError

    monkeypatch.setattr(sweep_runner, "run_task", boom)
    with pytest.raises(MemoryError):
        run_sweep(sweep_config_from_dict(data), workers=0)
    assert not results.exists()
    monkeypatch.undo()
    store = run_sweep(sweep_config_from_dict({**data, "crossbars": 2}), workers=0)
    assert len(store.parts()) == 1


@given(st.integers(0, 2**200))
def test_library_seed_in_range_and_identity_below(seed: int) -> None:
    value = library_seed(seed)
    assert 0 <= value < 2**32
    if seed < 2**32:
        assert value == seed
    assert library_seed(seed) == value


def test_library_seeds_of_large_seeds_differ() -> None:
    seeds = [2**32 + k for k in range(200)] + [2**64 + k for k in range(200)]
    assert len({library_seed(s) for s in seeds}) == len(seeds)
    assert np.all(np.array([library_seed(s, 63) for s in seeds]) < 2**63)


@given(st.text())
def test_error_lines_stay_one_printable_line(text: str) -> None:
    from xbarsim.errors import one_line

    line = one_line(text)
    assert len(line.splitlines()) <= 1
    assert line.isprintable()
    assert one_line("a\x1eb") == "a\\x1eb"  # shown, not dropped


@given(start=st.floats(0, 150), span=st.floats(0, 150), step=st.floats(1e-3, 50))
def test_expanded_ranges_are_inclusive_evenly_spaced_and_bounded(
    start: float, span: float, step: float
) -> None:
    stop = start + span
    text = f"{start!r}:{stop!r}:{step!r}"
    try:
        points = expand_range(text, "temps", maximum=500)
    except XbarsimInputError as exc:
        assert "more than 500" in str(exc) and span / step > 499
        return
    assert points[0] == start and len(points) <= 500
    assert np.allclose(np.diff(points), step) if len(points) > 1 else True
    assert points[-1] <= stop + step / 2 and points[-1] > stop - step / 2 - 1e-9 * stop


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", 90.0), ("30m", 1800.0), ("30min", 1800.0), ("2h", 7200.0), ("1.5d", 129600.0),
     ("600", 600.0), (" 2 h ", 7200.0)],
)
def test_parse_duration(text: str, expected: float) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(None) is None


@pytest.mark.parametrize("text", ["", "soon", "-1h", "h", "0", "0s", "2w", "1e999"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(XbarsimInputError, match=r"^max-time: "):
        parse_duration(text)


def test_time_refusal_states_estimate_and_limit() -> None:
    with pytest.raises(XbarsimInputError) as info:
        check_time(3 * 3600, 1800, "a thing")
    assert str(info.value) == (
        "max-time: a thing takes about 3.0 h, more than the limit 30 min; "
        "shrink the request or raise --max-time"
    )
    check_time(3 * 3600, None, "a thing")
    check_time(1700, 1800, "a thing")


_counts = st.integers(1, 10_000)


@given(_counts, st.integers(2, 512), st.floats(0.0, 1.0))
def test_tuning_time_grows_with_devices_size_and_sigma(devices: int, n: int, sigma: float):
    base = resources.tuning_seconds(devices, n, sigma)
    assert resources.tuning_seconds(devices + 1, n, sigma) > base
    assert resources.tuning_seconds(devices, n + 64, sigma) > base
    assert resources.tuning_seconds(devices, n, sigma + 0.1) > base
    assert resources.tuning_seconds(devices, n, sigma, "reference") > base


def test_tuning_time_matches_the_benchmark_within_a_factor_3() -> None:
    """One 64 x 64 crossbar at sigma 25 %: 3.74 ms measured (one thread), 1.82 ms at 5 %
    (benchmarks/README.md); the direct and reference engines 444x and 2,483x slower."""
    assert 3.74e-3 <= resources.tuning_seconds(64 * 64, 64, 0.25) <= 3 * 3.74e-3
    assert 1.82e-3 <= resources.tuning_seconds(64 * 64, 64, 0.05) <= 3 * 1.82e-3
    for engine, slower in (("cpu-direct", 444), ("reference", 2483)):
        ratio = resources.tuning_seconds(64 * 64, 64, 0.25, engine) / resources.tuning_seconds(
            64 * 64, 64, 0.25)
        assert slower <= ratio <= 3 * slower


@given(_counts, _counts, _counts)
def test_training_time_grows_with_samples_epochs_and_macs(samples: int, epochs: int, macs: int):
    base = resources.training_seconds(samples, epochs, macs)
    assert resources.training_seconds(samples + 1, epochs, macs) > base
    assert resources.training_seconds(samples, epochs + 1, macs) > base
    assert resources.training_seconds(samples, epochs, macs + 1) > base


@given(_counts, st.integers(1, 1024), st.integers(1, 1024))
def test_vmm_time_grows_with_inputs_and_array(inputs: int, rows: int, cols: int) -> None:
    base = resources.vmm_seconds(inputs, rows, cols)
    assert resources.vmm_seconds(inputs + 1, rows, cols) > base
    assert resources.vmm_seconds(inputs, rows + 1, cols) > base
    assert resources.vmm_seconds(inputs, rows, cols + 1) > base


@given(_counts, st.integers(1, 1024))
def test_irdrop_time_grows_with_solves_and_size(solves: int, n: int) -> None:
    base = resources.irdrop_solve_seconds(solves, n)
    assert resources.irdrop_solve_seconds(solves + 1, n) > base
    assert resources.irdrop_solve_seconds(solves, n + 1) > base
    assert resources.irdrop_solve_seconds(1, 64) == pytest.approx(0.03)


@given(st.integers(1, 4096))
def test_thresholds_time_grows_with_size(n: int) -> None:
    assert resources.thresholds_seconds(n + 1) > resources.thresholds_seconds(n)


@given(st.floats(0.0, 1e6), st.integers(0, 64), st.integers(1, 1000))
def test_parallel_time_divides_by_the_workers_in_use(total: float, workers: int, jobs: int):
    seconds = resources.parallel_seconds(total, workers, jobs)
    assert seconds == pytest.approx(total / max(1, min(workers, jobs)))
    assert resources.parallel_seconds(total, workers + 1, jobs) <= seconds


@given(st.integers(1, 64), st.integers(1, 8), st.integers(1, 1000), st.floats(0.0, 0.5))
def test_vmm_task_time_grows_with_every_factor(n: int, pairs: int, inputs: int, sigma: float):
    base = resources.vmm_task_seconds(n, pairs, 2, inputs, sigma)
    assert resources.vmm_task_seconds(n + 1, pairs, 2, inputs, sigma) > base
    assert resources.vmm_task_seconds(n, pairs + 1, 2, inputs, sigma) > base
    assert resources.vmm_task_seconds(n, pairs, 3, inputs, sigma) > base
    assert resources.vmm_task_seconds(n, pairs, 2, inputs + 1, sigma) > base


@given(st.integers(1, 100), st.integers(1, 20), st.integers(1, 100))
def test_network_study_time_grows_with_its_counts(instances: int, epochs: int, n_test: int):
    def t(**kw: object) -> float:
        args: dict = {"models": ["mlp", "convnet"], "dataset": "digits", "kernels": [16, 64],
                      "sigmas": [0.05, 0.25], "zetas": 1, "algorithms": 1,
                      "instances": instances, "epochs": epochs, "n_test": n_test,
                      "engine": "auto", "workers": 0}
        return resources.network_study_seconds(**{**args, **kw})

    base = t()
    assert t(instances=instances + 1) > base
    assert t(epochs=epochs + 1) > base
    assert t(sigmas=[0.05, 0.25, 0.35]) > base
    assert t(zetas=2) > base
    assert t(workers=2) < base


@given(st.integers(1, 50), st.integers(1, 20), st.integers(0, 100), st.integers(1, 1000))
def test_chapter2_time_grows_with_its_counts(epochs: int, trainings: int, points: int, n: int):
    def t(**kw: object) -> float:
        args: dict = {"dataset": "digits", "models": ("convnet", "resnet18"), "epochs": epochs,
                      "trainings_per_model": trainings, "points_per_model": points,
                      "n_train": n, "n_test": n, "image_size": 64, "width": None, "workers": 0}
        return resources.chapter2_study_seconds(**{**args, **kw})

    base = t()
    assert t(epochs=epochs + 1) > base
    assert t(trainings_per_model=trainings + 1) > base
    assert t(points_per_model=points + 1) > base
    assert t(n_train=n + 1) > base
    assert t(models=("convnet", "resnet18", "resnet18")) > base


def test_perceptron_calibration_and_irdrop_times_grow_with_their_counts() -> None:
    slp = resources.perceptron_seconds
    assert slp("digits", 61, 20, 8, 20, 0.25, "auto") > slp("digits", 60, 20, 8, 20, 0.25, "auto")
    assert slp("digits", 60, 20, 8, 21, 0.25, "auto") > slp("digits", 60, 20, 8, 20, 0.25, "auto")
    assert slp("digits", 60, 21, 8, 20, 0.25, "auto") > slp("digits", 60, 20, 8, 20, 0.25, "auto")
    cal = resources.calibration_seconds
    assert cal(13, 64, 32, 1, 64) > cal(12, 64, 32, 1, 64) > cal(12, 64, 16, 1, 64)
    assert cal(12, 64, 16, 1, 64, walked=True) > cal(12, 64, 16, 1, 64)
    ir = resources.irdrop_study_seconds
    assert ir([16, 64], 3, 8, 200, True, True) > ir([16, 64], 3, 8, 200, True, False)
    assert ir([16, 128], 3, 8, 200, False, False) > ir([16, 64], 3, 8, 200, False, False)
    assert ir([16, 64], 3, 9, 200, False, False) > ir([16, 64], 3, 8, 200, False, False)


def test_command_over_max_time_is_refused_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(tmp_path)
    out = tmp_path / "out"
    assert main(["thresholds", "--size", "1024", "--out", str(out), "--max-time", "1s"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: max-time: thresholds of 1024x1024 takes about ")
    assert _files(tmp_path) == before


def test_long_run_prints_its_estimate_before_work(capsys: pytest.CaptureFixture[str]) -> None:
    from xbarsim.cli.options import check_run

    check_run(1.5 * GIB, "a thing", None, create_out=False, seconds=200.0, workers=2)
    assert capsys.readouterr().err == "estimated: 1.5 GiB, ~3 min on 2 workers\n"
    check_run(GIB, "a thing", None, create_out=False, seconds=4.0)
    assert capsys.readouterr().err == ""


def test_quick_command_prints_no_estimate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["thresholds", "--size", "4", "--no-progress", "--max-time", "1m",
                 "--out", str(tmp_path / "o")]) == 0
    assert "estimated:" not in capsys.readouterr().err

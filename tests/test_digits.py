"""``xbarsim mnist-slp`` (paper Fig. 4) and ``xbarsim network-study`` through the CLI."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import xbarsim.cli.network_commands  # noqa: F401  (registers the commands)
from xbarsim.cli import main
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.digits_perceptron import PerceptronSetup, readout
from xbarsim.nn import load_mnist
from xbarsim.nn.data import load_mnist_subset


def _write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


def write_fake_mnist(directory: Path, n_train: int = 50, n_test: int = 20, seed: int = 0) -> None:
    """Tiny IDX files with MNIST's names: images show their label as a bright block."""
    rng = np.random.default_rng(seed)
    for prefix, n, gz in (("train", n_train, True), ("t10k", n_test, False)):
        labels = rng.integers(0, 10, n)
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 4)
            images[i, 2 + 6 * r : 8 + 6 * r, 2 + 6 * c : 8 + 6 * c] = 255
        _write_idx(directory / f"{prefix}-images-idx3-ubyte", images, gz)
        _write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels, gz)


def test_load_mnist_idx_downsamples(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    data = load_mnist(tmp_path)
    assert data.x_train.shape == (50, 1, 8, 8) and data.x_test.shape == (20, 1, 8, 8)
    assert set(np.unique(data.x_train)) <= {0.0, 1.0}
    assert data.x_train.sum(axis=(1, 2, 3)).min() >= 1


def test_load_mnist_errors(tmp_path: Path) -> None:
    with pytest.raises(XbarsimInputError, match=r"mnist-dir: .* not a directory.*yann"):
        load_mnist(tmp_path / "missing")
    with pytest.raises(XbarsimInputError, match="no train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    write_fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"garbage!")
    with pytest.raises(XbarsimInputError, match="not a readable IDX file"):
        load_mnist(tmp_path)


def test_mnist_subset_folds_are_stratified_disjoint_and_seeded() -> None:
    """Five folds of the 5,000 bundled images: 100 test images per class, test sets disjoint
    and covering every image, train and test disjoint, the split fixed by the seed."""
    seen = []
    for fold in range(5):
        d = load_mnist_subset(seed=3, fold=fold)
        assert d.name == "mnist-5k" and d.x_test.shape == (1000, 1, 8, 8)
        assert d.test_images == 1000 and d.image_accuracy == pytest.approx(0.001)
        assert np.bincount(d.y_test).tolist() == [100] * 10
        assert set(np.unique(d.x_train)) <= {0.0, 1.0}
        seen.append(d)
    raw = load_mnist_subset(seed=3, fold=0, size=None, binarize_threshold=None)
    assert raw.x_train.shape == (4000, 1, 28, 28) and 0.5 < raw.x_train.max() <= 1.0
    labels = np.concatenate([d.y_test for d in seen])
    assert np.bincount(labels).tolist() == [500] * 10
    again = load_mnist_subset(seed=3, fold=2)
    np.testing.assert_array_equal(again.x_test, seen[2].x_test)
    other = load_mnist_subset(seed=4, fold=2)
    assert not np.array_equal(other.y_test, seen[2].y_test) or not np.array_equal(
        other.x_test, seen[2].x_test)
    with pytest.raises(XbarsimInputError, match="fold"):
        load_mnist_subset(fold=5)
    with pytest.raises(XbarsimInputError, match="folds"):
        load_mnist_subset(folds=1)


SMALL = [
    "--epochs", "8", "--trials", "3", "--errors", "0.01,0.2,0.5", "--engine", "cpu",
    "--instances", "3",
]


def test_readout_matches_effective_weights() -> None:
    """Currents of 0 / 0.25 V rows, converted back, equal x @ W + b for exact devices."""
    setup = PerceptronSetup()
    rng = np.random.default_rng(0)
    w = rng.uniform(0, 1, (64, 10))
    b = rng.normal(0, 1, 10)
    x = (rng.random((50, 64)) > 0.5).astype(float)
    g = setup.g_low_s + w * (setup.g_high_s - setup.g_low_s)
    np.testing.assert_array_equal(readout(x, g, b, setup), np.argmax(x @ w + b, axis=1))


def test_mnist_slp_mnist_subset_end_to_end(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The default data set is the bundled MNIST subset, one fold of 1,000 test images."""
    out = tmp_path / "fig4"
    assert main(["mnist-slp", "--seed", "1", *SMALL, "--json", "-", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["dataset"] == "mnist-5k" and data["setup"]["dataset"] == "mnist-5k"
    assert data["n_test"] == data["test_images"] == 1000 and data["n_train"] == 4000
    assert data["image_accuracy"] == pytest.approx(0.001)
    acc = data["accuracy_vs_import_error"]
    assert set(acc) == {"0.01", "0.2", "0.5"}
    assert 0.6 < data["software_accuracy"] <= 1.0
    assert abs(acc["0.01"] - data["software_accuracy"]) < 0.03
    assert acc["0.5"] < acc["0.01"]
    assert 0.5 < data["programmed_accuracy"] <= 1.0
    assert data["instances"] == 3 and len(data["programmed_accuracies"]) == 3
    assert data["programmed_accuracy"] == pytest.approx(np.mean(data["programmed_accuracies"]))
    gaps = data["software_accuracy"] - np.array(data["programmed_accuracies"])
    assert data["programmed_gap_mean"] == pytest.approx(gaps.mean())
    assert data["programmed_gap_std"] == pytest.approx(gaps.std())
    quantiles = np.quantile(gaps, [0.05, 0.5, 0.95])
    np.testing.assert_allclose(data["programmed_gap_quantiles"], quantiles)
    for device in data["stuck_devices"]:
        assert device["cause"] in ("unswitchable", "abandoned")
        assert 0 <= device["input"] < 64 and 0 <= device["output"] < 10
        assert 0 <= device["instance"] < 3
    assert "1.87%" in captured.err  # published gap beside ours
    assert (out / "fig4d_accuracy_vs_import_error.png").stat().st_size > 0
    assert json.loads((out / "results.json").read_text())["n_test"] == 1000


def test_mnist_slp_digits_option(capsys: pytest.CaptureFixture[str]) -> None:
    """``--dataset digits`` keeps scikit-learn's digits (360 test images)."""
    args = ["mnist-slp", "--dataset", "digits", "--epochs", "2", "--trials", "1", "--errors",
            "0.01", "--instances", "1", "--engine", "cpu", "--json", "-"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dataset"] == "digits" and data["test_images"] == 360
    assert data["image_accuracy"] == pytest.approx(1 / 360)


def test_mnist_slp_reads_idx_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_fake_mnist(tmp_path, n_train=200, n_test=50)
    path = tmp_path / "r.json"
    args = ["mnist-slp", "--mnist-dir", str(tmp_path), *SMALL, "--json", str(path)]
    assert main(args) == 0
    data = json.loads(path.read_text())
    assert data["n_test"] == 50 and data["setup"]["dataset"] == "mnist"
    assert data["software_accuracy"] > 0.5  # chance is 0.1; the fake digits are separable


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["mnist-slp", "--mnist-dir", "/nonexistent/mnist"], "mnist-dir"),
        (["mnist-slp", "--errors", "0.01,1.5"], "import_errors"),
        (["mnist-slp", "--errors", "abc"], "errors"),
        (["mnist-slp", "--seed", "-1"], "seed"),
        (["mnist-slp", "--engine", "warp"], "engine"),
        (["mnist-slp", "--instances", "0"], "instances"),
        (["mnist-slp", "--instances", "-2"], "instances"),
        (["mnist-slp", "--dataset", "emnist"], "dataset"),
        (["mnist-slp", "--fold", "5"], "fold"),
    ],
)
def test_mnist_slp_bad_input_exit_2(
    args: list[str], field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and field in err and "\n" not in err


def test_network_study_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "network-study",
        "--models",
        "mlp",
        "--sizes",
        "16",
        "--sigmas",
        "0.25",
        "--zetas",
        "0,0.2",
        "--instances",
        "2",
        "--epochs",
        "1",
        "--n-test",
        "60",
        "--engine",
        "cpu",
        "--json",
        "-",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    cases = json.loads(capsys.readouterr().out)["cases"]
    assert [(c["zeta"], c["size"], c["sigma"]) for c in cases] == [(0.0, 16, 0.25), (0.2, 16, 0.25)]
    for c in cases:
        assert {
            "model",
            "dataset",
            "algorithm",
            "software_accuracy",
            "accuracy_mean",
            "accuracy_drop_mean",
            "accuracy_drop_std",
            "accuracy_drop_quantiles",
            "baseline_software_accuracy",
            "instances",
        } <= set(c)
        assert c["instances"] == 2 and len(c["accuracies"]) == 2
        assert c["accuracy_drop_mean"] == pytest.approx(c["software_accuracy"] - c["accuracy_mean"])
        drops = c["software_accuracy"] - np.array(c["accuracies"])
        quantiles = np.quantile(drops, [0.05, 0.5, 0.95])
        np.testing.assert_allclose(c["accuracy_drop_quantiles"], quantiles)
        assert c["baseline_software_accuracy"] == cases[0]["software_accuracy"]  # the zeta=0 model
        assert c["accuracy_drop_vs_baseline_mean"] == pytest.approx(
            c["baseline_software_accuracy"] - c["accuracy_mean"]
        )
    for name in (
        "fig31_33_accuracy_drop.png",
        "fig31_drop_boxplots_mlp.png",
        "fig32_33_drop_vs_zeta_mlp.png",
    ):
        assert (tmp_path / name).stat().st_size > 0


def test_network_study_on_two_dask_workers_equals_serial() -> None:
    from xbarsim.experiments.network_study import NetworkStudySetup, run_network_study

    setup = NetworkStudySetup(
        models=("mlp",),
        sizes=(8,),
        sigmas=(0.25, 0.35),
        instances=2,
        epochs=1,
        n_test=60,
        engine="cpu",
    )
    serial = run_network_study(setup)
    parallel = run_network_study(setup, workers=2)
    assert [c["accuracies"] for c in serial.cases] == [c["accuracies"] for c in parallel.cases]
    assert [c["kernels"] for c in serial.cases] == [c["kernels"] for c in parallel.cases]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--zetas", "1.0"], "zeta"),
        (["--zetas", "-0.1"], "zeta"),
        (["--sizes", "0"], "sizes"),
        (["--sizes", "8.5"], "sizes"),
        (["--models", "resnet"], "models"),
        (["--algorithms", "magic"], "algorithms"),
        (["--cifar10-dir", "/nonexistent/cifar"], "cifar10-dir"),
        (["--workers", "-1"], "workers"),
    ],
)
def test_network_study_bad_input_exit_2(
    args: list[str], field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["network-study", "--epochs", "1", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and field in err and "\n" not in err


def _warning_job(value: float) -> list[dict]:
    import warnings

    from xbarsim.devices import ExtrapolationWarning

    warnings.warn(f"w0: model fitted on [0.1, 1], got values in [0.01, {value}]",
                  ExtrapolationWarning, stacklevel=1)
    warnings.warn("a warning without numbers", UserWarning, stacklevel=1)
    return [{"value": value}]


@pytest.mark.parametrize("workers", [0, 1])
def test_study_jobs_warn_once_per_kind_whatever_the_workers(workers) -> None:
    """Every job's warnings reach the caller (also from Dask worker processes), once per
    kind: texts that differ only in their numbers are said once, with their count."""
    import warnings

    from xbarsim.devices import ExtrapolationWarning
    from xbarsim.experiments.chapter2 import Job, run_jobs

    jobs = [Job(f"j{i}", _warning_job, (1.5 + i,)) for i in range(3)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = run_jobs(jobs, workers=workers)
    assert [rows[f"j{i}"][0]["value"] for i in range(3)] == [1.5, 2.5, 3.5]
    said = [(w.category, str(w.message)) for w in caught
            if w.category in (ExtrapolationWarning, UserWarning)
            and ("w0:" in str(w.message) or "numbers" in str(w.message))]
    assert said == [
        (ExtrapolationWarning,
         "w0: model fitted on [0.1, 1], got values in [0.01, 1.5] (and 2 more like it)"),
        (UserWarning, "a warning without numbers (and 2 more like it)"),
    ]

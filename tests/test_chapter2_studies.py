"""Chapter-2 studies: JSON keys, seeds by point identity, resume, workers, bad input (CLI)."""

from __future__ import annotations

import json

import pytest

from xbarsim.cli import main
from xbarsim.experiments.chapter2 import DataSpec, point_seed
from xbarsim.experiments.defect_study import DefectStudySetup, run_defect_study
from xbarsim.experiments.temperature_study import TemperatureStudySetup, run_temperature_study

SMALL = DataSpec(n_train=300, n_test=100)


def _defects(**kw) -> DefectStudySetup:
    base = dict(
        models=("convnet",),
        kinds=("mixed",),
        ppm=(1000.0, 20000.0),
        instances=2,
        mitigations=("none", "pair"),
        data=SMALL,
        epochs=1,
    )
    return DefectStudySetup(**{**base, **kw})


def test_point_seed_depends_on_parameters_not_order() -> None:
    assert point_seed(0, a=1, b="x") == point_seed(0, b="x", a=1)
    assert point_seed(0, a=1) != point_seed(1, a=1) != point_seed(0, a=2)


def test_defect_study_keys_and_point_identity(tmp_path) -> None:
    full = run_defect_study(_defects())
    keys = {
        "model",
        "dataset",
        "kind",
        "ppm",
        "mitigation",
        "drop_mean",
        "drop_std",
        "drop_quantiles",
        "instances",
    }
    assert all(keys <= set(c) for c in full.cases)
    assert set(full.models["convnet"]["tolerated_ppm_subpercent"]["rm1"]) == {"none", "pair"}
    alone = run_defect_study(_defects(ppm=(20000.0,)))
    pick = [c for c in full.cases if c["ppm"] == 20000.0]
    assert [c["drop_mean"] for c in pick] == [c["drop_mean"] for c in alone.cases]
    q = pick[0]["drop_quantiles"]
    assert q["5"] <= q["50"] <= q["95"]


def test_results_parts_and_resume(tmp_path) -> None:
    setup = _defects(ppm=(20000.0,))
    first = run_defect_study(setup, results=str(tmp_path / "r"))
    assert len(list((tmp_path / "r").glob("part-*.parquet"))) == 1
    from xbarsim.errors import XbarsimInputError

    with pytest.raises(XbarsimInputError, match="resume"):
        run_defect_study(setup, results=str(tmp_path / "r"))
    again = run_defect_study(setup, results=str(tmp_path / "r"), resume=True)
    assert again.cases == first.cases
    with pytest.raises(XbarsimInputError, match="different study parameters"):
        run_defect_study(
            _defects(ppm=(20000.0,), instances=3), results=str(tmp_path / "r"), resume=True
        )


@pytest.mark.slow
def test_same_rows_whatever_the_workers() -> None:
    setup = _defects()
    assert run_defect_study(setup, workers=2).cases == run_defect_study(setup).cases


def test_temperature_study_keys_and_ordering_fields() -> None:
    setup = TemperatureStudySetup(
        models=("convnet",),
        mappings=("rm1",),
        ks=(2,),
        temps_c=(25.0, 60.0, 100.0),
        data=SMALL,
        epochs=1,
        temp_scale=4.0,
    )
    result = run_temperature_study(setup)
    keys = {
        "model",
        "dataset",
        "mapping",
        "approach",
        "k",
        "worst_drop",
        "worst_temp_c",
        "drop_by_temp",
        "baseline_software_accuracy",
    }
    assert [c["approach"] for c in result.cases] == [0, 1, 2, 3]
    for c in result.cases:
        assert keys <= set(c)
        assert set(c["drop_by_temp"]) == {"25", "60", "100"}
        assert c["worst_drop"] == max(c["drop_by_temp"].values())
    assert result.cases[0]["drop_by_temp"]["25"] == 0.0  # exact at the tuning temperature


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["temperature-study", "--models", "vgg"], "models"),
        (["temperature-study", "--mappings", "rm3"], "mappings"),
        (["temperature-study", "--approaches", "5"], "approaches"),
        (["temperature-study", "--k", "0"], "k"),
        (["temperature-study", "--temps", "20:160:10"], "temps"),
        (["temperature-study", "--temps", "-5,30"], "temps"),
        (["temperature-study", "--cifar10-dir", "/nonexistent/c10"], "cifar10_dir"),
        (["defect-study", "--ppm", "100,2000000"], "ppm"),
        (["defect-study", "--ppm", "-1"], "ppm"),
        (["defect-study", "--kinds", "stuck"], "kinds"),
        (["defect-study", "--mitigations", "column"], "mitigations"),
        (["defect-study", "--models", "mlp"], "models"),
        (["defect-study", "--cifar10-dir", "/nonexistent/c10"], "cifar10_dir"),
        (["defect-study", "--imagenet-dir", "/nonexistent/imagenet"], "imagenet_dir"),
        (["nonlinearity-study", "--imagenet-dir", "/nonexistent/imagenet"], "imagenet_dir"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(args, field, tmp_path, capsys) -> None:
    out, js = tmp_path / "out", tmp_path / "r.json"
    code = main([*args, "--out", str(out), "--json", str(js)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and field in err and "\n" not in err
    assert not out.exists() and not js.exists()


def test_cli_temperature_study_json(tmp_path, capsys) -> None:
    code = main(
        [
            "temperature-study",
            "--models",
            "convnet",
            "--mappings",
            "fm2",
            "--approaches",
            "0",
            "--temps",
            "25:100:25",
            "--epochs",
            "1",
            "--n-test",
            "60",
            "--temp-scale",
            "1",
            "--json",
            "-",
            "--out",
            str(tmp_path / "figs"),
        ]
    )
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "figs").glob("*.png"))
    assert names == [
        "fig21_drop_vs_temperature_convnet.png",
        "fig22_worst_drop_vs_k_convnet.png",
        "fig23_eflash_mapping2.png",
    ]
    data = json.loads(capsys.readouterr().out)
    assert [c["approach"] for c in data["cases"]] == [0]
    assert list(data["cases"][0]["drop_by_temp"]) == ["25", "50", "75", "100"]


def test_image_folder_dataset(tmp_path) -> None:
    import numpy as np
    from PIL import Image

    from xbarsim.errors import XbarsimInputError

    for split in ("train", "val"):
        for label, name in enumerate(("cat", "dog")):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(3):
                pixels = np.full((12, 10, 3), 80 * label + 10 * i, dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    data = DataSpec(dataset="folder", folder_dir=str(tmp_path), image_size=8).validate().load()
    assert data.x_train.shape == (6, 3, 8, 8) and data.x_test.shape == (6, 3, 8, 8)
    assert data.classes == 2 and list(data.y_train) == [0, 0, 0, 1, 1, 1]
    assert data.x_train[3, 0, 0, 0] == pytest.approx(80 / 255)
    (tmp_path / "val" / "dog" / "bad.png").write_text("not an image")
    with pytest.raises(XbarsimInputError, match="cannot read image"):
        DataSpec(dataset="folder", folder_dir=str(tmp_path), image_size=8).load()


def _study(name: str):
    """A tiny run of each chapter-2 study that trains and evaluates networks."""
    from xbarsim.experiments.network_study import NetworkStudySetup, run_network_study
    from xbarsim.experiments.nonlinearity_study import (
        NonlinearityStudySetup,
        run_nonlinearity_study,
    )

    tiny = DataSpec(n_train=300, n_test=60)
    if name == "defect":
        return run_defect_study(_defects(ppm=(20000.0,), mitigations=("none",), instances=1,
                                         data=tiny))
    if name == "temperature":
        return run_temperature_study(TemperatureStudySetup(
            models=("convnet",), mappings=("fm2",), approaches=(0,), temps_c=(25.0, 100.0),
            data=tiny, epochs=1, temp_scale=1.0))
    if name == "nonlinearity":
        return run_nonlinearity_study(NonlinearityStudySetup(
            models=("convnet",), mappings=("rm1",), balancing=("off",), calibration_images=50,
            data=tiny, epochs=1))
    return run_network_study(NetworkStudySetup(models=("mlp",), sizes=(8,), sigmas=(0.25,),
                                               instances=1, epochs=1, n_test=60, engine="cpu"))


@pytest.mark.parametrize("name", ["defect", "temperature", "nonlinearity", "network"])
def test_every_study_names_its_data_and_what_one_image_is_worth(name) -> None:
    data = json.loads(json.dumps(_study(name).to_json()))
    assert data["dataset"] == "digits"
    assert data["test_images"] == 60
    assert data["image_accuracy"] == pytest.approx(1 / 60, rel=1e-12)
    assert all(case["dataset"] == "digits" for case in data["cases"])
    # every accuracy is a whole number of test images
    for case in data["cases"]:
        for key in ("software_accuracy", "baseline_software_accuracy"):
            if key in case:
                assert case[key] * 60 == pytest.approx(round(case[key] * 60), abs=1e-9)

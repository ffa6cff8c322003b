"""Calibration routine: residuals, ranking, CLI."""

import json
import math

import pytest

from xbarsim.cli import main
from xbarsim.experiments.calibration import (
    TARGETS,
    CalibrationSetup,
    calibrate,
    loss,
    published_target,
    residuals,
)

SMALL = CalibrationSetup(
    slopes_below_v=[0.02, 0.04],
    slopes_above_v=[0.3],
    size=8,
    pairs=2,
    inputs=50,
    image_seeds=1,
    image_size=8,
)


def test_published_values_give_zero_loss():
    values = {name: published_target(name) for name, _, _, _ in TARGETS}
    assert all(abs(r) < 1e-12 for r in residuals(values).values())
    assert loss(values) == 0.0
    assert published_target("image_outside_5pct") == pytest.approx(0.02)


def test_loss_grows_with_distance_and_ignores_unweighted_penalty():
    values = {name: published_target(name) for name, _, _, _ in TARGETS}
    worse = dict(values, tuning_p99_sigma_0p25=values["tuning_p99_sigma_0p25"] * math.e)
    assert loss(worse) == pytest.approx(1.0)
    ignored = dict(values, sigma0_hs_penalty=1.0)
    assert loss(ignored) == 0.0


def test_calibrate_ranks_candidates_best_first():
    report = calibrate(SMALL)
    table = report.table
    assert len(table) == 2
    assert list(table["loss"]) == sorted(table["loss"])
    assert report.best.dynamics.slope_below_v == table.loc[0, "slope_below_v"]
    for name, _, _, _ in TARGETS:
        assert math.isfinite(table.loc[0, name])
    # a steeper sub-threshold law drifts half-selected devices more: the sigma = 0.25
    # tuning error cannot shrink when the slope below threshold doubles
    by_slope = table.set_index("slope_below_v")
    assert (
        by_slope.loc[0.04, "tuning_p99_sigma_0p25"] >= by_slope.loc[0.02, "tuning_p99_sigma_0p25"]
    )


def test_calibrate_cli(capsys, tmp_path):
    code = main(
        [
            "calibrate",
            "--below",
            "0.03",
            "--above",
            "0.3",
            "--size",
            "8",
            "--pairs",
            "2",
            "--image-size",
            "8",
            "--image-seeds",
            "1",
            "--json",
            "-",
            "--no-progress",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["slope_below_v"] == 0.03
    assert {name for name, _, _, _ in TARGETS} <= set(data)
    assert (tmp_path / "calibrated_device.yaml").exists()
    assert (tmp_path / "candidates.csv").exists()


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--below", "abc"], "below"), (["--above", "-0.1"], "above"), (["--pairs", "0"], "pairs")],
)
def test_calibrate_cli_bad_input(capsys, args, field):
    assert main(["calibrate", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and field in err and "\n" not in err

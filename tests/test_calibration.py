"""Calibration targets, losses and the ``calibrate`` command."""

import json
import math

import pandas as pd
import pytest

from xbarsim.cli import main
from xbarsim.devices.config import TwoSlopeDynamics, preset
from xbarsim.experiments.calibration import (
    GROUPS,
    TARGETS,
    CalibrationSetup,
    evaluate,
    group_losses,
    loss,
    pareto_front,
    published_spread,
    published_target,
    residual,
    residuals,
)

SMALL = CalibrationSetup(size=8, pairs=2, small_size=4, small_pairs=2, inputs=50,
                         image_seeds=1, image_size=8, engine="cpu")
TINY = ["--size", "4", "--instances", "1", "--image-size", "4", "--image-seeds", "1",
        "--engine", "cpu", "--workers", "0", "--no-progress"]

def test_published_values_give_zero_loss():
    values = {name: published_target(name) for name, _, _, _ in TARGETS}
    assert all(abs(r) < 1e-12 for r in residuals(values).values())
    assert loss(values) == 0.0
    assert published_target("image_outside_5pct") == pytest.approx(0.02)


def test_loss_grows_with_distance_and_groups_split_it():
    values = {name: published_target(name) for name, _, _, _ in TARGETS}
    worse = dict(values, tuning_p99_sigma_0p25=values["tuning_p99_sigma_0p25"] * math.e)
    assert loss(worse) == pytest.approx(1.0)
    groups = group_losses(worse)
    assert groups["loss_t28"] == pytest.approx(1.0) and groups["loss_dynamics"] == 0.0
    assert sorted(n for names in GROUPS.values() for n in names) == sorted(
        n for n, _, _, _ in TARGETS
    )


def test_penalty_residual_is_linear_and_bounded_through_zero():
    """The sigma = 0 penalty (a difference, often <= 0) has a residual that is finite and
    grows with the distance through zero, with no jump: the former log floor added 47.7
    to the loss for any value <= 0."""
    values = {name: published_target(name) for name, _, _, _ in TARGETS}
    p = published_target("sigma0_hs_penalty")
    assert p == pytest.approx(0.043)
    penalties = [2 * p, p, 0.5 * p, 1e-6, 0.0, -1e-6, -0.5 * p, -p]
    res = [residual("sigma0_hs_penalty", v) for v in penalties]
    assert res == pytest.approx([1.0, 0.0, -0.5, -1.0, -1.0, -1.0, -1.5, -2.0], abs=1e-4)
    losses = [loss(dict(values, sigma0_hs_penalty=v)) for v in penalties]
    assert losses == pytest.approx([r * r for r in res])
    assert loss(dict(values, sigma0_hs_penalty=0.0)) == 1.0  # not log(1e-3) ** 2 = 47.7
    # noise of +-0.03 % around zero (the default's penalty) moves the loss by < 0.03
    assert abs(losses[3] - losses[5]) < 1e-3
    assert abs(loss(dict(values, sigma0_hs_penalty=3e-4))
               - loss(dict(values, sigma0_hs_penalty=-3e-4))) < 0.03
    # near the target the relative residual matches the log residual to first order
    assert residual("sigma0_hs_penalty", 1.01 * p) == pytest.approx(math.log(1.01), rel=0.01)
    # a log-scored target is unchanged: still undefined (floored) when not positive
    assert residual("image_mean_error", 2 * published_target("image_mean_error")) == (
        pytest.approx(math.log(2)))
    assert math.isnan(residual("image_mean_error", 0.0))
    assert loss(dict(values, image_mean_error=0.0)) == pytest.approx(math.log(1e-3) ** 2)


def test_pareto_front():
    table = pd.DataFrame({"a": [1.0, 2.0, 0.5, 3.0], "b": [1.0, 0.5, 2.0, 3.0]})
    assert list(pareto_front(table, ["a", "b"])) == [True, True, True, False]


def test_published_spread_is_the_verdict_band():
    assert published_spread("tuning_p99_sigma_0p25") == pytest.approx(math.log(1.1))
    assert published_spread("round1_p99_sigma_0p05") == pytest.approx(math.log(1.1))
    assert published_spread("sigma0_hs_penalty") == pytest.approx(0.1)  # linear residual


def test_steeper_subthreshold_slope_disturbs_more():
    """A steeper sub-threshold law drifts half-selected devices more: the sigma = 0.25
    tuning error cannot shrink when the slope below threshold grows, at every seed."""
    base = preset("thesis-uniformity")
    for seed in range(3):
        setup = SMALL.model_copy(update={"seed": seed})
        gentle, steep = (
            evaluate(base.model_copy(update={"dynamics": TwoSlopeDynamics(slope_below_v=s)}),
                     setup)["tuning_p99_sigma_0p25"]
            for s in (0.02, 0.04)
        )
        assert steep >= gentle


def test_calibrate_cli(capsys, tmp_path):
    store, out = tmp_path / "store", tmp_path / "new"
    args = ["calibrate", *TINY, "--budget", "6", "--population", "5", "--replicates", "1",
            "--params", "slope_below,variant", "--store", str(store)]
    assert main([*args, "--json", "-", "--out", str(out)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["trials"] == 6 and data["best_variant"] in {"thesis", "capped"}
    assert 0.02 <= data["best_slope_below"] <= 0.07
    assert {name for name, _, _, _ in TARGETS} <= set(data)
    assert data["adopted"] in (0, 1) and data["tuning_error_exclusion"] == "fault-map"
    assert (out / "calibrated_device.yaml").exists()
    table = pd.read_csv(out / "trials.csv")
    assert len(table) == 6 + 1 + 2  # search, a replicate of the best, the default twice
    assert (out / "calibration.png").stat().st_size > 1000
    assert "| tuning_p99_sigma_0p25 | 0.144 |" in (out / "residuals.md").read_text()
    parts = sorted(p.name for p in store.iterdir())
    assert main([*args, "--json", "-"]) == 0  # replayed from the store
    assert json.loads(capsys.readouterr().out)["best_slope_below"] == data["best_slope_below"]
    assert sorted(p.name for p in store.iterdir()) == parts


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--budget", "0"], "budget"),
        (["--budget", "x"], "budget"),
        (["--params", "slope_below,nope"], "params"),
        (["--params", "knee=0.5:0.1"], "params"),
        (["--instances", "0"], "instances"),
        (["--population", "4"], "population"),
        (["--replicates", "0"], "replicates"),
    ],
)
def test_calibrate_cli_bad_input(capsys, tmp_path, args, field):
    out = tmp_path / "out"
    assert main(["calibrate", *args, "--out", str(out), "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {field}") and "\n" not in err
    assert not out.exists() and not (tmp_path / "s").exists()


def test_calibrate_cli_refuses_a_store_of_another_fit(capsys, tmp_path):
    store = tmp_path / "store"
    args = ["calibrate", *TINY, "--budget", "2", "--population", "5", "--replicates", "1",
            "--store", str(store)]
    assert main([*args, "--params", "slope_below"]) == 0
    capsys.readouterr()
    before = sorted(p.name for p in store.iterdir())
    assert main([*args, "--params", "slope_above", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: store: ") and "different study parameters" in err
    assert sorted(p.name for p in store.iterdir()) == before
    assert not (tmp_path / "o").exists()

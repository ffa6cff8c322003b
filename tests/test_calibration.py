"""Calibration routine: residuals, ranking, CLI."""

import json
import math

import pandas as pd
import pytest

from xbarsim.cli import main
from xbarsim.experiments.calibration import (
    GROUPS,
    TARGETS,
    CalibrationSetup,
    calibrate,
    group_losses,
    loss,
    pareto_front,
    published_target,
    residuals,
)

SMALL = CalibrationSetup(
    slopes_below_v=[0.02, 0.04],
    slopes_above_v=[0.3],
    variants=["thesis", "capped"],
    size=8,
    pairs=2,
    small_size=4,
    small_pairs=2,
    inputs=50,
    image_seeds=1,
    image_size=8,
)


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
    penalty = dict(values, sigma0_hs_penalty=-0.001)  # undefined log: counts as log(1e-3)
    assert loss(penalty) == pytest.approx(math.log(1e-3) ** 2)
    assert sorted(n for names in GROUPS.values() for n in names) == sorted(
        n for n, _, _, _ in TARGETS
    )


def test_pareto_front():
    table = pd.DataFrame({"a": [1.0, 2.0, 0.5, 3.0], "b": [1.0, 0.5, 2.0, 3.0]})
    assert list(pareto_front(table, ["a", "b"])) == [True, True, True, False]


def test_calibrate_ranks_candidates_best_first():
    report = calibrate(SMALL)
    table = report.table
    assert len(table) == 4 and set(table["variant"]) == {"thesis", "capped"}
    assert list(table["loss"]) == sorted(table["loss"])
    assert table["pareto"].iloc[0]  # the best total loss is never dominated
    assert report.best.dynamics.slope_below_v == table.loc[0, "slope_below_v"]
    for name, _, _, _ in TARGETS:
        assert name in table and f"res_{name}" in table
    # a steeper sub-threshold law drifts half-selected devices more: the sigma = 0.25
    # tuning error cannot shrink when the slope below threshold doubles
    by_slope = table[table["variant"] == "thesis"].set_index("slope_below_v")
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
            "--variants",
            "thesis",
            "--json",
            "-",
            "--no-progress",
            "--out",
            str(tmp_path / "new"),
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["slope_below_v"] == 0.03
    assert {name for name, _, _, _ in TARGETS} <= set(data)
    assert data["variant"] == "thesis" and data["tuning_error_exclusion"] == "fault-map"
    out = tmp_path / "new"  # created by the command
    assert (out / "calibrated_device.yaml").exists()
    assert (out / "candidates.csv").exists()
    table = pd.read_parquet(out / "candidates.parquet")
    assert len(table) == 1 and table.loc[0, "slope_below_v"] == 0.03
    assert (out / "calibration.png").stat().st_size > 1000
    assert "| tuning_p99_sigma_0p25 | 0.144 |" in (out / "residuals.md").read_text()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--below", "abc"], "below"),
        (["--above", "-0.1"], "above"),
        (["--pairs", "0"], "pairs"),
        (["--variants", "uncapped"], "variants"),
        (["--far", "0.1"], "far"),
        (["--far", "0.1:x"], "far"),
        (["--far", "0:1"], "far"),
    ],
)
def test_calibrate_cli_bad_input(capsys, args, field):
    assert main(["calibrate", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and field in err and "\n" not in err


def test_calibrate_three_piece_candidates():
    """Every slope pair runs as the two-slope law and with each far piece; the best
    candidate's population carries its law, and the far piece changes the numbers."""
    setup = SMALL.model_copy(
        update={"slopes_below_v": [0.04], "variants": ["thesis"], "far_pieces_v": [(0.05, 0.02)]}
    )
    table = calibrate(setup).table
    assert len(table) == 2
    two = table[table["knee_v"].isna()].iloc[0]
    three = table[table["knee_v"] == 0.05].iloc[0]
    assert math.isnan(two["slope_far_v"]) and three["slope_far_v"] == 0.02
    assert any(two[name] != three[name] for name, _, _, _ in TARGETS)
    best = calibrate(setup.model_copy(update={"far_pieces_v": []})).best
    assert best.dynamics.kind == "two-slope"
    report = calibrate(setup)
    first = report.table.iloc[0]
    kind = "two-slope" if math.isnan(first["knee_v"]) else "three-piece"
    assert report.best.dynamics.kind == kind

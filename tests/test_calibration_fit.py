"""Calibration fit: parameter space, optimizer over a store, resume, Dask, adoption rule."""

import json
import math
import sys

import cloudpickle
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xbarsim.devices.config import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.calibration import TARGETS, CalibrationSetup, published_target
from xbarsim.experiments.calibration_fit import adopt, fit, trial_key
from xbarsim.experiments.calibration_space import ParameterSpace

NAMES = [name for name, _, _, _ in TARGETS]
SETUP = CalibrationSetup(size=4, pairs=1, small_size=4, small_pairs=1, inputs=10,
                         image_seeds=1, image_size=4, engine="cpu")
SPACE = ParameterSpace.parse("slope_below,slope_above=0.1:0.5,variant")
CALLS: list[int] = []


def cheap(device, setup, variant):
    """A mock objective: every target at its published value times a smooth function of the
    slopes (minimum at 0.03 V / 0.3 V, thesis variant), plus 1 % seed noise."""
    CALLS.append(setup.seed)
    below, above = device.dynamics.slopes()
    noise = np.random.default_rng(setup.seed).normal(0.0, 0.01, len(NAMES))
    shifts = [(1 + i % 3) * math.log(below / 0.03) + (1 + i // 6) * math.log(above / 0.3)
              + (0.5 * (-1) ** i if variant == "capped" else 0.0) for i in range(len(NAMES))]
    return {name: published_target(name) * math.exp(shifts[i] + noise[i])
            for i, name in enumerate(NAMES)}


def test_space_parses_maps_and_refuses():
    assert SPACE.names() == ["slope_below", "slope_above", "variant"]
    assert SPACE.bounds()[1] == pytest.approx((math.log10(0.1), math.log10(0.5)))
    values = SPACE.values(np.array([math.log10(0.04), math.log10(0.2), 1.2]))
    assert values == {"slope_below": 0.04, "slope_above": 0.2, "variant": "capped"}
    device = SPACE.device(values, preset("thesis-uniformity"))
    assert device.dynamics.slopes() == (0.04, 0.2) and SPACE.variant(values) == "capped"
    three = ParameterSpace.parse("knee,leak_dose,threshold_distribution")
    dev = three.device({"knee": 0.1, "leak_dose": 1e-4, "threshold_distribution": "normal"},
                       preset("thesis-uniformity"))
    assert dev.dynamics.kind == "three-piece" and dev.dynamics.knee_v == 0.1
    assert dev.dynamics.slope_far_v == dev.dynamics.slope_above_v == 0.3
    assert dev.leak_dose == 1e-4 and dev.threshold_distribution == "normal"
    for text, part in [("nope", "unknown parameter 'nope'"), ("knee=1:0.1", "low < high"),
                       ("knee=a:b", "LOW:HIGH"), ("knee,knee", "at most once"), ("", "at least")]:
        with pytest.raises(XbarsimInputError, match=part):
            ParameterSpace.parse(text)


def test_fit_respects_budget_and_finds_the_minimum(tmp_path):
    result = fit(SPACE, SETUP, budget=40, population=8, replicates=2, objective=cheap)
    assert len(result.trials) == 40 and list(result.trials["trial"]) == list(range(40))
    assert len(result.replicates) == 3 + 3  # best + 2 replicates, default at 3 seeds
    assert result.trials["loss"].min() == result.trials.loc[result.trials["pareto"], "loss"].min()
    # the search improves on its random start and heads for the minimum
    assert result.trials["loss"].min() < result.trials["loss"].iloc[:8].min()
    assert result.variant == "thesis" and 0.02 < result.best["slope_below"] < 0.045
    assert result.uncertainty["slope_below"]["min"] <= result.best["slope_below"]
    assert math.isclose(sum(result.uncertainty["variant"].values()), 1.0)
    small = fit(SPACE, SETUP, budget=3, population=8, replicates=1, objective=cheap)
    assert len(small.trials) == 3  # fewer than one generation


def test_resume_replays_without_recomputing(tmp_path):
    store = tmp_path / "store"
    CALLS.clear()
    first = fit(SPACE, SETUP, budget=12, store=store, population=6, replicates=1,
                objective=cheap)
    assert len(CALLS) == 12 + 1 + 2
    CALLS.clear()
    again = fit(SPACE, SETUP, budget=12, store=store, population=6, replicates=1,
                objective=cheap)
    assert CALLS == []
    assert again.trials["key"].tolist() == first.trials["key"].tolist()
    longer = fit(SPACE, SETUP, budget=18, store=store, population=6, replicates=1,
                 objective=cheap)
    assert longer.trials["key"].tolist()[:12] == first.trials["key"].tolist()
    def keys(result):
        return set(result.trials["key"]) | set(result.replicates["key"])

    assert len(CALLS) == len(keys(longer) - keys(first)) >= 3  # only the new trials run
    with pytest.raises(XbarsimInputError, match=r"^store: .* different study parameters"):
        fit(ParameterSpace.parse("slope_below"), SETUP, budget=2, store=store,
            objective=cheap)


def test_rerun_rescores_stored_trials_with_the_current_loss(tmp_path):
    """A store written under another loss (here: a monotone transform of the current one and
    garbage residuals) replays the same search without measuring, and the summary carries
    the current loss recomputed from the stored target values."""
    store = tmp_path / "store"
    first = fit(SPACE, SETUP, budget=12, store=store, population=6, replicates=1,
                objective=cheap)
    for part in store.glob("part-*.parquet"):
        table = pq.read_table(part)
        rows = [json.loads(r) for r in table.column("row").to_pylist()]
        for row in rows:
            row.update({"loss": 100.0 + 2.0 * row["loss"], "loss_t28": -1.0},
                       **{f"res_{name}": 9.0 for name in NAMES})
        pq.write_table(pa.table({"job": table.column("job"),
                                 "row": [json.dumps(r) for r in rows]}), part)
    CALLS.clear()
    again = fit(SPACE, SETUP, budget=12, store=store, population=6, replicates=1,
                objective=cheap)
    assert CALLS == []
    assert again.trials["key"].tolist() == first.trials["key"].tolist()
    for column in ["loss", "loss_t28", *(f"res_{name}" for name in NAMES)]:
        assert np.allclose(again.trials[column], first.trials[column])
    assert again.loss_noise == pytest.approx(first.loss_noise)
    assert again.default_noise == pytest.approx(first.default_noise) and first.default_noise > 0


def test_trial_seed_derives_from_parameters_not_position():
    one = fit(SPACE, SETUP, budget=10, population=5, replicates=1, objective=cheap)
    other = fit(SPACE, SETUP.model_copy(update={"seed": 1}), budget=10, population=5,
                replicates=1, objective=cheap)
    row = one.trials.iloc[3]
    assert row["key"] == trial_key({n: row[f"p_{n}"] for n in SPACE.names()}, 0)
    seeds = dict(zip(one.trials["key"], one.trials["seed"], strict=True))
    shared = set(seeds) & set(other.trials["key"])
    assert all(seeds[k] != s for k, s in zip(other.trials["key"], other.trials["seed"],
                                              strict=True) if k in shared)


def test_serial_equals_dask():
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    serial = fit(SPACE, SETUP, budget=10, population=5, replicates=1, objective=cheap)
    dask = fit(SPACE, SETUP, budget=10, population=5, replicates=1, objective=cheap,
               workers=2)
    columns = [c for c in serial.trials.columns if c != "seconds"]
    assert serial.trials[columns].equals(dask.trials[columns])
    assert serial.best == dask.best


def test_adoption_rule_refuses_for_each_reason():
    spreads = dict.fromkeys(NAMES, 0.1)
    default = dict.fromkeys(NAMES, 0.5)
    better = dict(default, tuning_p99_sigma_0p05=0.0)
    assert adopt(better, default, spreads).adopted
    same = adopt(dict(default), default, spreads)
    assert not same.adopted and "does not improve" in same.reasons[0]
    # better in aggregate, but one target gets worse by more than its spread
    trade = dict(dict.fromkeys(NAMES, 0.0), n_hs_ratio=0.61)
    verdict = adopt(trade, default, spreads)
    assert not verdict.adopted and len(verdict.reasons) == 1
    assert verdict.reasons[0].startswith("n_hs_ratio gets worse")
    # worse, but by less than its spread (and the sign does not matter): allowed
    inside = dict(dict.fromkeys(NAMES, 0.0), n_hs_ratio=-0.59)
    assert adopt(inside, default, spreads).adopted
    undefined = dict(better, sigma0_hs_penalty=math.nan)
    assert not adopt(undefined, default, spreads).adopted
    both = dict(default, sigma0_hs_penalty=math.nan)
    assert adopt(dict(both, tuning_p99_sigma_0p05=0.0), both, spreads).adopted

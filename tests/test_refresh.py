"""Outlier threshold refresh before tuning (thesis 3.5.3)."""

import numpy as np
import pytest
from pydantic import ValidationError

from xbarsim.crossbar import Crossbar
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.programming import WriteVerify, program
from xbarsim.programming.refresh import ThresholdRefresh, refresh_outliers

DEVICE = preset("thesis-uniformity").with_sigma(0.3)


def test_refresh_touches_only_low_threshold_outliers_once():
    policy = ThresholdRefresh()
    for seed in range(3):
        x = Crossbar.sample(DEVICE, (32, 32), batch=2, seed=seed)
        before = x.copy()
        outliers = policy.outliers(x)
        assert 0.02 < outliers.mean() < 0.2
        count = refresh_outliers(x, policy)
        np.testing.assert_array_equal(count, outliers.astype(np.int64))
        assert np.all(x.v_set[outliers] != before.v_set[outliers])
        np.testing.assert_array_equal(x.v_set[~outliers], before.v_set[~outliers])
        np.testing.assert_array_equal(x.conductance[~outliers], before.conductance[~outliers])
        assert np.all(x.conductance[outliers] == DEVICE.initial_mean_s)


def test_relative_refresh_is_a_symmetric_stochastic_shift():
    changes = []
    for seed in range(4):
        x = Crossbar.sample(DEVICE, (48, 48), batch=2, seed=seed)
        mask = ThresholdRefresh().outliers(x)
        old = x.v_set[mask].copy()
        refresh_outliers(x, ThresholdRefresh())
        changes.append(100 * (x.v_set[mask] - old) / old)
    change = np.concatenate(changes)
    assert abs(np.median(change)) < 5.0  # zero-centred (Fig. 34b)
    assert np.std(change) == pytest.approx(25.0, rel=0.15)
    assert change.min() >= -90.0 and change.max() <= 150.0


def test_resampling_and_repeated_refresh_shrink_the_low_tail():
    for seed in range(3):
        x = Crossbar.sample(DEVICE, (48, 48), batch=1, seed=seed)
        once, thrice = x.copy(), x.copy()
        n0 = ThresholdRefresh().outliers(x).sum()
        refresh_outliers(once, ThresholdRefresh(mode="resample"))
        count = refresh_outliers(thrice, ThresholdRefresh(mode="resample", max_refresh=3))
        n1 = ThresholdRefresh().outliers(once).sum()
        n3 = ThresholdRefresh().outliers(thrice).sum()
        assert n3 <= n1 < 0.3 * n0
        assert count.max() <= 3


def test_refresh_in_write_verify_counts_and_agrees_across_engines_and_batches():
    alg = WriteVerify.thesis(passes=2, refresh=ThresholdRefresh())
    x = Crossbar.sample(DEVICE, (8, 8), batch=2, seed=5)
    t = np.random.default_rng(0).uniform(10e-6, 100e-6, (2, 8, 8))
    ref = program(x.copy(), t, alg, engine="reference")
    cpu = program(x.copy(), t, alg, engine="cpu")
    np.testing.assert_array_equal(ref.refreshed, cpu.refreshed)
    np.testing.assert_array_equal(ref.pulses, cpu.pulses)
    np.testing.assert_allclose(ref.conductance, cpu.conductance, rtol=1e-12)
    assert ref.refreshed.sum() == ThresholdRefresh().outliers(x).sum() > 0
    alone = Crossbar.sample(DEVICE, (8, 8), batch=1, seed=5, first_index=1)
    single = program(alone, t[1], alg, engine="cpu")
    np.testing.assert_array_equal(single.refreshed[0], cpu.refreshed[1])
    np.testing.assert_array_equal(single.conductance[0], cpu.conductance[1])
    assert program(x.copy(), t, WriteVerify.thesis(passes=1), engine="cpu").refreshed is None


def test_refresh_bad_input():
    with pytest.raises(ValidationError, match="max_refresh"):
        WriteVerify.thesis(refresh={"max_refresh": 0})
    x = Crossbar.sample(DEVICE, (4, 4), seed=0)
    before = x.copy()
    with pytest.raises(XbarsimInputError):
        program(x, np.full((4, 4), 1.0), WriteVerify.thesis(refresh=ThresholdRefresh()))
    np.testing.assert_array_equal(x.v_set, before.v_set)  # nothing changed on a refused run

"""Improved tuning (thesis 3.5.2): orchestration, partner compensation, pre-stage."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.crossbar import Crossbar
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.vmm_study import VmmCase, run_instances
from xbarsim.programming import WriteVerify, program
from xbarsim.programming.improved import (
    ImprovedTuning,
    compensated_targets,
    frozen_devices,
    prestage_selection,
    program_improved,
)

ENGINE = "cpu"


def _pair(n: int = 6, sigma: float = 0.25, seed: int = 3) -> tuple[Crossbar, np.ndarray]:
    xb = Crossbar.sample(preset("thesis-uniformity").with_sigma(sigma), (n, n), batch=2, seed=seed)
    w = np.random.default_rng(seed).uniform(-0.8, 0.8, (n, n))
    targets = np.stack([10e-6 + (1 + w) * 45e-6, 10e-6 + (1 - w) * 45e-6])
    return xb, targets


def test_all_measures_off_equals_plain_write_verify() -> None:
    xb, targets = _pair()
    base = WriteVerify.thesis()
    ref = program(xb.copy(), targets, base, engine=ENGINE)
    off = ImprovedTuning(base=base, prestage=False, compensate=False)
    got = program_improved(xb.copy(), targets, off, engine=ENGINE)
    np.testing.assert_array_equal(got.conductance, ref.conductance)
    np.testing.assert_array_equal(got.pulses, ref.pulses)
    np.testing.assert_array_equal(got.n_hs_per_pass, ref.n_hs_per_pass)
    np.testing.assert_allclose(got.history["p99"], ref.history["p99"])


def test_compensation_restores_the_difference() -> None:
    xb, targets = _pair(n=3)
    xb.conductance[0, 1, 1] = targets[0, 1, 1] + 7e-6  # G+ stuck 7 uS high
    frozen = np.zeros_like(targets, dtype=bool)
    frozen[0, 1, 1] = True
    eff = compensated_targets(xb, targets, frozen)
    assert eff[1, 1, 1] == pytest.approx(targets[1, 1, 1] + 7e-6)
    assert xb.conductance[0, 1, 1] - eff[1, 1, 1] == pytest.approx(
        targets[0, 1, 1] - targets[1, 1, 1]
    )
    unchanged = np.ones_like(frozen)
    unchanged[1, 1, 1] = False
    np.testing.assert_array_equal(eff[unchanged], targets[unchanged])


def test_frozen_needs_threshold_above_cap_and_miss() -> None:
    xb, targets = _pair(n=2)
    xb.conductance[...] = targets
    xb.conductance[0, 0, 0] = 0.5 * targets[0, 0, 0]  # needs a set
    xb.v_set[0, 0, 0] = 3.0
    xb.conductance[1, 0, 0] = 0.5 * targets[1, 0, 0]
    xb.v_set[1, 0, 0] = 1.0
    frozen = frozen_devices(xb, targets, 0.01, cap_v=2.5)
    assert frozen[0, 0, 0] and frozen.sum() == 1


def test_prestage_selection_prefers_the_easier_side() -> None:
    xb, _ = _pair(n=2)
    xb.v_set[...] = 1.0
    xb.v_reset[...] = 1.0
    xb.v_set[0, 0, 0] = 2.6  # hard to set -> high
    xb.v_reset[0, 0, 1] = 2.6  # hard to reset -> low
    xb.v_set[0, 1, 0], xb.v_reset[0, 1, 0] = 2.0, 2.8  # both; reset harder -> low
    high, low = prestage_selection(xb, ImprovedTuning.thesis())
    assert high[0, 0, 0] and low[0, 0, 1] and low[0, 1, 0]
    assert high.sum() == 1 and low.sum() == 2


def test_odd_batch_is_rejected() -> None:
    xb = Crossbar.sample(preset("thesis-uniformity"), (2, 2), batch=1, seed=0)
    with pytest.raises(XbarsimInputError, match="even batch"):
        program_improved(xb, np.full((2, 2), 50e-6), engine=ENGINE)


def test_improved_beats_baseline_over_seeds() -> None:
    """N=32, sigma=0.30, 1 % target, 2 pairs per seed, seeds 0-11: the thesis's regime
    where the improved algorithm helps (3.5.2: "especially when variations are higher than
    20%"). A claim about a population: improved wins on the mean over the 12 seeds and on
    at least 10 of them (measured: 11 of 12, means 36 % vs 15 %)."""
    base, impr = [], []
    for seed in range(12):
        for algorithm, out in (("baseline", base), ("improved", impr)):
            case = VmmCase(
                size=32,
                sigma=0.3,
                target=0.01,
                algorithm=algorithm,
                crossbars=2,
                weight_sets=1,
                inputs=200,
            )
            rows = run_instances(case, seed=seed, first=0, count=2, engine=ENGINE)
            out.append(np.mean([r["vmm_error_p99"] for r in rows]))
    b, i = np.array(base), np.array(impr)
    assert i.mean() < 0.6 * b.mean()
    assert np.sum(i < b) >= 10

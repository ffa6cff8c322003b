"""Layer 4: weight <-> conductance mappings, tiling, chip config."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.mapping import (
    ChipConfig,
    pair_to_weights,
    single_to_weights,
    tile,
    untile,
    weights_to_pair,
    weights_to_single,
)

LOW, HIGH = 10e-6, 100e-6


def test_differential_mapping_formula() -> None:
    w = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    gp, gm = weights_to_pair(w, "differential", LOW, HIGH)
    np.testing.assert_allclose(gp, LOW + (1 + w) * (HIGH - LOW) / 2)
    np.testing.assert_allclose(gm, LOW + (1 - w) * (HIGH - LOW) / 2)
    np.testing.assert_allclose(gp[0], LOW)
    np.testing.assert_allclose(gp[-1], HIGH)


def test_mapping1_one_device_at_minimum() -> None:
    w = np.array([-0.8, 0.0, 0.3])
    gp, gm = weights_to_pair(w, "mapping1", LOW, HIGH)
    np.testing.assert_allclose(gp, [LOW, LOW, LOW + 0.3 * (HIGH - LOW)])
    np.testing.assert_allclose(gm, [LOW + 0.8 * (HIGH - LOW), LOW, LOW])
    assert np.all(np.minimum(gp, gm) == LOW)


def test_mapping2_around_bias() -> None:
    w = np.array([-0.5, 0.25])
    gp, gm = weights_to_pair(w, "mapping2", LOW, HIGH, g_bias=60e-6)
    np.testing.assert_allclose((gp + gm) / 2, 60e-6)
    np.testing.assert_allclose(gp - gm, w * (HIGH - LOW))
    with pytest.raises(XbarsimInputError, match="g_bias"):
        weights_to_pair(np.array([1.0]), "mapping2", LOW, HIGH, g_bias=80e-6)


@pytest.mark.parametrize("mapping", ["differential", "mapping1", "mapping2"])
def test_pair_inverse(mapping: str) -> None:
    w = np.random.default_rng(1).uniform(-1, 1, (7, 5))
    gp, gm = weights_to_pair(w, mapping, LOW, HIGH)
    assert gp.min() >= LOW - 1e-18 and gm.max() <= HIGH + 1e-18
    np.testing.assert_allclose(pair_to_weights(gp, gm, LOW, HIGH), w, atol=1e-12)


def test_single_device_mapping_clips_and_inverts() -> None:
    g = weights_to_single(np.array([-0.2, 0.0, 0.5, 1.0, 1.7]), LOW, HIGH)
    np.testing.assert_allclose(g, [LOW, LOW, 55e-6, HIGH, HIGH])
    np.testing.assert_allclose(single_to_weights(g, LOW, HIGH), [0, 0, 0.5, 1, 1])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: weights_to_pair(np.array([1.5])), "weights"),
        (lambda: weights_to_pair(np.array([np.nan])), "weights"),
        (lambda: weights_to_pair(np.array([0.1]), "mapping3"), "mapping"),
        (lambda: weights_to_pair(np.array([0.1]), g_low=1e-4, g_high=1e-5), "mapping range"),
        (lambda: weights_to_pair(np.array([0.1]), g_bias=5e-5), "g_bias"),
        (lambda: pair_to_weights(np.ones(2), np.ones(3)), "g_minus"),
        (lambda: tile(np.ones((3, 3)), 0), "kernel size"),
        (lambda: tile(np.ones((3, 3)), 2.5), "kernel size"),
        (lambda: tile(np.ones(3), 2), "matrix"),
        (lambda: tile(np.ones((3, 2)), 2, bias=np.ones(3)), "bias"),
    ],
)
def test_bad_input_one_line(call, match: str) -> None:
    with pytest.raises(XbarsimInputError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 20),
    cols=st.integers(1, 20),
    size=st.integers(1, 8),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_tiling_round_trip(rows: int, cols: int, size: int, with_bias: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((rows, cols))
    b = rng.standard_normal(cols) if with_bias else None
    kernels, layout = tile(m, size, bias=b)
    assert kernels.shape == (layout.n_kernels, size, size)
    grid = layout.grid
    assert grid == (-(-(rows + with_bias) // size), -(-cols // size))
    # every entry appears exactly once, the rest is zero padding
    assert np.count_nonzero(kernels) == np.count_nonzero(m) + (
        0 if b is None else np.count_nonzero(b)
    )
    m2, b2 = untile(kernels, layout)
    np.testing.assert_array_equal(m2, m)
    if b is None:
        assert b2 is None
    else:
        np.testing.assert_array_equal(b2, b)


def test_tiling_layout_row_major_and_vmm() -> None:
    w = np.arange(5 * 3, dtype=float).reshape(3, 5)  # Linear weight (out=3, in=5)
    kernels, layout = tile(w.T, 2)
    assert layout.grid == (3, 2)
    np.testing.assert_array_equal(kernels[0], w.T[:2, :2])
    np.testing.assert_array_equal(kernels[1], [[w.T[0, 2], 0], [w.T[1, 2], 0]])
    # a tiled VMM (sum of kernel products over input tiles) equals x @ W.T
    x = np.arange(5.0)
    xp = np.zeros(6)
    xp[:5] = x
    out = np.zeros(4)
    for k, kernel in enumerate(kernels):
        r, c = divmod(k, layout.grid[1])
        out[2 * c : 2 * c + 2] += xp[2 * r : 2 * r + 2] @ kernel
    np.testing.assert_allclose(out[:3], x @ w.T)


def test_chip_config_validation() -> None:
    chip = ChipConfig(device=preset("tio2-64x64-paper"), kernel=16)
    assert chip.kernel == 16 and chip.mapping == "differential"
    for bad in (
        {"kernel": 0},
        {"kernel": 2.5},
        {"kernel": "8"},
        {"g_low_s": 0.5e-6},
        {"g_high_s": 300e-6},
        {"engine": "warp"},
        {"mapping": "mapping9"},
    ):
        with pytest.raises(ValidationError):
            ChipConfig(**bad)

"""Line resistance: the exact effective matrix against the sparse nodal reference, closed
forms, reciprocity and conservation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from xbarsim.crossbar import (
    Crossbar,
    Lines,
    effective_matrix,
    irdrop,
    lines_from_dict,
    lines_preset,
)
from xbarsim.crossbar.nodal import NodalNetwork
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError

ENDS = ("first", "last", "both")


def _random_g(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).uniform(1e-6, 200e-6, shape)


@pytest.mark.parametrize(("drive", "sense"), list(itertools.product(ENDS, ENDS)))
def test_zero_resistance_is_the_ideal_vmm(drive, sense):
    g = _random_g(0, (3, 7, 5))
    lines = Lines(row_drive=drive, col_sense=sense)
    np.testing.assert_allclose(effective_matrix(g, lines), g, rtol=1e-12, atol=0)
    np.testing.assert_allclose(NodalNetwork(g[0], lines).effective_matrix(), g[0], rtol=1e-12)


@pytest.mark.parametrize(
    ("r_row", "r_col", "r_src", "r_snk", "drive", "sense"),
    list(itertools.product((0.0, 1.5), (0.0, 2.5), (0.0, 30.0), (0.0, 40.0), ENDS, ENDS)),
)
def test_structured_solver_equals_sparse_nodal_reference(r_row, r_col, r_src, r_snk, drive,
                                                         sense):
    """Two implementations: block elimination vs sparse LU of the full node system, for
    every combination of zero / nonzero resistances and line ends."""
    g = _random_g(1, (2, 6, 5))
    lines = Lines(r_row_ohm=r_row, r_col_ohm=r_col, r_source_ohm=r_src, r_sink_ohm=r_snk,
                  row_drive=drive, col_sense=sense)
    fast = effective_matrix(g, lines)
    ref = np.stack([NodalNetwork(x, lines).effective_matrix() for x in g])
    np.testing.assert_allclose(fast, ref, rtol=1e-10, atol=1e-10 * ref.max())


def test_large_resistances_and_single_lines_agree_with_reference():
    for shape in ((1, 1), (1, 6), (6, 1), (9, 4)):
        g = _random_g(2, shape)
        lines = Lines(r_row_ohm=300.0, r_col_ohm=500.0, r_source_ohm=1e3, r_sink_ohm=2e3,
                      r_tia_in_ohm=10.0, row_drive="both", col_sense="first")
        np.testing.assert_allclose(effective_matrix(g, lines),
                                   NodalNetwork(g, lines).effective_matrix(), rtol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 8, 64])
@pytest.mark.parametrize("r", [0.1, 1.0, 10.0])
def test_single_bit_line_matches_closed_form_ladder(n, r):
    """One column of n equal devices, every row at V with ideal rows, sensed at the last row
    into an ideal ground: e_k = A cosh((k + 1/2) θ) with cosh θ = 1 + rG/2 gives
    I = G V sinh(nθ) / (2 sinh(θ/2) cosh((n − 1/2) θ))."""
    g_dev, v = 80e-6, 0.1
    theta = math.acosh(1.0 + r * g_dev / 2.0)
    closed = g_dev * v * math.sinh(n * theta) / (2 * math.sinh(theta / 2)
                                                 * math.cosh((n - 0.5) * theta))
    m = effective_matrix(np.full((n, 1), g_dev), Lines(r_col_ohm=r))
    assert float(v * m.sum()) == pytest.approx(closed, rel=1e-11)


def test_first_order_deficit_within_ten_percent_when_small():
    """specs/circuits.md §5.2-5.3: one line of N devices at G, all inputs at V, sensed at one
    end through N segments (the last one into the sink): the far device's voltage deficit is
    ≈ r G N (N + 1) / 2 (relative), within 10 % while it is <= 0.05; the total current
    deficit is ≈ r G (N + 1)(2N + 1) / 6 to first order."""
    for n, r, g_dev in ((16, 1.0, 50e-6), (32, 0.5, 50e-6), (64, 0.2, 20e-6)):
        first_order = r * g_dev * n * (n + 1) / 2
        assert first_order <= 0.05
        lines = Lines(r_col_ohm=r, r_sink_ohm=r)
        g = np.full((n, 1), g_dev)
        _, w = NodalNetwork(g, lines).solve(np.full(n, 0.1))
        assert float(w[0, 0, 0]) / 0.1 == pytest.approx(first_order, rel=0.10)
        total = 1.0 - effective_matrix(g, lines).sum() / (n * g_dev)
        assert total == pytest.approx(r * g_dev * (n + 1) * (2 * n + 1) / 6, rel=0.10)


@pytest.mark.parametrize(("drive", "sense"), [("first", "last"), ("last", "first"),
                                              ("both", "last"), ("first", "both")])
def test_reciprocity(drive, sense):
    """Swap the roles of inputs and outputs (drive the columns through the sink
    resistance, sense the rows through the source resistance): the transfer matrix of the
    transposed circuit is the transpose, M'[j, i] = M[i, j]."""
    g = _random_g(3, (2, 7, 5))
    lines = Lines(r_row_ohm=1.2, r_col_ohm=0.9, r_source_ohm=20.0, r_sink_ohm=15.0,
                  r_tia_in_ohm=5.0, row_drive=drive, col_sense=sense)
    swapped = Lines(r_row_ohm=lines.r_col_ohm, r_col_ohm=lines.r_row_ohm,
                    r_source_ohm=lines.r_terminal_ohm, r_sink_ohm=lines.r_source_ohm,
                    row_drive=sense, col_sense=drive)
    m = effective_matrix(g, lines)
    m_t = effective_matrix(np.swapaxes(g, 1, 2), swapped)
    np.testing.assert_allclose(m_t, np.swapaxes(m, 1, 2), rtol=1e-10)


resistance = st.sampled_from([0.0, 0.1, 1.0, 10.0, 100.0])


@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    r=st.tuples(resistance, resistance, resistance, resistance),
    drive=st.sampled_from(ENDS),
    sense=st.sampled_from(ENDS),
)
@settings(max_examples=60, deadline=None)
def test_conservation_bounds_and_monotonicity(rows, cols, seed, r, drive, sense):
    """KCL: the sources supply exactly the current the sinks absorb; every node lies between
    ground and the largest input; transfers are >= 0; the array's total conductance only
    falls when any line resistance grows (Rayleigh monotonicity)."""
    g = _random_g(seed, (rows, cols))
    lines = Lines(r_row_ohm=r[0], r_col_ohm=r[1], r_source_ohm=r[2], r_sink_ohm=r[3],
                  row_drive=drive, col_sense=sense)
    v = np.random.default_rng(seed + 1).uniform(0.0, 0.1, rows)
    net = NodalNetwork(g, lines)
    u, w = net.solve(v)
    out = net.output_currents(v)[0]
    # currents from the sources = current entering the row lines through the devices
    supplied = float(np.sum(g * (u[0] - w[0])))
    assert supplied == pytest.approx(float(out.sum()), rel=1e-9, abs=1e-18)
    assert np.all(u >= -1e-15) and np.all(u <= v.max() + 1e-15)
    assert np.all(w >= -1e-15) and np.all(w <= u.max() + 1e-15)
    m = effective_matrix(g, lines)
    assert np.all(m >= -1e-18)
    np.testing.assert_allclose(v @ m, out, rtol=1e-9, atol=1e-18)
    total = m.sum()
    assert total <= g.sum() * (1 + 1e-12)
    bigger = lines.model_copy(update={"r_row_ohm": 2 * r[0] + 0.5})
    assert effective_matrix(g, bigger).sum() <= total * (1 + 1e-12)


def test_crossbar_vmm_uses_the_effective_matrix():
    xbars = Crossbar.sample(preset("thesis-uniformity"), (8, 6), batch=3, seed=4)
    v = np.random.default_rng(5).uniform(0, 0.1, (10, 8))
    lines = lines_preset("paper")
    m = effective_matrix(xbars, lines)
    np.testing.assert_allclose(xbars.vmm(v, lines=lines), np.einsum("nr,brc->bnc", v, m))
    np.testing.assert_array_equal(xbars.vmm(v, lines=Lines()), xbars.vmm(v))
    assert np.all(xbars.vmm(v, lines=lines) < xbars.vmm(v))  # IR drop only loses current


def test_presets_and_tia_input_resistance():
    paper = lines_preset("paper")
    assert (paper.r_row_ohm, paper.r_col_ohm) == (1.2, 0.93)
    assert lines_preset("ideal").is_ideal
    with_tia = paper.with_tia(18.4e3, 2200.0)
    assert with_tia.r_tia_in_ohm == pytest.approx(18.4e3 / 2201)
    assert with_tia.r_terminal_ohm == pytest.approx(with_tia.r_tia_in_ohm)
    assert lines_from_dict({"preset": "paper", "r_source_ohm": 5.0}).r_source_ohm == 5.0


@pytest.mark.parametrize(
    "bad",
    [{"r_row_ohm": -1.0}, {"r_col_ohm": float("nan")}, {"r_sink_ohm": float("inf")},
     {"row_drive": "middle"}, {"r_source_ohm": -0.1}],
)
def test_bad_lines_are_rejected(bad):
    with pytest.raises(ValidationError):
        Lines(**bad)
    with pytest.raises(XbarsimInputError, match="lines:"):
        lines_from_dict(bad)


def test_bad_conductances_and_sizes_are_refused(monkeypatch):
    lines = lines_preset("paper")
    for bad in (np.full((2, 2), np.nan), -np.ones((2, 2)), np.ones(3)):
        with pytest.raises(XbarsimInputError, match="conductance"):
            effective_matrix(bad, lines)
    with pytest.raises(XbarsimInputError, match="unknown preset"):
        lines_preset("copper")
    with pytest.raises(XbarsimInputError):
        Lines().with_tia(0.0, 2200.0)
    monkeypatch.setattr(irdrop, "_memory_limit", lambda: 2**20)
    with pytest.raises(XbarsimInputError, match=r"needs about .* GiB"):
        effective_matrix(np.ones((64, 64)) * 1e-5, lines)


def test_results_do_not_depend_on_workers_or_chunking(monkeypatch):
    g = _random_g(6, (5, 9, 8))
    lines = lines_preset("paper").model_copy(update={"r_source_ohm": 5.0})
    one = effective_matrix(g, lines, workers=1)
    monkeypatch.setattr(irdrop, "CHUNK_BYTES", 1)  # one crossbar per chunk
    np.testing.assert_array_equal(effective_matrix(g, lines, workers=2), one)
    np.testing.assert_array_equal(effective_matrix(g[2], lines), one[2])
    with pytest.raises(XbarsimInputError, match="workers"):
        effective_matrix(g, lines, workers=0)


@pytest.mark.parametrize("n", [3, 16, 33, 64])
def test_spd_inverse(n):
    rng = np.random.default_rng(n)
    x = rng.random((4, n, n))
    k = x @ np.swapaxes(x, 1, 2) + n * np.eye(n)
    np.testing.assert_allclose(irdrop.spd_inverse(k) @ k, np.broadcast_to(np.eye(n), k.shape),
                               atol=1e-12)


def test_read_with_lines_is_the_effective_matrix_and_worst_far_from_the_ends():
    """Read mode (selected row at V_read, other rows and columns grounded): the sensed
    current of device (i, j) is V_read·M[i, j]; the deficit is largest at the device
    farthest from the driver (last column) and the sink (row 0)."""
    xbars = Crossbar.sample(preset("thesis-uniformity"), (16, 16), batch=1, seed=0)
    xbars.conductance[...] = 50e-6
    lines = lines_preset("paper")
    read = xbars.read(0.25, lines=lines)[0]
    v = np.zeros(16)
    v[3] = 0.25
    np.testing.assert_allclose(read[3], NodalNetwork(xbars.conductance[0], lines)
                               .output_currents(v)[0], rtol=1e-10)
    deficit = 1 - read / (0.25 * 50e-6)
    assert np.unravel_index(np.argmax(deficit), deficit.shape) == (0, 15)
    # the device beside the ideal driver and the ideal sink reads exactly
    assert abs(deficit[15, 0]) < 1e-12 and np.sort(deficit.ravel())[1] > 1e-4
    np.testing.assert_array_equal(xbars.read(0.25), xbars.conductance * 0.25)


def test_design_rule_presets_each_buy_accuracy():
    g = np.full((1, 64, 64), 50e-6)
    v = np.full(64, 0.1)

    def error(lines: Lines) -> float:
        return float(np.max(1 - (v @ effective_matrix(g, lines)) / (v @ g)))

    paper = error(lines_preset("paper"))
    assert error(lines_preset("paper-double-sided")) < paper
    assert error(lines_preset("paper").strapped(0.25)) < paper
    assert error(lines_preset("paper-tia64")) > paper  # the TIA input adds 3.1 ohm
    assert lines_preset("paper-tia64").r_tia_in_ohm == pytest.approx(6875 / 2201)
    with pytest.raises(XbarsimInputError, match="factor"):
        lines_preset("paper").strapped(0.0)


def test_programming_through_lines_makes_every_verify_read_exact():
    t = _random_g(7, (2, 12, 10))
    lines = lines_preset("paper").model_copy(update={"r_sink_ohm": 5.0})
    g = irdrop.program_through_lines(t, lines)
    np.testing.assert_allclose(effective_matrix(g, lines), t, rtol=1e-8)
    assert np.all(g >= t)  # every device tuned up to make up for its read drop
    far, near = g[:, 0, -1] / t[:, 0, -1], g[:, -1, 0] / t[:, -1, 0]
    assert np.all(far > near)
    np.testing.assert_array_equal(irdrop.program_through_lines(t, Lines()), t)
    with pytest.raises(XbarsimInputError, match="too resistive"):
        irdrop.program_through_lines(t, Lines(r_row_ohm=1e4, r_col_ohm=1e4), max_iter=3)
    # with a device limit the fixed point settles: capped devices stay at the limit, the
    # others read exactly
    strong = Lines(r_row_ohm=10.0, r_col_ohm=10.0)
    capped = irdrop.program_through_lines(t, strong, g_max_s=210e-6)
    at_cap = capped >= 210e-6
    assert at_cap.any() and (~at_cap).any()
    ratio = effective_matrix(capped, strong) / t
    np.testing.assert_allclose(ratio[~at_cap], 1.0, rtol=1e-8)


def test_circuit_layers_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, xbarsim.crossbar.irdrop, xbarsim.crossbar.newton, xbarsim.crossbar.spice,"
        " xbarsim.crossbar.write_path, xbarsim.periphery, xbarsim.experiments.irdrop,"
        " xbarsim.cli.circuit_commands; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"

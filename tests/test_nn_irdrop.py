"""Deployed networks with line resistance: one effective matrix per kernel."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from xbarsim.crossbar import Crossbar, Lines, effective_matrix, lines_preset  # noqa: E402
from xbarsim.devices import preset  # noqa: E402
from xbarsim.mapping import ChipConfig  # noqa: E402
from xbarsim.nn.deploy import program_model  # noqa: E402

EXACT = ChipConfig(kernel=4, algorithm=None)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 5, bias=False)).double().eval()


def test_deployed_layer_equals_per_kernel_circuit_solves():
    """The layer's single matmul on untiled effective matrices equals summing, kernel by
    kernel, the column currents of each programmed crossbar with its lines."""
    lines = Lines(r_row_ohm=5.0, r_col_ohm=5.0, r_source_ohm=50.0, r_sink_ohm=20.0)
    dep = program_model(_model(), EXACT, lines=lines)
    np.testing.assert_allclose(dep.effective, effective_matrix(dep.conductance, lines))
    x = torch.rand(7, 6, dtype=torch.float64)
    with torch.no_grad():
        out = dep.model(x).numpy()
    record = dep.layers[0]
    xbars = Crossbar.sample(preset("thesis-uniformity"), (4, 4), batch=dep.n_kernels)
    xbars.conductance[...] = dep.conductance
    volts = np.concatenate([0.1 * x.numpy(), np.zeros((7, 2))], axis=1)  # rows padded to 8
    currents = np.zeros((7, 8))
    for k in range(record.layout.n_kernels):
        r, c = divmod(k, record.layout.grid[1])
        per_kernel = xbars.vmm(volts[:, 4 * r : 4 * r + 4], lines=lines)
        i_plus, i_minus = per_kernel[record.plus][k], per_kernel[record.minus][k]
        currents[:, 4 * c : 4 * c + 4] += i_plus - i_minus
    scale = float(dep.model[0].weight_scale)
    np.testing.assert_allclose(out, currents[:, :5] * scale / 0.1, rtol=1e-10, atol=1e-12)


def test_ideal_lines_change_nothing_and_resistance_degrades_monotonically():
    x = torch.rand(32, 6, dtype=torch.float64)
    with torch.no_grad():
        ideal = program_model(_model(), EXACT).model(x)
        assert program_model(_model(), EXACT, lines=Lines()).effective is None
        errors = []
        for r in (0.5, 5.0, 50.0):
            lines = Lines(r_row_ohm=r, r_col_ohm=r)
            out = program_model(_model(), EXACT, lines=lines).model(x)
            errors.append(float((out - ideal).abs().max() / ideal.abs().max()))
    assert 0 < errors[0] < errors[1] < errors[2]
    assert errors[0] < 1e-2  # 0.5 ohm on 4x4 kernels: a small effect
    dep = program_model(_model(), EXACT, lines=lines_preset("paper"))
    assert dep.effective.shape == dep.conductance.shape


def test_programming_through_the_lines_cancels_ir_drop():
    x = torch.rand(32, 6, dtype=torch.float64)
    lines = Lines(r_row_ohm=5.0, r_col_ohm=5.0, r_source_ohm=20.0, r_sink_ohm=10.0)
    with torch.no_grad():
        ideal = program_model(_model(), EXACT).model(x)
        plain = program_model(_model(), EXACT, lines=lines)
        verified = program_model(_model(), EXACT, lines=lines, verify_through_lines=True)
        err_plain = float((plain.model(x) - ideal).abs().max() / ideal.abs().max())
        err_verified = float((verified.model(x) - ideal).abs().max() / ideal.abs().max())
    assert err_plain > 1e-3 and err_verified < 1e-7
    assert (verified.conductance >= verified.targets * (1 - 1e-12)).all()
    np.testing.assert_array_equal(verified.targets, plain.targets)

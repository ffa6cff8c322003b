"""Write pulses through resistive lines."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.crossbar import BiasScheme, Lines, lines_preset
from xbarsim.crossbar.write_path import line_voltages, write_voltages
from xbarsim.errors import XbarsimInputError


@pytest.mark.parametrize("scheme", [BiasScheme.V2, BiasScheme.V3])
def test_ideal_lines_give_the_scheme_fractions(scheme):
    g = np.random.default_rng(0).uniform(10e-6, 100e-6, (6, 5))
    v = write_voltages(g, Lines(), 2, 3, 1.5, scheme)
    expected = np.full((6, 5), scheme.other_fraction * 1.5)
    expected[2, :] = expected[:, 3] = scheme.line_fraction * 1.5
    expected[2, 3] = 1.5
    np.testing.assert_allclose(v, expected, atol=1e-14)


def test_line_drop_hits_far_devices_hardest_and_stays_bounded():
    """Uniform array, rows driven at column 0, columns at row 63 (the far end from the
    drivers is row 0, column 63): the selected device there sees the least voltage."""
    g = np.full((64, 64), 100e-6)
    lines = lines_preset("paper").model_copy(update={"r_source_ohm": 5.0, "r_sink_ohm": 5.0})
    near = write_voltages(g, lines, 63, 0, 2.0)
    far = write_voltages(g, lines, 0, 63, 2.0)
    assert far[0, 63] < near[63, 0] < 2.0
    assert far[0, 63] < 0.9 * 2.0  # 100 uS devices, 64 per line: a >10 % loss far away
    # half-selected devices never see more than V/2; unselected ones stay near 0 V
    assert np.max(np.delete(far[0], 63)) <= 1.0 + 1e-12
    assert np.max(np.delete(far[:, 63], 0)) <= 1.0 + 1e-12
    others = np.delete(np.delete(far, 0, axis=0), 63, axis=1)
    assert np.max(np.abs(others)) < 0.05 * 2.0
    row_v, col_v = line_voltages(64, 64, 0, 63, 2.0, BiasScheme.V2)
    assert row_v[0] == 2.0 and col_v[63] == 0.0 and row_v[1] == col_v[0] == 1.0


def test_write_path_rejects_bad_input():
    g = np.full((4, 4), 1e-5)
    with pytest.raises(XbarsimInputError, match="outside"):
        write_voltages(g, Lines(), 4, 0, 1.0)
    with pytest.raises(XbarsimInputError, match="scheme"):
        write_voltages(g, Lines(), 0, 0, 1.0, BiasScheme.NONE)
    with pytest.raises(XbarsimInputError, match="v_pulse"):
        write_voltages(g, Lines(), 0, 0, float("nan"))

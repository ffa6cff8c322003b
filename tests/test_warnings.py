"""Warnings name what the caller passed and point at the caller's line; edges do not warn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from xbarsim.crossbar import Crossbar
from xbarsim.devices import ExtrapolationWarning, preset
from xbarsim.devices.validity import check_within
from xbarsim.errors import user_stacklevel

DEVICE = preset("tio2-64x64-paper")


def test_a_deep_library_warning_points_at_this_file() -> None:
    """``Crossbar.at`` reaches the temperature model through several library frames."""
    xbars = Crossbar.sample(DEVICE, (4, 4), 1, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xbars.at(temp_c=120.0)
    (warning,) = [w for w in caught if issubclass(w.category, ExtrapolationWarning)]
    assert warning.filename == __file__
    assert "temp_c: temperature model was fitted on [25, 100] degC, got 120 degC" in str(
        warning.message
    )


def test_a_direct_model_call_points_at_this_file_and_names_the_values() -> None:
    temp = DEVICE.conditions.temperature
    with pytest.warns(ExtrapolationWarning, match=r"got values in \[10, 110\] degC") as record:
        temp.relative_change(np.array([1.0, 1.0]), np.array([10.0, 110.0]))
    assert record[0].filename == __file__


@pytest.mark.parametrize("edge", [0.0, 0.1, np.float32(0.1), 0.1 * (1 + 5e-7)])
def test_values_on_an_edge_do_not_warn(edge: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_within("|voltage|", [edge], 0.0, 0.1, False, " V", "nonlinearity")
        check_within("temp_c", [25.0, 100.0], 25.0, 100.0, False, " degC")


def test_just_past_an_edge_warns_with_the_value_shown() -> None:
    with pytest.warns(ExtrapolationWarning, match=r"got 0\.10001 V \(extrapolating\)"):
        check_within("|voltage|", [0.10001], 0.0, 0.1, False, " V", "nonlinearity")


def test_user_stacklevel_counts_the_library_frames() -> None:
    assert user_stacklevel() == 1  # called from outside the package: the line itself

"""VMM study with I-V nonlinearity (issue 8): devices tuned at a read voltage, driven with
the study's inputs through a model of :mod:`xbarsim.devices.nonlinearity`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import xbarsim.cli.study_commands  # noqa: F401  (registers the commands on the app)
from xbarsim.cli import main
from xbarsim.devices.nonlinearity import PolynomialNonlinearity, SinhNonlinearity
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.vmm_study import (
    VmmCase,
    nonlinear_vmm_errors,
    nonlinearity_model,
    run_instances,
    vmm_errors,
)
from xbarsim.sweeps import sweep_config_from_dict

ENGINE = "cpu"


def _pair(seed: int, n: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gp, gm = rng.uniform(10e-6, 100e-6, (2, n, n))
    v = rng.uniform(0.0, 0.1, (50, n))
    return gp, gm, v


@pytest.mark.parametrize("model", ["sinh", "thesis-poly"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matrix_path_equals_per_device_sum(model: str, seed: int) -> None:
    """The few-matmul column currents equal the per-device sum of ``nl.current``."""
    nl = nonlinearity_model(model, 0.05, 0.1, 10e-6, 100e-6)
    gp, gm, v = _pair(seed)
    dt = gp - gm
    got = nonlinear_vmm_errors(nl, gp, gm, dt, v)
    per_device = nl.current(gp[None], v[:, :, None]) - nl.current(gm[None], v[:, :, None])
    ideal = v @ dt
    expect = np.abs(per_device.sum(axis=1) - ideal) / np.abs(ideal).max()
    np.testing.assert_allclose(got, expect, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("model", ["sinh", "thesis-poly"])
def test_inputs_at_the_read_voltage_are_linear(model: str) -> None:
    """A model is exact at the read voltage: inputs all at V_read give the linear error."""
    nl = nonlinearity_model(model, 0.08, 0.1, 10e-6, 100e-6)
    gp, gm, _ = _pair(3)
    dt = gp - gm + np.random.default_rng(4).normal(0.0, 1e-7, gp.shape)
    v = np.full((5, gp.shape[0]), 0.08)
    np.testing.assert_allclose(
        nonlinear_vmm_errors(nl, gp, gm, dt, v), vmm_errors(gp - gm, dt, v), rtol=1e-9
    )


def test_sinh_tuned_above_the_inputs_reads_low() -> None:
    """sinh law tuned at 0.25 V: every device conducts less than G at 0-0.1 V, so a pair
    of exact devices has a nonzero error that grows with the read voltage."""
    gp, gm, v = _pair(5)
    errs = [
        nonlinear_vmm_errors(nonlinearity_model("sinh", vr, 0.1, 10e-6, 100e-6), gp, gm, gp - gm, v)
        for vr in (0.1, 0.15, 0.25)
    ]
    p99 = [float(np.percentile(e, 99)) for e in errs]
    assert 0 < p99[0] < p99[1] < p99[2]
    nl = SinhNonlinearity(v_tune_v=0.25)
    assert np.all(nl.current(gp, 0.1) < gp * 0.1)


def test_instances_same_programming_larger_vmm_error() -> None:
    """Nonlinearity is read-out only: tuning statistics are unchanged instance by instance,
    the VMM error grows for every instance (sinh at the paper's 0.25 V)."""
    common = {"size": 6, "sigma": 0.05, "target": 0.02, "crossbars": 2, "weight_sets": 2}
    lin = run_instances(VmmCase(**common, inputs=60), 9, 0, 2, engine=ENGINE)
    case = VmmCase(**common, inputs=60, nonlinearity="sinh", read_voltage_v=0.25)
    nl = run_instances(case, 9, 0, 2, engine=ENGINE)
    for a, b in zip(lin, nl, strict=True):
        for key in ("tuning_error_p99", "n_hs", "pulses_per_device", "vmm_error_intrinsic_p99"):
            assert a[key] == b[key]
        assert b["vmm_error_p99"] > a["vmm_error_p99"]


def test_defaults() -> None:
    assert nonlinearity_model("none", None, 0.1, 10e-6, 100e-6) is None
    poly = nonlinearity_model("thesis-poly", None, 0.1, 10e-6, 100e-6)
    assert isinstance(poly, PolynomialNonlinearity) and poly.v_tune_v == 0.06
    sinh = nonlinearity_model("sinh", 0.25, 0.1, 10e-6, 100e-6)
    assert isinstance(sinh, SinhNonlinearity) and sinh.v_tune_v == 0.25


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"nonlinearity": "tanh"}, "nonlinearity"),
        ({"read_voltage_v": 0.25}, "read_voltage_v: needs a nonlinearity"),
        ({"nonlinearity": "sinh", "read_voltage_v": 0.0}, "read_voltage_v"),
        ({"nonlinearity": "sinh", "read_voltage_v": -0.1}, "read_voltage_v"),
        ({"nonlinearity": "sinh", "read_voltage_v": 0.3}, "read_voltage_v: must be in (0, 0.25]"),
        ({"nonlinearity": "thesis-poly", "read_voltage_v": 0.25}, "(0, 0.1]"),
        ({"nonlinearity": "thesis-poly", "input_max_v": 0.2}, "input_max_v"),
        ({"nonlinearity": "sinh", "g_low_s": 1e-6}, "g_low_s/g_high_s"),
    ],
)
def test_bad_settings_refused(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        VmmCase(**fields)
    with pytest.raises(XbarsimInputError, match=re.escape(message)):
        sweep_config_from_dict(
            {"sizes": [4], "sigmas": [0.1], "targets": [0.02], "results": "x", **fields}
        )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--nonlinearity", "tanh"], "nonlinearity"),
        (["--nonlinearity", "thesis-poly", "--read-voltage", "0.25"], "read_voltage_v"),
        (["--nonlinearity", "sinh", "--read-voltage", "0"], "read_voltage_v"),
        (["--read-voltage", "0.25"], "read_voltage_v"),
    ],
)
def test_cli_bad_input_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    res = tmp_path / "res"
    argv = ["vmm-study", "--workers", "0", "--no-progress", "--results", str(res), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err
    assert not res.exists()


def test_cli_json_names_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "vmm-study",
        "--sizes",
        "4",
        "--sigmas",
        "0.05",
        "--targets",
        "0.02",
        "--crossbars",
        "1",
        "--weights",
        "2",
        "--inputs",
        "40",
        "--workers",
        "0",
        "--engine",
        ENGINE,
        "--no-progress",
        "--nonlinearity",
        "sinh",
        "--read-voltage",
        "0.25",
        "--json",
        "-",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["study"] == {"nonlinearity": "sinh", "read_voltage_v": 0.25}
    (case,) = out["cases"]
    assert case["instances"] == 2 and case["vmm_error_p99_median"] > case["vmm_error_intrinsic"]

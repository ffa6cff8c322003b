"""VMM study (thesis 3.3): mapping, error metric, seeding, intrinsic bound, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import xbarsim.cli.study_commands  # noqa: F401  (registers the commands on the app)
from xbarsim.cli import main
from xbarsim.experiments.vmm_study import (
    VmmCase,
    derived_comparisons,
    published_for,
    run_instances,
    summarize,
    vmm_errors,
    weights_to_targets,
)
from xbarsim.sweeps import read_results, run_sweep, sweep_config_from_dict

ENGINE = "cpu"


def test_mapping_formula() -> None:
    w = np.array([[-1.0, 0.0, 0.5]])
    gp, gm = weights_to_targets(w, 10e-6, 100e-6)
    np.testing.assert_allclose(gp, [[10e-6, 55e-6, 77.5e-6]])
    np.testing.assert_allclose(gm, [[100e-6, 55e-6, 32.5e-6]])
    np.testing.assert_allclose(gp - gm, w * 90e-6)


def test_vmm_error_metric() -> None:
    dt = np.array([[1e-5, -2e-5], [3e-5, 0.0]])
    v = np.array([[0.1, 0.0], [0.05, 0.1]])
    assert np.all(vmm_errors(dt, dt, v) == 0)
    ideal = v @ dt
    err = vmm_errors(dt + 1e-6, dt, v)
    np.testing.assert_allclose(err, np.abs((v @ (dt + 1e-6)) - ideal) / np.abs(ideal).max())


def test_instances_do_not_depend_on_grouping() -> None:
    case = VmmCase(size=6, sigma=0.25, target=0.02, crossbars=3, weight_sets=2, inputs=50)
    together = run_instances(case, seed=4, first=0, count=3, engine=ENGINE)
    alone = run_instances(case, seed=4, first=2, count=1, engine=ENGINE)
    assert [(r["crossbar"], r["weight_set"]) for r in together][-2:] == [(2, 0), (2, 1)]
    assert together[-2:] == alone


def test_sigma0_without_half_select_lands_at_intrinsic_bound() -> None:
    case = VmmCase(
        size=8,
        sigma=0.0,
        target=0.01,
        algorithm="no-hs",
        crossbars=2,
        weight_sets=2,
        inputs=200,
    )
    rows = run_instances(case, seed=5, first=0, count=2, engine=ENGINE)
    got = np.median([r["vmm_error_p99"] for r in rows])
    bound = np.median([r["vmm_error_intrinsic_p99"] for r in rows])
    assert all(r["n_hs"] == 0 and r["within_tolerance"] == 1.0 for r in rows)
    assert 0.5 * bound <= got <= 2.0 * bound


def test_published_lookup() -> None:
    case = {"size": 64, "sigma": 0.25, "target": 0.01, "algorithm": "baseline"}
    pub = published_for(case)
    assert pub == {"tuning_error_p99": pytest.approx(0.144), "vmm_error_p99_median": 0.07}
    assert published_for({**case, "size": 16}) == {}


def test_derived_comparisons() -> None:
    def case(sigma: float, algorithm: str, n_hs: float, final: float, mean: float) -> dict:
        return {
            "size": 64,
            "target": 0.01,
            "sigma": sigma,
            "algorithm": algorithm,
            "n_hs": n_hs,
            "n_hs_final_pass": final,
            "vmm_error_mean": mean,
        }

    cases = [
        case(0.25, "baseline", 0.1, 0.002, 0.01),
        case(0.3, "baseline", 0.12, 0.03, 0.02),
        case(0.0, "baseline", 0.0, 0.0, 0.0052),
        case(0.0, "no-hs", 0.0, 0.0, 0.005),
    ]
    got = {c["quantity"]: (c["published"], c["xbarsim"]) for c in derived_comparisons(cases)}
    assert got["n_hs_ratio_sigma_0p30_over_0p25_at_64"] == (10, pytest.approx(1.2))
    assert got["n_hs_ratio_sigma_0p30_over_0p25_at_64_final_pass"] == (10, pytest.approx(15.0))
    assert got["sigma0_penalty_mean_error_at_64_target_1pct"] == (0.043, pytest.approx(0.04))
    assert derived_comparisons(cases[:1]) == []


def test_vmm_study_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "vmm-study",
        "--sizes",
        "4,8",
        "--sigmas",
        "0.05,0.25",
        "--targets",
        "0.02",
        "--algorithms",
        "baseline,improved",
        "--crossbars",
        "2",
        "--weights",
        "2",
        "--inputs",
        "100",
        "--workers",
        "0",
        "--seed",
        "3",
        "--engine",
        ENGINE,
        "--no-progress",
        "--json",
        "-",
        "--results",
        str(tmp_path / "res"),
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["cases"]) == 8
    assert out["comparisons"] == []
    fields = {
        "size",
        "sigma",
        "target",
        "algorithm",
        "tuning_error_p99",
        "tuning_error_mean",
        "vmm_error_p99_median",
        "vmm_error_intrinsic",
        "n_hs",
        "n_hs_final_pass",
        "tuning_error_exclusion",
        "vmm_error_p99_std",
        "vmm_error_p99_quantiles",
        "instances",
        "pulses_per_device",
    }
    for case in out["cases"]:
        assert fields <= set(case)
        assert case["instances"] == 4
        assert case["tuning_error_exclusion"] == "fault-map"
        assert 0 <= case["vmm_error_p99_median"] < 1
        lo, mid, hi = case["vmm_error_p99_quantiles"]
        assert lo <= mid <= hi and mid == pytest.approx(case["vmm_error_p99_median"])
        assert case["n_hs_final_pass"] <= case["n_hs"] + 1e-12
    assert summarize(read_results(tmp_path / "res")) == [
        {k: v for k, v in c.items() if k != "published"} for c in out["cases"]
    ]


def test_plot_command_writes_pngs(tmp_path: Path) -> None:
    cfg = sweep_config_from_dict(
        {
            "sizes": [4, 6],
            "sigmas": [0.0, 0.25],
            "targets": [0.05],
            "algorithms": ["baseline", "no-hs"],
            "crossbars": 2,
            "weight_sets": 1,
            "inputs": 50,
            "seed": 2,
            "engine": ENGINE,
            "results": str(tmp_path / "r"),
        }
    )
    run_sweep(cfg, workers=0)
    assert main(["plot", str(tmp_path / "r"), "--out", str(tmp_path / "fig")]) == 0
    pngs = sorted(p.name for p in (tmp_path / "fig").glob("*.png"))
    assert "n_hs.png" in pngs
    assert "vmm_worst_case_t0p05_baseline.png" in pngs
    assert len(pngs) == 2 * 4 + 2 + 1
    assert all((tmp_path / "fig" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)

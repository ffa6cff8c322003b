"""``xbarsim device-effects`` and ``xbarsim fit-device`` through :func:`xbarsim.cli.main`."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from xbarsim.cli import main
from xbarsim.devices import load_device_config, preset

EFFECT_KEYS = {
    "temperature_change_at_100c",
    "temperature_crossover_us",
    "retention_acceleration_100c_to_25c",
    "retention_equivalent_years_25c_for_25h_100c",
    "retention_shift_p95_after_14y",
    "nonlinearity_rel_error_at_vmax",
}


def test_device_effects_json_has_the_keys_and_the_spec_numbers(capsys):
    assert main(["device-effects", "--json", "-", "--instances", "5"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert EFFECT_KEYS <= set(data)
    change = data["temperature_change_at_100c"]
    assert set(change) >= {"10", "30", "50", "70", "90", "100"}
    assert change["10"] == pytest.approx(0.450, abs=1e-3)
    assert change["100"] == pytest.approx(-0.080, abs=1e-3)
    assert data["temperature_crossover_us"] == pytest.approx(70.0, abs=0.1)
    assert data["retention_acceleration_100c_to_25c"] == pytest.approx(5460, abs=1)
    assert data["retention_equivalent_years_25c_for_25h_100c"] == pytest.approx(15.57, abs=0.01)
    assert 0.015 < data["retention_shift_p95_after_14y"] < 0.025
    assert set(data["nonlinearity_rel_error_at_vmax"]) == set(change)
    assert "published" in captured.err and "Fig. 8" in captured.err


def write_temperature_csv(path: Path, seed: int = 0, n: int = 200) -> Path:
    model = preset("tio2-64x64-paper").conditions.temperature
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["device_id", "temp_c", "g_s", "g0_s"])
        for i in range(n):
            g0 = rng.uniform(10e-6, 100e-6)
            temp = float(rng.choice([25.0, 50.0, 75.0, 100.0]))
            g = float(model.conductance_at(g0, temp)) * (1 + 0.002 * rng.standard_normal())
            w.writerow([f"d{i}", temp, g, g0])
    return path


def test_fit_device_writes_a_preset_usable_with_config(tmp_path, capsys):
    data = write_temperature_csv(tmp_path / "t.csv")
    out = tmp_path / "fitted.yaml"
    args = ["fit-device", str(data), "--model", "temperature", "--out", str(out), "--json", "-"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["coefficients"]) == {"p00", "p10", "p20", "p30"}
    assert set(summary["std_errors"]) == set(summary["coefficients"])
    assert summary["n_points"] == 200 and summary["rms_residual"] > 0
    assert (tmp_path / "fitted.residuals.png").stat().st_size > 1000
    assert (tmp_path / "fitted.fit.png").stat().st_size > 1000
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    assert summary["source_sha256"] == digest
    assert f"# source: t.csv, sha256 {digest}" in out.read_text().splitlines()[:3]
    device = load_device_config(out)
    assert device.conditions.temperature.p00 == pytest.approx(summary["coefficients"]["p00"])
    assert main(["device-effects", "--config", str(out), "--json", "-", "--instances", "2"]) == 0
    captured = capsys.readouterr()
    effects = json.loads(captured.out)
    assert effects["coefficient_sources"] == {
        "temperature": "device file", "nonlinearity": "assumed", "retention": "assumed"
    }
    assert len(effects["assumptions"]) == 2 and "temperature" not in effects["assumptions"][0]
    assert "temperature from the device file" in " ".join(captured.err.split())
    assert effects["temperature_crossover_us"] == pytest.approx(70.0, abs=2.0)


def test_fit_device_pulse_law_from_trains(tmp_path, capsys):
    """Pulse trains in, the lower-BIC law out, with fit and residual figures and the hash."""
    from tests.test_fitting import THREE_PIECE, pulse_data

    rows = pulse_data(np.random.default_rng(5), THREE_PIECE, n_dev=3, pulses=6)
    data = tmp_path / "trains.csv"
    with data.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["device_id", "amplitude_v", "pulse", "g_s"])
        w.writerows(zip(*(rows[c] for c in ("device_id", "amplitude_v", "pulse", "g_s")),
                        strict=True))
    out = tmp_path / "pulse.yaml"
    args = ["fit-device", str(data), "--model", "pulse", "--out", str(out), "--json", "-"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["law"] == "three-piece"
    assert set(summary["laws"]) == {"two-slope", "three-piece"}
    assert summary["laws"]["three-piece"]["bic"] < summary["laws"]["two-slope"]["bic"]
    assert summary["coefficients"]["slope_far_v"] == pytest.approx(0.6, rel=0.1)
    assert summary["source_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    for name in ("pulse.fit.png", "pulse.residuals.png"):
        assert (tmp_path / name).stat().st_size > 5000
    device = load_device_config(out)
    assert device.dynamics.kind == "three-piece"
    assert device.dynamics.knee_v == pytest.approx(summary["coefficients"]["knee_v"])


def test_fit_device_warns_about_unidentifiable_parameters(tmp_path, capsys):
    path = tmp_path / "one_state.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["device_id", "temp_c", "g_s", "g0_s"])
        for i, temp in enumerate([30.0, 60.0, 90.0, 100.0, 45.0, 75.0]):
            w.writerow([f"d{i}", temp, 50e-6 * (1 + 0.0007 * (temp - 25)), 50e-6])
    out = tmp_path / "p.yaml"
    assert main(["fit-device", str(path), "--model", "temperature", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: the data cannot identify p00" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("device_id,temp_c,g_s\na,30,1e-5\n", "lacks column 'g0_s'"),
        ("", "is empty"),
        ("device_id,temp_c,g_s,g0_s\na,30,abc,1e-5\n", "line 2, column g_s: not a number"),
        ("device_id,temp_c,g_s,g0_s\na,30,nan,1e-5\n", "line 2, column g_s: must be finite"),
    ],
)
def test_fit_device_bad_csv_exit_2_one_line_no_output(tmp_path, capsys, content, message):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    out = tmp_path / "p.yaml"
    assert main(["fit-device", str(data), "--model", "temperature", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "p.residuals.png").exists()


def test_fit_device_bad_options(tmp_path, capsys):
    data = write_temperature_csv(tmp_path / "t.csv", n=10)
    assert (
        main(["fit-device", str(data), "--model", "magic", "--out", str(tmp_path / "a.yaml")]) == 2
    )
    assert "model: unknown model 'magic'" in capsys.readouterr().err
    assert (
        main(["fit-device", str(data), "--model", "temperature", "--out", str(tmp_path / "a.txt")])
        == 2
    )
    assert "out: must end in .yaml" in capsys.readouterr().err
    missing = tmp_path / "nowhere" / "a.yaml"
    assert main(["fit-device", str(data), "--model", "temperature", "--out", str(missing)]) == 2
    assert "out: directory" in capsys.readouterr().err


def test_device_effects_out_of_range_temperature_warns_or_is_refused(capsys, tmp_path):
    args = ["device-effects", "--instances", "2", "--temp-c", "120"]
    assert main([*args, "--json", "-"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["temperature_change_at_temp_c"]["10"] > data["temperature_change_at_100c"]["10"]
    assert "warning: temp_c: temperature model was fitted on [25, 100]" in captured.err
    out = tmp_path / "e.json"
    assert main([*args, "--strict", "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: temp_c: ") and err.count("\n") == 1
    assert not out.exists()

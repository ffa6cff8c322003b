"""Fitting device models to tidy CSV data: round trips, identifiability, bad input."""

import csv
from pathlib import Path

import numpy as np
import pytest

from xbarsim.devices import ArrheniusRetention, preset
from xbarsim.devices.config import ThreePieceDynamics, TwoSlopeDynamics
from xbarsim.devices.fitting import fit_device
from xbarsim.devices.measurements import SCHEMAS, read_measurements
from xbarsim.errors import XbarsimInputError

DEVICE = preset("tio2-64x64-paper")
MODELS = DEVICE.conditions
SEEDS = range(4)


def assert_within_uncertainty(fit, truth: dict[str, float], k: float = 4.0) -> None:
    assert not fit.unidentifiable
    for name, value in truth.items():
        se = fit.std_errors[name]
        assert 0 < se < np.inf
        assert abs(fit.coefficients[name] - value) < k * se, (name, fit.coefficients[name], se)


def temperature_data(rng, n=400, noise=0.002, states=None):
    g0 = rng.uniform(10e-6, 100e-6, n) if states is None else np.full(n, states)
    temp = rng.choice([25.0, 40.0, 55.0, 70.0, 85.0, 100.0], n)
    g = MODELS.temperature.conductance_at(g0, temp) * (1 + noise * rng.standard_normal(n))
    return {"device_id": np.arange(n).astype(str), "temp_c": temp, "g_s": g, "g0_s": g0}


@pytest.mark.parametrize("seed", SEEDS)
def test_temperature_round_trip(seed):
    fit = fit_device(temperature_data(np.random.default_rng(seed)), "temperature", DEVICE)
    truth = {k: getattr(MODELS.temperature, k) for k in ("p00", "p10", "p20", "p30")}
    assert_within_uncertainty(fit, truth)
    assert fit.n_points == 400 and fit.rms_residual == pytest.approx(0.2, rel=0.3)
    fitted = fit.apply_to(DEVICE).conditions.temperature
    assert fitted.crossover_s() == pytest.approx(70e-6, abs=2e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_nonlinearity_round_trip(seed):
    rng = np.random.default_rng(seed)
    n = 400
    g = rng.uniform(10e-6, 100e-6, n)
    v = rng.uniform(-0.1, 0.1, n)
    i = MODELS.nonlinearity.current(g, v) + 0.002e-6 * rng.standard_normal(n)
    data = {"device_id": np.arange(n).astype(str), "v": v, "i_a": i, "g_tune_s": g}
    fit = fit_device(data, "nonlinearity", DEVICE)
    assert_within_uncertainty(fit, {k: getattr(MODELS.nonlinearity, k) for k in fit.coefficients})
    nl = fit.apply_to(DEVICE).conditions.nonlinearity
    assert nl.fit_v[1] == pytest.approx(np.abs(v).max())


@pytest.mark.parametrize("seed", SEEDS)
def test_retention_round_trip_recovers_the_activation_energy(seed):
    rng = np.random.default_rng(seed)
    truth = ArrheniusRetention(activation_energy_ev=1.0, sigma_ref=0.012, bias=0.015)
    n = 200
    g0 = rng.uniform(10e-6, 100e-6, n)
    z = rng.standard_normal(n)
    temp = rng.choice([25.0, 85.0, 100.0, 125.0], n)
    hours = np.array([1, 3, 10, 30, 100, 300, 1000], dtype=float)
    t_eq = hours[None, :] * np.array([truth.acceleration(t) for t in temp])[:, None]
    f = np.log1p(t_eq / truth.tau_h) / np.log1p(truth.t_ref_years * 365.25 * 24 / truth.tau_h)
    eps = f * (truth.mean_drift(g0 / 100e-6) + truth.sigma_ref * z)[:, None]
    eps += 1e-4 * rng.standard_normal(eps.shape)
    data = {
        "device_id": np.repeat(np.arange(n).astype(str), hours.size),
        "t_s": np.tile(hours * 3600, n),
        "temp_c": np.repeat(temp, hours.size),
        "g_s": (np.repeat(g0, hours.size) * (1 + eps.ravel())),
        "g0_s": np.repeat(g0, hours.size),
    }
    fit = fit_device(data, "retention", DEVICE)
    assert_within_uncertainty(fit, {"activation_energy_ev": 1.0, "sigma_ref": 0.012, "bias": 0.015})


@pytest.mark.parametrize("seed", SEEDS)
def test_threshold_round_trip_from_pulse_sweeps(seed):
    rng = np.random.default_rng(seed)
    n = 600
    true = preset("tio2-64x64-paper").thresholds
    from xbarsim.devices.sampling import sample_thresholds

    v_set, v_reset = sample_thresholds(true, (n,), rng)
    grid = np.round(np.arange(0.3, 4.0, 0.002), 4)
    rows = {"device_id": [], "amplitude_v": [], "g_before_s": [], "g_after_s": []}
    for d in range(n):
        for sign, th in ((1, v_set[d]), (-1, v_reset[d])):
            switched = grid[grid >= th]
            amps = grid[: np.searchsorted(grid, th) + 1] if switched.size else grid
            for a in amps:
                rows["device_id"].append(str(d))
                rows["amplitude_v"].append(sign * a)
                rows["g_before_s"].append(20e-6)
                rows["g_after_s"].append(20e-6 * (1.5 if a >= th else 1.01))
    data = {k: np.asarray(v) for k, v in rows.items()}
    data["device_id"] = data["device_id"].astype(str)
    fit = fit_device(data, "thresholds", DEVICE)
    truth = {
        "set_mean_v": true.set_mean_v,
        "set_std_v": true.set_std_v,
        "reset_mean_v": true.reset_mean_v,
        "reset_std_v": true.reset_std_v,
        "correlation": true.correlation,
    }
    assert_within_uncertainty(fit, truth)
    assert fit.coefficients["unswitchable_fraction"] == 0.0
    assert fit.apply_to(DEVICE).thresholds.set_mean_v == fit.coefficients["set_mean_v"]


def test_one_state_cannot_identify_the_state_terms():
    fit = fit_device(
        temperature_data(np.random.default_rng(0), states=50e-6), "temperature", DEVICE
    )
    assert set(fit.unidentifiable) == {"p00", "p10", "p20", "p30"}
    assert all(fit.summary()["std_errors"][k] is None for k in fit.unidentifiable)


def write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (["device_id", "temp_c", "g_s"], [["a", 30, 1e-5]], r"lacks column 'g0_s'"),
        (SCHEMAS["temperature"], [], r"header but no data rows"),
        (
            SCHEMAS["temperature"],
            [["a", 30, 1e-5, 1e-5], ["b", "hot", 1e-5, 1e-5]],
            r"line 3, column temp_c: not a number: 'hot'",
        ),
        (SCHEMAS["temperature"], [["a", 30, "nan", 1e-5]], r"line 2, column g_s: must be finite"),
        (
            SCHEMAS["temperature"],
            [["a", 30, -1e-5, 1e-5]],
            r"line 2, column g_s: a conductance must be > 0",
        ),
        (
            SCHEMAS["retention"],
            [["a", -5, 25, 1e-5, 1e-5]],
            r"line 2, column t_s: a time must be >= 0",
        ),
        (SCHEMAS["temperature"], [["", 30, 1e-5, 1e-5]], r"line 2, column device_id: empty"),
        (SCHEMAS["temperature"], [["a", 30]], r"line 2: 2 cells"),
    ],
)
def test_bad_csv_is_refused_with_one_line_naming_line_and_column(tmp_path, header, rows, message):
    model = "retention" if "t_s" in header else "temperature"
    path = write(tmp_path / "d.csv", list(header), rows)
    with pytest.raises(XbarsimInputError, match=message) as info:
        read_measurements(path, model)
    assert "\n" not in str(info.value)


def test_empty_and_unknown_inputs(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    with pytest.raises(XbarsimInputError, match=r"is empty"):
        read_measurements(empty, "temperature")
    with pytest.raises(XbarsimInputError, match=r"^model: unknown model 'x'"):
        read_measurements(empty, "x")
    with pytest.raises(XbarsimInputError, match=r"cannot read"):
        read_measurements(tmp_path / "missing.csv", "temperature")


def pulse_data(rng, device, n_dev=5, pulses=8, noise=0.003):
    """Pulse trains simulated pulse by pulse from ``device``'s law, read with relative noise."""
    law = device.pulse_law()
    rows: dict[str, list] = {"device_id": [], "amplitude_v": [], "pulse": [], "g_s": []}
    for d in range(n_dev):
        v_set, v_reset = rng.normal(1.2, 0.1), rng.normal(1.4, 0.1)
        for a in np.round(np.arange(0.9, 2.0, 0.12), 3):
            for amp, g in ((a, rng.uniform(8e-6, 20e-6)), (-(a + 0.2), rng.uniform(80e-6, 120e-6))):
                for n in range(pulses + 1):
                    if n:
                        g = float(law.pulse(g, amp, v_set, v_reset))
                    rows["device_id"].append(f"d{d}")
                    rows["amplitude_v"].append(float(amp))
                    rows["pulse"].append(float(n))
                    rows["g_s"].append(g * (1 + noise * rng.standard_normal()))
    return {k: np.asarray(v, dtype=str if k == "device_id" else np.float64)
            for k, v in rows.items()}


TWO_SLOPE = DEVICE.model_copy(update={"dynamics": TwoSlopeDynamics(
    slope_below_v=0.05, slope_above_v=0.22)})
THREE_PIECE = DEVICE.model_copy(update={"dynamics": ThreePieceDynamics(
    slope_below_v=0.05, slope_above_v=0.22, knee_v=0.35, slope_far_v=0.6)})


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("truth", [TWO_SLOPE, THREE_PIECE], ids=["two-slope", "three-piece"])
def test_pulse_law_round_trip(truth, seed):
    """Trains from a known law: the fit picks that law and recovers its coefficients within
    their stated errors (fitting starts from the preset's different law)."""
    data = pulse_data(np.random.default_rng(seed), truth)
    fit = fit_device(data, "pulse", DEVICE)
    assert fit.extras["law"] == truth.dynamics.kind
    expected = truth.dynamics.model_dump(exclude={"kind"})
    assert set(fit.coefficients) == set(expected)
    assert_within_uncertainty(fit, expected)
    assert fit.rms_residual < 0.005 and fit.n_points == int((data["pulse"] > 0).sum())
    fitted = fit.apply_to(DEVICE)
    assert fitted.dynamics.kind == truth.dynamics.kind
    assert fitted.dynamics.slope_above_v == pytest.approx(0.22, rel=0.05)
    assert fit.extras["fitted_thresholds"]["set_mean_v"] == pytest.approx(1.2, abs=0.15)
    for kind in ("fit:two-slope", "fit:three-piece"):
        assert fit.curves[kind].shape == fit.curves["g_s"].shape


def test_pulse_trains_need_a_starting_row_and_nonzero_amplitudes():
    data = pulse_data(np.random.default_rng(0), TWO_SLOPE, n_dev=2, pulses=2)
    keep = ~((data["pulse"] == 0) & (data["device_id"] == "d1") & (data["amplitude_v"] > 1.5))
    short = {k: v[keep] for k, v in data.items()}
    with pytest.raises(XbarsimInputError, match="no pulse-0 row"):
        fit_device(short, "pulse", DEVICE)
    zero = {**data, "amplitude_v": np.where(data["pulse"] == 1, 0.0, data["amplitude_v"])}
    with pytest.raises(XbarsimInputError, match="amplitude_v must be nonzero"):
        fit_device(zero, "pulse", DEVICE)
    fractional = {**data, "pulse": data["pulse"] + 0.5 * (data["pulse"] == 2)}
    with pytest.raises(XbarsimInputError, match="whole number"):
        fit_device(fractional, "pulse", DEVICE)

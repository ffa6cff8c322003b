"""Key numbers of the shipped operating-condition models beside the thesis's statements.

What ``xbarsim device-effects`` prints (thesis chapter 2): the memristor temperature
model's relative change at 100 degrees C per state and its PTAT/CTAT crossover (Fig. 8:
about 70 uS), the Arrhenius clock (> 25 h at 100 degrees C is > 14 years at room
temperature with E_a = 1.1 eV), the retention shift after 14 years (most devices < 2 %,
Figs. 10-11) and the I-V nonlinearity at the largest input. The coefficients are the
shipped placeholders unless a device file supplies others (e.g. fitted by
``xbarsim fit-device``); :func:`coefficient_sources` says which, model by model.
"""

from __future__ import annotations

import numpy as np

from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.conditions import OperatingModels
from xbarsim.devices.config import DeviceConfig
from xbarsim.devices.retention import HOURS_PER_YEAR
from xbarsim.experiments.published import published_value
from xbarsim.report.tables import ComparisonRow

#: States (uS) the per-state numbers are given at.
STATES_US = (10, 30, 50, 70, 90, 100)
#: Fig. 10b: 400 devices, each tuned to seven random states.
RETENTION_DEVICES = (400, 7)

#: The assumption behind each shipped model, by its section in ``conditions``.
ASSUMPTIONS = {
    "temperature": "temperature coefficients p00..p30: placeholders with the published "
    "shape, not the thesis's inset values",
    "nonlinearity": "nonlinearity coefficients: fit of the thesis form to a sinh law set by "
    "the paper's nonlinearity factors",
    "retention": "retention drift law (log-time growth, sigma 1 % at 14 y, +/-1 % bias at "
    "the extremes) and room temperature 25 degC",
}


def coefficient_sources(device: DeviceConfig) -> dict[str, str]:
    """Where each model's coefficients come from, by section of ``device.conditions``.

    ``"assumed"``: the shipped placeholder (see :data:`ASSUMPTIONS`); ``"device file"``:
    anything else, e.g. coefficients fitted to measurements by ``xbarsim fit-device``.
    """
    shipped = OperatingModels()
    return {
        name: "assumed"
        if getattr(device.conditions, name) == getattr(shipped, name)
        else "device file"
        for name in ASSUMPTIONS
    }


def retention_population(
    device: DeviceConfig, seed: int = 0, instances: int = 20, years: float = 14.0
) -> tuple[np.ndarray, np.ndarray]:
    """Programmed states and their relative retention shift (Fig. 10b/11 populations).

    ``instances`` populations of 400 x 7 devices (crossbar ``k`` of ``seed``) programmed to
    uniform states in 10-100 uS, aged ``years`` at the retention model's room temperature.

    Returns
    -------
    g0_s : ndarray, shape (instances, 400, 7)
        Programmed conductances (S).
    shift : ndarray, shape (instances, 400, 7)
        Signed relative change ``G(t) / G0 - 1`` (fraction).
    """
    x = Crossbar.sample(device, RETENTION_DEVICES, batch=instances, seed=seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(instances, 1)))
    x.conductance[...] = rng.uniform(10e-6, 100e-6, x.conductance.shape)
    aged = x.at(age_h=years * HOURS_PER_YEAR, nonlinear=False, noise=False).conductance
    return x.conductance.copy(), aged / x.conductance - 1.0


def device_effects(
    device: DeviceConfig,
    seed: int = 0,
    instances: int = 20,
    temp_c: float | None = None,
    strict: bool = False,
) -> dict:
    """Key numbers of ``device.conditions``.

    Parameters
    ----------
    device : DeviceConfig
    seed : int
        Seed of the retention populations (instance ``k`` is crossbar ``k`` of the seed).
    instances : int
        Retention populations of 400 x 7 devices (Fig. 10b) drawn for the shift statistic.
    temp_c : float, optional
        Also report the per-state change at this die temperature (degrees C), as
        ``temperature_change_at_temp_c``.
    strict : bool
        Refuse a ``temp_c`` outside the temperature model's fitted range (else warn).

    Returns
    -------
    dict
        The JSON of ``device-effects`` (fractions, uS, years; keys in the module docs).
    """
    models = device.conditions
    sources = coefficient_sources(device)
    temp = models.temperature
    states_s = np.array(STATES_US) * 1e-6
    change = temp.relative_change(temp.w0_of(states_s), 100.0)
    nl = models.nonlinearity
    nl_error = nl.relative_error(states_s, nl.v_max_v)
    ret = models.retention
    p95, within = [], []
    shift = np.abs(retention_population(device, seed, instances)[1])
    for k in range(instances):
        p95.append(float(np.percentile(shift[k], 95)))
        within.append(float(np.mean(shift[k] < 0.02)))
    p95_arr = np.array(p95)
    extra = {}
    if temp_c is not None:
        at_t = temp.relative_change(temp.w0_of(states_s), temp_c, strict)
        extra = {
            "temp_c": temp_c,
            "temperature_change_at_temp_c": {
                str(s): float(c) for s, c in zip(STATES_US, at_t, strict=True)
            },
        }
    return {
        "temperature_change_at_100c": {
            str(s): float(c) for s, c in zip(STATES_US, change, strict=True)
        },
        **extra,
        "temperature_crossover_us": temp.crossover_s() * 1e6,
        "temperature_scale": temp.temp_scale,
        "retention_acceleration_100c_to_25c": ret.acceleration(100.0, 25.0),
        "retention_equivalent_years_25c_for_25h_100c": 25.0
        * ret.acceleration(100.0, 25.0)
        / HOURS_PER_YEAR,
        "retention_shift_p95_after_14y": float(p95_arr.mean()),
        "retention_shift_p95_after_14y_quantiles": {
            "std": float(p95_arr.std(ddof=1)) if instances > 1 else 0.0,
            "q05": float(np.quantile(p95_arr, 0.05)),
            "q50": float(np.quantile(p95_arr, 0.50)),
            "q95": float(np.quantile(p95_arr, 0.95)),
        },
        "retention_fraction_within_2pct_after_14y": float(np.mean(within)),
        "retention_instances": instances,
        "retention_devices_per_instance": RETENTION_DEVICES[0] * RETENTION_DEVICES[1],
        "nonlinearity_model": nl.kind,
        "nonlinearity_rel_error_at_vmax": {
            str(s): float(e) for s, e in zip(STATES_US, nl_error, strict=True)
        },
        "nonlinearity_v_max_v": nl.v_max_v,
        "seed": seed,
        "published": {
            "temperature_crossover_us": published_value(
                "E8_17_temperature_model", "memristor_crossover_s"
            )
            * 1e6,
            "retention_bake_hours_min": 25.0,
            "retention_projected_years_min": published_value(
                "E10_15_retention_details", "projected_years_min"
            ),
            "retention_most_devices_shift_below": published_value(
                "E10_15_retention_details", "most_devices_shift_below"
            ),
            "activation_energy_ev": 1.1,
        },
        "coefficient_sources": sources,
        "assumptions": [ASSUMPTIONS[k] for k, src in sources.items() if src == "assumed"],
    }


def comparison_rows(summary: dict) -> list[ComparisonRow]:
    """Published statements beside the model's numbers."""
    pub = summary["published"]
    change = summary["temperature_change_at_100c"]
    nl = summary["nonlinearity_rel_error_at_vmax"]
    q = summary["retention_shift_p95_after_14y_quantiles"]
    rows = [
        ComparisonRow(
            "PTAT/CTAT crossover (uS)",
            f"~{pub['temperature_crossover_us']:g} (Fig. 8)",
            f"{summary['temperature_crossover_us']:.2f}",
        ),
        ComparisonRow(
            "change at 100 degC, 10 / 50 / 100 uS",
            "largest in low states (Fig. 8)",
            f"{100 * change['10']:+.1f} / {100 * change['50']:+.1f} / {100 * change['100']:+.1f} %",
        ),
        ComparisonRow(
            "Arrhenius acceleration 100 -> 25 degC",
            f"E_a = {pub['activation_energy_ev']} eV",
            f"{summary['retention_acceleration_100c_to_25c']:.0f}",
        ),
        ComparisonRow(
            "25 h at 100 degC = years at 25 degC",
            f"> {pub['retention_projected_years_min']:g} (from > 25 h)",
            f"{summary['retention_equivalent_years_25c_for_25h_100c']:.2f}",
        ),
        ComparisonRow(
            "|shift| p95 after 14 y (mean over instances)",
            f"most devices < {100 * pub['retention_most_devices_shift_below']:g} %",
            f"{100 * summary['retention_shift_p95_after_14y']:.2f} % "
            f"(5-95 %: {100 * q['q05']:.2f}-{100 * q['q95']:.2f})",
        ),
        ComparisonRow(
            "devices within 2 % after 14 y",
            "most",
            f"{100 * summary['retention_fraction_within_2pct_after_14y']:.1f} %",
        ),
        ComparisonRow(
            f"NL error at V_max, 10 / 100 uS ({summary['nonlinearity_model']})",
            "curves only (Fig. 7b)",
            f"{100 * nl['10']:+.2f} / {100 * nl['100']:+.2f} %",
        ),
    ]
    return rows

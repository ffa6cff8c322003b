"""The chapter-4 jobs of ``xbarsim reproduce``: X-block, VMM cost, MLP chip, offsets (layer 7).

Same conventions as :mod:`xbarsim.reproduce.jobs`: each job calls one experiment's
library entry point and returns value rows (fractions or SI units), the figure matching the
source document's figure (base64 PNG) and a provenance row. Deterministic quantities (no
random draw: the decoder table, the VMM cost model, the chip's counts and areas, the example
pair's offset) are one row of instance 0, so the page shows n = 1 for them; random ones are one row
per instance, each instance seeded from its identity.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from xbarsim.reproduce.jobs import (
    Rows,
    figure_rows,
    instance_seed,
    timed_rows,
    value_rows,
)

# -- Table III: the X-block decoder (thesis 4.1.1.2) -----------------------------------------

def table3_job(settings: dict[str, Any], seed: int) -> Rows:
    """Our X-block control logic against every row of Table III (deterministic; ``seed``
    unused), and the address bits of a ``lines``-electrode side."""
    from xbarsim.experiments.xblock_decoder import check_table_iii

    start = time.perf_counter()
    ex = "F_table3_xblock_decoder"
    check = check_table_iii(settings["lines"])
    values = {"boolean_form": check["rows_matched_fraction"],
              "address_bits_for_64_lines": float(check["address_bits"])}
    return timed_rows(ex, ex, settings, start, value_rows(ex, 0, values))


# -- Figs. 48-50, 52: the TIA design rule and the converters (read back) ----------------------

def tia_design_job(settings: dict[str, Any], seed: int) -> Rows:
    """The TIA design values our periphery uses (deterministic; ``seed`` unused): the open-loop
    gain ``A = 100 R_f N G_avg`` with the printed ``R_f = V_out_d / I_max`` (checked equal at
    every N of ``sizes``, else NaN), the current budget (A) and the load (F)."""
    from xbarsim.chip.cost import CostParameters
    from xbarsim.periphery import TIA

    start = time.perf_counter()
    ex = "F48_50_tia_design"
    gains = [TIA.required_gain(n, TIA.feedback_resistance_ohm(n)) for n in settings["sizes"]]
    p = CostParameters()
    values = {"gain_value": gains[0] if np.allclose(gains, gains[0], rtol=1e-12) else np.nan,
              "current_budget_a": p.tia_current_a, "load_f": p.settle_load_f}
    return timed_rows(ex, ex, settings, start, value_rows(ex, 0, values))


def converters_job(settings: dict[str, Any], seed: int) -> Rows:
    """The DAC step (V) and the energy per conversion (J) of the thesis's DAC and ADC as our
    converter models hold them (deterministic; ``seed`` unused)."""
    from xbarsim.periphery import ADC, DAC

    start = time.perf_counter()
    ex = "F52_data_converters"
    dac, adc = DAC.thesis(), ADC.thesis()
    values = {"dac_lsb_v": dac.lsb_v, "dac_energy_per_conversion_j": dac.power_w / dac.rate_sps,
              "adc_energy_per_conversion_j": adc.power_w / adc.rate_sps}
    return timed_rows(ex, ex, settings, start, value_rows(ex, 0, values))


# -- Figs. 51, 53: analog and mixed-signal VMM cost against N ---------------------------------

def vmm_trends_job(settings: dict[str, Any], seed: int) -> Rows:
    """Mixed-signal against analog VMMs over ``sizes`` (deterministic cost model; ``seed``
    unused): 1.0 where the published statement holds, else 0.0.

    * ``mixed_signal_vs_analog``: mixed-signal energy efficiency, throughput and area
      efficiency below the analog ones at every N, and each mixed-signal log-log slope in the
      band the analog trend is judged by (same trends);
    * ``settling_vs_size``: the analog 1 % settling time strictly falls with N.
    """
    from xbarsim.experiments.vmm_cost import run_vmm_cost, write_figures

    start = time.perf_counter()
    ex = "F51_53_vmm_trends"
    sizes = sorted(settings["sizes"])
    run = run_vmm_cost(sizes, ["analog", "mixed"])
    bands = run["slope_bands"]
    mixed = run["slopes"]["mixed"]
    same_trend = all(s is not None and bands[m][0] <= s <= bands[m][1] for m, s in mixed.items())
    settling = [c["latency_breakdown_s"]["tia"] for c in run["cases"] if c["kind"] == "analog"]
    values = {
        "mixed_signal_vs_analog": float(all(run["mixed_below_analog"].values()) and same_trend),
        "settling_vs_size": float(bool(np.all(np.diff(settling) < 0.0))),
    }
    rows = value_rows(ex, 0, values) + figure_rows(ex, lambda d: write_figures(run, d))
    return timed_rows(ex, ex, settings, start, rows)


# -- Figs. 54-56: the MLP chip's throughput, area and breakdowns ------------------------------

#: Area-breakdown categories (key suffixes of :func:`xbarsim.chip.cost.chip_cost`).
AREA_CATEGORIES = ("dacs", "adcs", "arrays", "x-blocks", "tias")


def area_categories(area_mm2: dict[str, float]) -> dict[str, float]:
    """Chip area (mm^2) summed per component category over the layers."""
    return {cat: sum(v for k, v in area_mm2.items() if k == cat or k.endswith(f" {cat}"))
            for cat in AREA_CATEGORIES}


def mlp_details_job(settings: dict[str, Any], seed: int, instance: int) -> Rows:
    """One trained, programmed and evaluated 784-64-10 MLP chip
    (:func:`xbarsim.experiments.mlp_chip.run_mlp_chip`).

    Per instance: throughput (Op/s, from the latency chain whose neuron R_f follows the
    trained weights) and whether the layer-1 arrays are the largest power component (their
    power comes from the simulated currents). Instance 0 only (fixed by the chip's geometry
    and the cost parameters): area efficiency (Op/mm^2), operations per inference, physical
    tile devices, chip area (mm^2) and whether X-blocks and DACs are the two largest area
    categories.
    """
    from xbarsim.experiments.mlp_chip import run_mlp_chip, write_figures

    start = time.perf_counter()
    ex = "F54_56_mlp_chip_details"
    run = run_mlp_chip(seed=instance_seed(seed, ex, instance), epochs=settings["epochs"],
                       engine=settings["engine"])
    s = run.summary
    power = s["power_breakdown_w"]
    values: dict[str, float] = {
        "throughput_op_per_s": s["ops_per_s"],
        "power_breakdown": float(max(power, key=power.get) == "layer 1 arrays"),
    }
    rows = value_rows(ex, instance, values)
    if instance == 0:
        area = area_categories(s["area_breakdown_mm2"])
        top_two = set(sorted(area, key=area.get, reverse=True)[:2])
        rows += value_rows(ex, 0, {
            "area_efficiency_op_per_mm2": s["ops_per_mm2"],
            "ops_per_inference": s["ops_per_inference"],
            "physical_tile_devices": s["physical_devices"],
            "implied_chip_area_mm2": s["area_mm2"],
            "area_breakdown": float(top_two == {"x-blocks", "dacs"}),
        })
        rows += figure_rows(ex, lambda d: write_figures(run, d))
    return timed_rows(ex, f"{ex}-{instance}", settings, start, rows, settings["engine"])


# -- Figs. 59-61: offset compensation details --------------------------------------------------

#: The thesis's example pair (Ohm): the device to V_cm + dV and the one to V_cm - dV
#: (published).
EXAMPLE_PAIR_OHM = (41e3, 170e3)
#: Measured feedback resistance of the thesis's TIA (Ohm), published (Fig. 58).
MEASURED_R_F_OHM = 18.4e3


def offset_details_job(settings: dict[str, Any], seed: int) -> Rows:
    """The offset the thesis's example pair (41 kOhm / 170 kOhm) cancels on our finite-gain
    TIA (R_f 18.4 kOhm, dV 0.4 V; deterministic, instance 0), and per instance of ``tias``
    compensated TIAs the spread (std over the TIAs, A) of the effective offset currents the
    programmed pairs source; the pooled currents as the Fig. 60c histogram."""
    from xbarsim.experiments.offset_compensation import implied_offset_v, run_offset_compensation
    from xbarsim.report.chip_figures import offset_current_histogram

    start = time.perf_counter()
    ex = "F59_61_offset_compensation_details"
    r_c2, r_c1 = EXAMPLE_PAIR_OHM
    rows = value_rows(ex, 0, {"implied_offset_for_example_pair_v":
                              implied_offset_v(r_c1, r_c2, MEASURED_R_F_OHM)})
    currents = []
    for k in range(settings["instances"]):
        run = run_offset_compensation(tias=settings["tias"], seed=instance_seed(seed, ex, k),
                                      r_f_ohm=MEASURED_R_F_OHM)
        currents.append(run.offset_current_a)
        rows += value_rows(ex, k, {"effective_offset_current": float(np.std(run.offset_current_a))})
    pooled = np.concatenate(currents)
    rows += figure_rows(ex, lambda d: [offset_current_histogram(
        d / "fig60c_offset_currents.png", pooled, settings["instances"])])
    return timed_rows(ex, ex, settings, start, rows)

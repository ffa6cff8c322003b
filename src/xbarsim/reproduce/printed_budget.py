"""The MLP chip's printed power budget (thesis 4.1.2c), summed from its printed components.

The thesis's "~1582 TOp/J" sits in a paragraph whose other figures make it GOp/J: the
printed component powers below add up to about 1 W, i.e. about 1,600 GOp/J at the printed
66 ns for 101,780 operations. The reproduce page shows this sum beside the printed figure.
"""

from __future__ import annotations

#: Counts of the printed 784-64-10 chip: DACs, layer-1 columns (26 tiles x 64), neurons
#: (64 hidden + 10 output), layer-2 columns (two 65 x 10 arrays), layer-2 rows, ADCs.
MLP_COUNTS = {"dacs": 785, "layer1_columns": 26 * 64, "neurons": 74, "layer2_columns": 20,
              "layer2_rows": 65, "adcs": 10, "layer1_rows": 64}
#: Operations per inference (2 per synapse) and the printed latency (s).
MLP_OPS, MLP_LATENCY_S = 101_780, 66e-9


def printed_component_powers_w() -> dict[str, float]:
    """The chip's power components (W) from the printed figures alone: every DAC at its
    printed power, every column of an array by the printed formula (N/2) G_avg V_max V_dd,
    every local TIA and neuron at the printed current budget x V_dd, every ADC at its
    printed power."""
    from xbarsim.experiments.published import published

    ch4 = published()["T51_56_energy"]
    v_dd = float(published()["F_technology"]["core_supply_v"]["value"])
    tia = ch4["tia"]
    per_row = float(tia["g_avg_s"]) * float(tia["v_max"]) * v_dd / 2.0  # (N/2) G V V_dd per N
    budget = float(tia["current_budget_a"]) * v_dd
    c = MLP_COUNTS
    return {
        "DACs": c["dacs"] * float(ch4["dac"]["power_w"]),
        "layer-1 arrays": c["layer1_columns"] * c["layer1_rows"] * per_row,
        "local TIAs": c["layer1_columns"] * budget,
        "neurons": c["neurons"] * budget,
        "layer-2 arrays": c["layer2_columns"] * c["layer2_rows"] * per_row,
        "ADCs": c["adcs"] * float(ch4["adc"]["power_w"]),
    }


def component_sum_gop_per_j() -> float:
    """Operations per joule (in GOp/J) of the printed components at the printed latency."""
    return MLP_OPS / (sum(printed_component_powers_w().values()) * MLP_LATENCY_S) / 1e9


def printed_power_text() -> str:
    """The printed components and their sum, as the page states them."""
    parts = printed_component_powers_w()
    each = ", ".join(f"{k} {v * 1e3:.0f} mW" for k, v in parts.items())
    return f"{each}; sum {sum(parts.values()) * 1e3:.0f} mW = {component_sum_gop_per_j():.0f} GOp/J"

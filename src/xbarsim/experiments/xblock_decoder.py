"""Thesis Table III: the X-block's control logic checked cell by cell (layer 7).

``published.yaml`` holds Table III as printed (``F_table3_xblock_decoder.rows``: per mode the
control bits Enable, Prog_En, Re; the selected and unselected lines' select (SD) and
unselect (UD) switches with their bus levels; the inference switches to V_R). This module
sets our X-block (:mod:`xbarsim.chip.xblock`) against that transcription:

* *switch cells*: for every control word the row allows (a don't-care bit takes both
  values), every address of the side, the Boolean decoder's SD/UD states of the selected
  line and of every unselected line, and RE;
* *X-block cells*: the :class:`~xbarsim.chip.xblock.XBlock` in the row's mode (its own
  resolved control word) with every address selected on the side under test;
* *bus cells*: the printed bus levels (``V_SD,WL = V_pulse`` and the like) against
  :func:`~xbarsim.chip.xblock.bus_voltages` for the device-level modes.

Our decoder was written from this table, so agreement is a consistency check of the
implementation, not an independent reproduction.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np

from xbarsim.chip.xblock import ControlWord, XBlock, bus_voltages, decode
from xbarsim.crossbar.array import Crossbar
from xbarsim.devices.config import preset
from xbarsim.experiments.published import published
from xbarsim.programming.port import Mode
from xbarsim.validation import check_positive_int

EXPERIMENT = "F_table3_xblock_decoder"

#: Table III row names of ``published.yaml`` -> our modes.
ROW_MODES: dict[str, Mode] = {
    "forming": Mode.FORMING,
    "set": Mode.SET,
    "reset": Mode.RESET,
    "read": Mode.READ,
    "inference": Mode.INFERENCE,
    "monitoring_input_generator": Mode.MONITOR_INPUT,
    "monitoring_sensing_circuit": Mode.MONITOR_SENSE,
}

#: Side(s) a mode's row describes: the monitoring modes test one side, the others both.
SIDES: dict[Mode, tuple[str, ...]] = {
    Mode.MONITOR_INPUT: ("wl",),
    Mode.MONITOR_SENSE: ("bl",),
}

#: Amplitude (V) at which the printed bus levels are evaluated (any positive value works).
AMPLITUDE_V = 1.0

_BUS = re.compile(r"V_(SD|UD),(WL|BL) = ([^;]+)")


def table_rows() -> dict[str, dict[str, Any]]:
    """Table III as printed, one dict per row keyed by column, "as set" / "as above" cells
    resolved; switch cells as True/False, don't-cares as None, bus cells as printed."""
    entry = published()[EXPERIMENT]
    columns = entry["columns"][1:]  # the first column names the row (mode)
    out: dict[str, dict[str, Any]] = {}
    previous: dict[str, Any] = {}
    for name, cells in entry["rows"].items():
        row = {}
        for col, cell in zip(columns, cells, strict=True):
            if cell == "as set":
                cell = out["set"][col]
            elif cell == "as above":
                cell = previous[col]
            row[col] = cell
        out[name] = previous = row
    return out


def _bit(cell: Any) -> bool | None:
    """A switch or control cell: 1/0, X (don't care) or a bus description (switch on)."""
    if cell == "X":
        return None
    if isinstance(cell, str):
        return True
    return bool(cell)


def _level(text: str) -> float:
    """A printed bus level at :data:`AMPLITUDE_V` (V)."""
    text = text.split("(")[0].strip()
    return {"V_pulse": AMPLITUDE_V, "V_pulse/2": AMPLITUDE_V / 2, "0": 0.0}[text]


def printed_buses(row: dict[str, Any]) -> dict[str, float]:
    """Bus levels a row prints (``sd_wl``, ``ud_bl``, ...; V at :data:`AMPLITUDE_V`); a bare
    0 in a V_UD column sets both sides' V_UD."""
    out: dict[str, float] = {}
    for col in ("sel_v_sd", "sel_v_ud", "unsel_v_sd", "unsel_v_ud"):
        cell = row[col]
        if isinstance(cell, str) and cell != "X":
            for bus, side, level in _BUS.findall(cell):
                out[f"{bus.lower()}_{side.lower()}"] = _level(level)
        elif cell == 0 and col.endswith("_ud"):
            out["ud_wl"] = out["ud_bl"] = 0.0
    return out


def _switch_cells(row: dict[str, Any], lines: int) -> tuple[int, int]:
    """(matched, checked) switch cells of the decoder for every allowed word and address."""
    want = {k: _bit(row[k]) for k in ("sel_sd_n", "sel_ud_n", "unsel_sd_n", "unsel_ud_n")}
    want_re = _bit(row["v_r"])
    choices = [(False, True) if _bit(row[k]) is None else (_bit(row[k]),)
               for k in ("enable", "prog_en", "re")]
    matched = checked = 0
    for word in itertools.product(*choices):
        for address in range(lines):
            s = decode(ControlWord(*word), address, lines)
            others = np.arange(lines) != address
            got = {"sel_sd_n": s.sd[address], "sel_ud_n": s.ud[address],
                   "unsel_sd_n": s.sd[others], "unsel_ud_n": s.ud[others]}
            for key, value in got.items():
                if want[key] is not None:
                    checked += 1
                    matched += bool(np.all(value == want[key]))
            if want_re is not None:
                checked += 1
                matched += s.re == want_re
    return matched, checked


def _xblock_cells(row: dict[str, Any], mode: Mode, xblock: XBlock) -> tuple[int, int]:
    """(matched, checked) switch cells of the X-block in ``mode`` over every address."""
    want = [_bit(row[k]) for k in ("sel_sd_n", "sel_ud_n", "unsel_sd_n", "unsel_ud_n")]
    want_re = _bit(row["v_r"])
    xblock.set_mode(mode)
    matched = checked = 0
    for address in range(xblock.rows):
        xblock.select(address, xblock.cols - 1 - address)
        wl, bl = xblock.switches()
        for side in SIDES.get(mode, ("wl", "bl")):
            s, sel = (wl, address) if side == "wl" else (bl, xblock.cols - 1 - address)
            others = np.arange(s.sd.size) != sel
            got = [s.sd[sel], s.ud[sel], s.sd[others], s.ud[others]]
            for value, expected in zip(got, want, strict=True):
                if expected is not None:
                    checked += 1
                    matched += bool(np.all(value == expected))
            if want_re is not None:
                checked += 1
                matched += s.re == want_re
    return matched, checked


def _bus_cells(row: dict[str, Any], mode: Mode) -> tuple[int, int]:
    """(matched, checked) printed bus levels against :func:`bus_voltages`."""
    printed = printed_buses(row)
    if not printed or mode not in (Mode.FORMING, Mode.SET, Mode.RESET, Mode.READ):
        return 0, 0
    ours = bus_voltages(mode, AMPLITUDE_V)._asdict()
    matched = sum(ours[k] is not None and abs(ours[k] - v) < 1e-12 for k, v in printed.items())
    return matched, len(printed)


def check_table_iii(lines: int = 64) -> dict[str, Any]:
    """Our X-block control logic against every row of Table III.

    Parameters
    ----------
    lines : int
        Electrodes per side (the address range checked), >= 1.

    Returns
    -------
    dict
        ``rows`` (row name -> ``{"matched", "checked"}`` cells), ``rows_matched_fraction``
        (rows whose every cell matches), ``cells_matched_fraction``, ``address_bits``
        (stages of our shift register for ``lines`` electrodes) and ``register_round_trip``
        (every address loaded serially reads back).
    """
    lines = check_positive_int("lines", lines)
    xbars = Crossbar.sample(preset("tio2-64x64-paper"), (lines, lines), seed=0)
    xblock = XBlock(xbars)
    per_row: dict[str, dict[str, int]] = {}
    for name, row in table_rows().items():
        mode = ROW_MODES[name]
        parts = [_switch_cells(row, lines), _xblock_cells(row, mode, xblock),
                 _bus_cells(row, mode)]
        per_row[name] = {"matched": sum(m for m, _ in parts), "checked": sum(c for _, c in parts)}
    register = xblock.wl_register
    loaded = []
    for address in range(lines):
        register.load(address)
        loaded.append(register.address == address)
    matched = sum(r["matched"] for r in per_row.values())
    checked = sum(r["checked"] for r in per_row.values())
    return {
        "rows": per_row,
        "rows_matched_fraction": float(np.mean([r["matched"] == r["checked"]
                                                for r in per_row.values()])),
        "cells_matched_fraction": matched / checked,
        "address_bits": len(register.bits),
        "register_round_trip": all(loaded),
    }

"""SPICE netlists of crossbars with line resistance, and an ngspice runner (layer 2).

Ground truth for the solvers of :mod:`xbarsim.crossbar.irdrop` and
:mod:`xbarsim.crossbar.newton` from a circuit simulator nobody here wrote. The netlist has
the topology of :mod:`xbarsim.crossbar.lines`: one ideal source ``VIN<i>`` per row, a
resistor per line segment, driver lead and sink lead, one element per device (a resistor
``1/G``, or a behavioural current source for a nonlinear law) and a 0 V source
``VSENSE<j>`` per column between its sink lead(s) and ground, whose current is output ``j``.
SPICE has no zero-ohm resistor, so every line element must be > 0 Ω here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xbarsim.crossbar.lines import Lines
from xbarsim.crossbar.nodal import GROUND, check_conductance, line_resistors, source_node
from xbarsim.errors import XbarsimInputError

_VALUE = re.compile(r"^\s*(i\(vsense(\d+)\))\s*=\s*([-+0-9.eE]+)\s*$")


def ngspice_available() -> bool:
    """True when an ``ngspice`` executable is on the PATH."""
    return shutil.which("ngspice") is not None


def _node(name: str, col: int | None) -> str:
    """SPICE node name; the ground of a sink lead becomes the column's sense node."""
    return f"s{col}" if name == GROUND else name


def netlist(
    conductance_s: ArrayLike,
    lines: Lines,
    v_in: ArrayLike,
    sinh_b_per_v: float | None = None,
    title: str = "xbarsim crossbar",
) -> str:
    """Netlist of one crossbar driven by one input vector, with an ``.op`` analysis that
    prints every column current to 15 digits.

    Parameters
    ----------
    conductance_s : array_like, shape (rows, cols)
        Device conductances (S, >= 0; zero devices are left out).
    lines : Lines
        Every line resistance must be > 0 Ω (``r_tia_in_ohm`` may be 0).
    v_in : array_like, shape (rows,)
        Input voltages (V).
    sinh_b_per_v : float, optional
        Devices as behavioural sources ``I = G/b · sinh(b·V)`` (b in 1/V) instead of
        resistors (see :class:`xbarsim.crossbar.newton.SinhIV`).
    title : str
        First line of the netlist.

    Returns
    -------
    str
        The netlist text.
    """
    g = check_conductance(conductance_s, 2)
    rows, cols = g.shape
    v = np.asarray(v_in, dtype=np.float64).reshape(-1)
    if v.shape != (rows,) or not np.all(np.isfinite(v)):
        raise XbarsimInputError(f"v_in: must be {rows} finite voltages, got shape {v.shape}")
    for field in ("r_row_ohm", "r_col_ohm", "r_source_ohm"):
        if getattr(lines, field) <= 0.0:
            raise XbarsimInputError(f"{field}: must be > 0 for a SPICE netlist (no 0-ohm R)")
    if lines.r_terminal_ohm <= 0.0:
        raise XbarsimInputError("r_sink_ohm: sink plus TIA input must be > 0 for SPICE")
    if sinh_b_per_v is not None and not sinh_b_per_v > 0.0:
        raise XbarsimInputError(f"sinh_b_per_v: must be > 0, got {sinh_b_per_v!r}")
    out = [f"* {title}: {rows}x{cols}"]
    for i in range(rows):
        out.append(f"VIN{i} {source_node(i)} 0 DC {v[i]:.17g}")
    for k, res in enumerate(line_resistors(rows, cols, lines)):
        col = int(res.a.split("_")[1]) if res.b == GROUND else None
        out.append(f"RL{k} {res.a} {_node(res.b, col)} {res.r_ohm:.17g}")
    for i in range(rows):
        for j in range(cols):
            if g[i, j] == 0.0:
                continue
            a, b = f"r{i}_{j}", f"c{i}_{j}"
            if sinh_b_per_v is None:
                out.append(f"RD{i}_{j} {a} {b} {1.0 / g[i, j]:.17g}")
            else:
                amp = g[i, j] / sinh_b_per_v
                out.append(
                    f"BD{i}_{j} {a} {b} I={amp:.17g}*sinh({sinh_b_per_v:.17g}*(V({a})-V({b})))"
                )
    for j in range(cols):
        out.append(f"VSENSE{j} s{j} 0 DC 0")
    out += [
        ".options reltol=1e-12 abstol=1e-18 vntol=1e-15 numdgt=15",
        ".control",
        "set numdgt=15",
        "op",
        "print " + " ".join(f"i(vsense{j})" for j in range(cols)),
        ".endc",
        ".end",
    ]
    return "\n".join(out) + "\n"


def parse_currents(output: str, cols: int) -> NDArray[np.float64]:
    """Column currents (A) from ngspice's printed ``i(vsenseJ) = value`` lines."""
    found: dict[int, float] = {}
    for line in output.splitlines():
        match = _VALUE.match(line)
        if match:
            found[int(match.group(2))] = float(match.group(3))
    missing = [j for j in range(cols) if j not in found]
    if missing:
        raise RuntimeError(f"ngspice output lacks the currents of columns {missing[:5]}")
    return np.array([found[j] for j in range(cols)])


def run_ngspice(text: str, cols: int, timeout_s: float = 120.0,
                extra_args: Sequence[str] = ()) -> NDArray[np.float64]:
    """Run ``ngspice -b`` on a netlist from :func:`netlist`; return the column currents (A).

    Raises
    ------
    RuntimeError
        If ngspice is missing, fails, or prints no currents.
    """
    exe = shutil.which("ngspice")
    if exe is None:
        raise RuntimeError("ngspice is not installed")
    with tempfile.TemporaryDirectory(prefix="xbarsim-spice-") as tmp:
        path = Path(tmp) / "crossbar.cir"
        path.write_text(text)
        proc = subprocess.run(
            [exe, "-b", *extra_args, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    # batch mode exits with 1 after a .control-only run ("no .print lines"): judge by output
    try:
        return parse_currents(proc.stdout, cols)
    except RuntimeError:
        raise RuntimeError(
            f"ngspice (exit {proc.returncode}) printed no currents: "
            f"{' '.join(proc.stderr.split())[:200]}"
        ) from None

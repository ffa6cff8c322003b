"""Write-verify with the write pulses through line resistance: tuning vs distance (layer 7).

With line resistance the V and V/2 pulses reach a device reduced by the drop along its row
(from the row driver at column 0) and its column (from the column driver at row N−1), so
write-verify, which ramps until the device switches, needs higher amplitudes -- more
pulses -- far from the drivers, and the half-selected devices there are disturbed less.
This study programs the same sampled crossbars with nominal pulses and with pulses
through ``Lines(r_row_ohm=r, r_col_ohm=r, r_source_ohm=r_driver, r_sink_ohm=r_driver)``
(stepped per pulse, :func:`xbarsim.programming.program` with ``write_lines``), verify reads
exact, and bins the outcome by the distance of each device from its two drivers,
``d = col + (rows − 1 − row)`` cells.

Seeds: instance ``k`` is seeded from the root seed, ``{size, sigma, device}`` and ``k``
(:mod:`xbarsim.seeding`), so every wire resistance programs the same chips (paired).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.lines import Lines
from xbarsim.crossbar.write_path import write_voltages
from xbarsim.devices.config import preset
from xbarsim.distribution import describe
from xbarsim.errors import XbarsimInputError
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import program
from xbarsim.progress import progress_bar
from xbarsim.seeding import point_seed
from xbarsim.validation import check_positive_int, check_seed


@dataclass(frozen=True)
class WritePathSetup:
    """Parameters of the write-path study.

    Attributes
    ----------
    size : int
        Crossbar side N (rows = columns).
    r_wire_ohm : tuple of float
        Segment resistances of rows and columns per cell (Ω, >= 0); 0 is the nominal write.
    r_driver_ohm : float
        Output resistance of every row and column driver (Ω, >= 0).
    sigma : float
        Threshold variation of the device preset.
    instances : int
        Sampled crossbars per resistance.
    passes : int
        Write-verify passes (thesis algorithm otherwise).
    ramp_start_v : float
        First amplitude of every ramp (V); above the thesis's 0.5 V to shorten the run.
    device : str
    seed : int
    """

    size: int = 8
    r_wire_ohm: tuple[float, ...] = (0.0, 20.0)
    r_driver_ohm: float = 10.0
    sigma: float = 0.05
    instances: int = 2
    passes: int = 2
    ramp_start_v: float = 0.9
    device: str = "tio2-64x64-paper"
    seed: int = 0

    def validate(self) -> WritePathSetup:
        """Check every field; raise :class:`XbarsimInputError` naming the first bad one."""
        for name in ("size", "instances", "passes"):
            check_positive_int(name, getattr(self, name))
        check_seed(self.seed)
        if not self.r_wire_ohm or not all(np.isfinite(r) and r >= 0 for r in self.r_wire_ohm):
            raise XbarsimInputError(f"r_wire_ohm: each must be >= 0 Ω, got {self.r_wire_ohm}")
        if not (np.isfinite(self.r_driver_ohm) and self.r_driver_ohm >= 0):
            raise XbarsimInputError(f"r_driver_ohm: must be >= 0 Ω, got {self.r_driver_ohm}")
        if not 0.0 <= self.sigma <= 2.0:
            raise XbarsimInputError(f"sigma: must lie in [0, 2], got {self.sigma}")
        self.algorithm()
        preset(self.device)
        return self

    def algorithm(self) -> WriteVerify:
        """The study's write-verify."""
        return WriteVerify.thesis(passes=self.passes, ramp_start_v=self.ramp_start_v)

    def lines(self, r_wire_ohm: float) -> Lines:
        """Write lines of one wire resistance (Ω)."""
        return Lines(
            r_row_ohm=r_wire_ohm,
            r_col_ohm=r_wire_ohm,
            r_source_ohm=self.r_driver_ohm,
            r_sink_ohm=self.r_driver_ohm,
        )


def driver_distance(size: int) -> np.ndarray:
    """Cells between each device and its two drivers, ``col + (size − 1 − row)``."""
    rows, cols = np.indices((size, size))
    return cols + (size - 1 - rows)


def run_write_path_study(setup: WritePathSetup | None = None, progress: bool = False) -> dict:
    """Program with nominal and line-reduced write pulses; outcome vs distance.

    Returns
    -------
    dict
        ``setup``; ``cases``: one per wire resistance with ``r_wire_ohm``,
        ``selected_voltage_fraction`` (the fraction of a 1 V pulse the selected device
        sees, per distance, in an array of uniform 55 µS, the middle of the targets), and
        per distance ``d``:
        ``pulses`` and ``rel_error`` (mean over the devices at ``d`` per instance, then
        described over instances: mean, std, 5/50/95 %), ``within_tolerance`` (fraction).
    """
    setup = (WritePathSetup() if setup is None else setup).validate()
    n = setup.size
    dev = preset(setup.device).with_sigma(setup.sigma)
    point = {"study": "write-path", "size": n, "sigma": setup.sigma, "device": setup.device}
    dist = driver_distance(n)
    cases: list[dict[str, Any]] = []
    with progress_bar(len(setup.r_wire_ohm) * setup.instances, "write path", progress) as step:
        for r in setup.r_wire_ohm:
            lines = setup.lines(r)
            pulses, errors, within, totals = [], [], [], []
            for k in range(setup.instances):
                seed = point_seed(setup.seed, point, k)
                xbars = Crossbar.sample(dev, (n, n), batch=1, seed=seed)
                target = np.random.default_rng(seed).uniform(10e-6, 100e-6, (1, n, n))
                res = program(xbars, target, setup.algorithm(), write_lines=lines)
                rel = np.abs(res.conductance[0] / target[0] - 1.0)
                pulses.append([res.pulses[0][dist == d].mean() for d in range(2 * n - 1)])
                errors.append([rel[dist == d].mean() for d in range(2 * n - 1)])
                within.append([(rel[dist == d] <= setup.algorithm().tolerance).mean()
                               for d in range(2 * n - 1)])
                totals.append(int(res.pulses.sum()))
                step(1)
            fraction = np.ones((n, n))
            if r > 0.0 or setup.r_driver_ohm > 0.0:
                mid = np.full((n, n), 55e-6)
                fraction = np.array(
                    [[write_voltages(mid, lines, i, j, 1.0)[i, j] for j in range(n)]
                     for i in range(n)]
                )
            cases.append({
                "r_wire_ohm": r,
                "distance_cells": list(range(2 * n - 1)),
                "selected_voltage_fraction": [
                    float(fraction[dist == d].mean()) for d in range(2 * n - 1)
                ],
                "pulses": [describe(np.array(pulses)[:, d]) for d in range(2 * n - 1)],
                "rel_error": [describe(np.array(errors)[:, d]) for d in range(2 * n - 1)],
                "within_tolerance": [float(np.mean(np.array(within)[:, d]))
                                     for d in range(2 * n - 1)],
                "pulses_total": describe(np.array(totals)),
            })
    return {"setup": {**setup.__dict__, "r_wire_ohm": list(setup.r_wire_ohm)}, "cases": cases}

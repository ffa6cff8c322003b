"""Reference engine: write-verify applied pulse by pulse, every disturbance directly.

Plain and readable on purpose: each write pulse updates the selected device and, through
:meth:`Crossbar.apply_pulse`, every device the bias scheme reaches. The compiled engines
must give the same pulse counts and conductances; tests hold them to that. With a
``verify_read`` (:mod:`xbarsim.programming.verify_read`) every decision is taken on the
measured conductance instead, which only pulse-by-pulse stepping can follow; with
``write_lines`` every pulse goes through the line resistance
(:mod:`xbarsim.programming.write_lines`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from xbarsim.crossbar.array import Crossbar
from xbarsim.crossbar.bias import BiasScheme
from xbarsim.crossbar.lines import Lines
from xbarsim.programming.algorithm import WriteVerify, did_not_move
from xbarsim.programming.result import HISTORY_KEYS, ProgramResult, error_statistics, relative_error
from xbarsim.programming.targets import broadcast_targets
from xbarsim.programming.verify_read import VerifyRead, read_generators
from xbarsim.programming.write_lines import pulse_through_lines
from xbarsim.progress import progress_bar


def mark_disturbed(
    xbars: Crossbar,
    index: int,
    row: int,
    col: int,
    voltage: float,
    scheme: BiasScheme,
    hit: NDArray[np.bool_],
) -> int:
    """Flag the devices that a pulse disturbs at or above their threshold (for n_HS) and
    return how many there are (the selected device excluded)."""
    amplitude = abs(voltage)
    line = amplitude * scheme.line_fraction
    selected_flag = hit[row, col]
    count = 0
    if line > 0.0:
        th = xbars.v_set[index] if voltage > 0 else xbars.v_reset[index]
        in_row, in_col = line >= th[row, :], line >= th[:, col]
        hit[row, :] |= in_row
        hit[:, col] |= in_col
        count += int(in_row.sum()) + int(in_col.sum()) - 2 * int(in_row[col])
    other = amplitude * abs(scheme.other_fraction)
    if other > 0.0:
        th_opposite = xbars.v_reset[index] if voltage > 0 else xbars.v_set[index]
        reached = other >= th_opposite
        reached[row, :] = False
        reached[:, col] = False
        hit |= reached
        count += int(reached.sum())
    hit[row, col] = selected_flag
    return count


def tune_device(
    xbars: Crossbar,
    index: int,
    row: int,
    col: int,
    target: float,
    algorithm: WriteVerify,
    hit: NDArray[np.bool_],
    pass_index: int = 0,
    read: VerifyRead | None = None,
    rng: np.random.Generator | None = None,
    write_lines: Lines | None = None,
    trace: list[float] | None = None,
    exposures: NDArray[np.int64] | None = None,
    v2_sum: NDArray[np.float64] | None = None,
) -> tuple[int, bool, bool]:
    """Write-verify one device: ramps of increasing amplitude, direction flips at the target.

    With ``read`` (and its generator ``rng``) every decision uses the measured
    conductance ``read.read_conductance(g, rng)`` (S) instead of ``g``; with
    ``write_lines`` every pulse goes through those lines; with ``trace`` the device's
    conductance (S) after every pulse is appended to it (a Fig. 9a-style trace); with
    ``exposures`` the number of non-selected devices each pulse drives at or above threshold
    is added to ``exposures[0]`` (per-pulse n_HS).

    Returns
    -------
    pulses : int
        Pulses applied to the device.
    reached_cap : bool
        True if a ramp reached the amplitude cap without passing the target.
    stuck : bool
        True if that ramp also left the device's (measured) conductance unmoved:
        ``|G_end - G_start| < STUCK_MOVE_FRACTION * G_start`` over the ramp (the
        stuck-device rule of :class:`~xbarsim.programming.algorithm.WriteVerify`).
    """
    g = xbars.conductance[index]
    tol = algorithm.tolerance * target

    def measured() -> float:
        return g[row, col] if read is None else read.read_conductance(g[row, col], rng)

    err = measured() - target
    if abs(err) <= tol:
        return 0, False, False
    direction = 1 if err < 0.0 else -1
    pulses = 0
    for _ in range(algorithm.max_ramps):
        err_start = err
        passed = False
        for k in range(algorithm.ramp_length(direction, pass_index)):
            voltage = direction * algorithm.amplitude(direction, k)
            if write_lines is None:
                hs = mark_disturbed(xbars, index, row, col, voltage, algorithm.scheme, hit)
                xbars.apply_pulse(index, row, col, voltage, algorithm.scheme)
            else:
                hs = pulse_through_lines(
                    xbars, index, row, col, voltage, algorithm.scheme, write_lines, hit
                )
            if exposures is not None:
                exposures[0] += hs
            pulses += 1
            if v2_sum is not None:
                v2_sum[row, col] += voltage * voltage
            if trace is not None:
                trace.append(float(g[row, col]))
            err = measured() - target
            if abs(err) <= tol:
                return pulses, False, False
            if direction * err > 0.0:
                passed = True
                break
        if not passed:
            return pulses, True, did_not_move(err_start, err, target)
        direction = -direction
    return pulses, False, False


def program_reference(
    xbars: Crossbar,
    targets: NDArray,
    algorithm: WriteVerify,
    progress: bool = False,
    verify_read: VerifyRead | None = None,
    write_lines: Lines | None = None,
) -> ProgramResult:
    """Program every crossbar of ``xbars`` toward ``targets`` (S), in place.

    Parameters
    ----------
    xbars : Crossbar
        Updated in place.
    targets : ndarray, shape (rows, cols) or (batch, rows, cols)
    algorithm : WriteVerify
    progress : bool
        Show a progress bar.
    verify_read : VerifyRead, optional
        How a device is read after each pulse (None: its exact conductance).
    write_lines : Lines, optional
        Apply every write pulse through these lines (None: the nominal bias fractions).
    """
    target = broadcast_targets(xbars, targets)
    batch, rows, cols = target.shape
    passes = algorithm.passes
    pulses = np.zeros(target.shape, dtype=np.int32)
    abandoned = np.zeros(target.shape, dtype=bool)
    stuck = np.zeros(target.shape, dtype=bool)
    v2_sum = np.zeros(target.shape)
    pulses_per_pass = np.zeros((batch, passes), dtype=np.int64)
    n_hs = np.zeros((batch, passes))
    n_hs_ever = np.zeros(batch)
    exposures = np.zeros((batch, passes), dtype=np.int64)
    history = {key: np.zeros((batch, passes + 1)) for key in HISTORY_KEYS}
    switchable = ~xbars.unswitchable
    rngs = None if verify_read is None else read_generators(verify_read, batch)

    def record(b: int, column: int) -> None:
        stats = error_statistics(
            relative_error(xbars.conductance[b : b + 1], target[b : b + 1]),
            algorithm.tolerance,
            switchable[b : b + 1],
        )
        for key in HISTORY_KEYS:
            history[key][b, column] = stats[key][0]

    with progress_bar(batch * passes, "tuning (reference)", progress) as advance:
        for b in range(batch):
            record(b, 0)
            ever = np.zeros((rows, cols), dtype=bool)
            for p in range(passes):
                hit = np.zeros((rows, cols), dtype=bool)
                for r in range(rows):
                    for c in range(cols):
                        if not switchable[b, r, c] or abandoned[b, r, c]:
                            continue
                        n, capped, unmoved = tune_device(
                            xbars, b, r, c, target[b, r, c], algorithm, hit, p,
                            verify_read, None if rngs is None else rngs[b], write_lines,
                            exposures=exposures[b, p : p + 1], v2_sum=v2_sum[b],
                        )
                        pulses[b, r, c] += n
                        pulses_per_pass[b, p] += n
                        stuck[b, r, c] |= unmoved
                        abandoned[b, r, c] = capped and (
                            algorithm.abandon_at_cap or (unmoved and algorithm.stuck_detection)
                        )
                n_hs[b, p] = hit.mean()
                ever |= hit
                record(b, p + 1)
                advance(1)
            n_hs_ever[b] = ever.mean()
    return ProgramResult(
        target=target,
        conductance=xbars.conductance.copy(),
        pulses=pulses,
        abandoned=abandoned,
        unswitchable=xbars.unswitchable.copy(),
        tolerance=algorithm.tolerance,
        history=history,
        pulses_per_pass=pulses_per_pass,
        n_hs_per_pass=n_hs,
        n_hs_ever=n_hs_ever,
        hs_exposures_per_pass=exposures,
        engine="reference",
        stuck=stuck,
        pulse_v2_sum=v2_sum,
    )

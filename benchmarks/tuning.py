"""Tuning-engine benchmark: engines side by side, in one process, on the same crossbars.

Prints (and with ``--json`` writes) ratios measured in this run, each the median over
``--repeats`` interleaved repetitions, never absolute targets:

* ``ms_per_crossbar_one_thread``  compiled accumulated engine on one thread
* ``ms_per_crossbar``             the chosen engine on all threads
* ``ns_per_pulse``, ``ns_per_ramp``  the one-thread time per write pulse and per ramp
* ``ramps_per_crossbar``, ``pulses_per_crossbar``
* ``speedup_vs_direct``    accumulated vs direct (every disturbance per pulse), one thread,
                           same crossbars (a subset if the direct engine would take long)
* ``speedup_vs_reference`` accumulated vs the plain reference engine on a smaller array
* ``thread_scaling``       throughput on all threads / on one thread
* ``max_rel_diff``         largest relative conductance difference between engines, and
  ``identical_pulse_counts``
* ``cpu_ms_per_crossbar_one_thread``: process CPU time of the one-thread run (less
  sensitive than wall time to other programs on a shared machine; ``load_average`` says
  how busy the machine was); ``cpu_ms_per_crossbar`` the same on all threads, and
  ``cpu_thread_scaling`` = threads x one-thread CPU time / all-thread CPU time: the
  scaling the threads reach when they have their cores to themselves (``thread_scaling``
  is the wall-time ratio, which other programs on the machine lower)
* with ``--engine gpu``: ``crossbars_per_s`` on the GPU, ``gpu_speedup_vs_cpu_all_threads``
  (same crossbars, compiled CPU engine on every core) and ``gpu_max_rel_diff``

Example: ``python benchmarks/tuning.py --size 64 --crossbars 8 --sigma 0.25``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

import numba
import numpy as np

from xbarsim.crossbar import Crossbar
from xbarsim.devices import preset
from xbarsim.programming import WriteVerify, program, resolve_engine
from xbarsim.programming.result import TUNING_ERROR_EXCLUSION


def _crossbars(size: int, batch: int, sigma: float, seed: int) -> tuple[Crossbar, np.ndarray]:
    device = preset("thesis-uniformity").with_sigma(sigma)
    xbars = Crossbar.sample(device, (size, size), batch=batch, seed=seed)
    targets = np.random.default_rng(seed).uniform(10e-6, 100e-6, (batch, size, size))
    return xbars, targets


def _timed(xbars: Crossbar, targets: np.ndarray, alg: WriteVerify, engine: str):
    """(wall s, process CPU s, result) of programming a copy of ``xbars``."""
    xbars = xbars.copy()
    wall, cpu = time.perf_counter(), time.process_time()
    result = program(xbars, targets, alg, engine=engine)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _rel_diff(a, b) -> float:
    return float(np.max(np.abs(a.conductance - b.conductance) / np.abs(b.conductance)))


def machine() -> str:
    """CPU model and core count of this machine, one line."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--crossbars", type=int, default=8)
    parser.add_argument("--sigma", type=float, default=0.25)
    parser.add_argument("--target", type=float, default=0.01, help="tuning tolerance")
    parser.add_argument("--engine", default="auto", help="engine timed for ms_per_crossbar")
    parser.add_argument("--direct-crossbars", type=int, default=2)
    parser.add_argument("--reference-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="median over repetitions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_path", default=None, help="'-' for stdout")
    args = parser.parse_args(argv)
    alg = WriteVerify.thesis(tolerance=args.target)
    engine = resolve_engine(args.engine)
    log = sys.stderr if args.json_path == "-" else sys.stdout

    # warm-up: compile the kernels outside the timings
    warm_x, warm_t = _crossbars(4, 1, args.sigma, 1)
    for name in ("cpu", "cpu-direct") + (("gpu",) if engine == "gpu" else ()):
        program(warm_x.copy(), warm_t, alg, engine=name)

    threads = numba.get_num_threads()
    x, t = _crossbars(args.size, args.crossbars, args.sigma, args.seed)
    k = min(args.direct_crossbars, args.crossbars)
    sub_x, sub_t = _crossbars(args.size, k, args.sigma, args.seed)
    ref_size = min(args.reference_size, args.size)
    ref_x, ref_t = _crossbars(ref_size, 1, args.sigma, args.seed)
    runs: dict[str, list[float]] = {}

    def timed(key: str, xbars: Crossbar, targets: np.ndarray, name: str, cpu_key: str = ""):
        wall, cpu, result = _timed(xbars, targets, alg, name)
        runs.setdefault(key, []).append(wall)
        if cpu_key:
            runs.setdefault(cpu_key, []).append(cpu)
        return result

    for _ in range(max(1, args.repeats)):  # interleaved, so that load hits every engine
        numba.set_num_threads(threads)
        res_all = timed("all", x, t, engine, "all_cpu")
        if engine == "gpu":
            res_cpu_all = timed("cpu_all", x, t, "cpu")
        numba.set_num_threads(1)
        res_one = timed("one", x, t, "cpu", "one_cpu")
        lazy_sub = timed("lazy_sub", sub_x, sub_t, "cpu")
        direct = timed("direct", sub_x, sub_t, "cpu-direct")
        ref = timed("reference", ref_x, ref_t, "reference")
        ref_lazy = timed("reference_lazy", ref_x, ref_t, "cpu")
    numba.set_num_threads(threads)
    med = {key: float(np.median(values)) for key, values in runs.items()}

    gpu_extra: dict = {}
    if engine == "gpu":
        gpu_extra = {
            "crossbars_per_s": args.crossbars / med["all"],
            "cpu_all_threads_crossbars_per_s": args.crossbars / med["cpu_all"],
            "gpu_speedup_vs_cpu_all_threads": med["cpu_all"] / med["all"],
            "gpu_identical_pulse_counts": bool(np.array_equal(res_all.pulses, res_cpu_all.pulses)),
            "gpu_max_rel_diff": _rel_diff(res_all, res_cpu_all),
        }
    pulses = res_one.total_pulses
    ramps = int(res_one.ramps_per_pass.sum())
    same_pulses = bool(
        np.array_equal(direct.pulses, lazy_sub.pulses)
        and np.array_equal(ref.pulses, ref_lazy.pulses)
        and np.array_equal(res_all.pulses, res_one.pulses)
    )
    out = {
        "size": args.size,
        "crossbars": args.crossbars,
        "sigma": args.sigma,
        "target": args.target,
        "engine": engine,
        "threads": threads,
        "repeats": max(1, args.repeats),
        "ms_per_crossbar_one_thread": 1e3 * med["one"] / args.crossbars,
        "cpu_ms_per_crossbar_one_thread": 1e3 * med["one_cpu"] / args.crossbars,
        "ms_per_crossbar": 1e3 * med["all"] / args.crossbars,
        "cpu_ms_per_crossbar": 1e3 * med["all_cpu"] / args.crossbars,
        "ns_per_pulse": 1e9 * med["one"] / pulses,
        "ns_per_ramp": 1e9 * med["one"] / ramps,
        "ramps_per_crossbar": ramps / args.crossbars,
        "pulses_per_crossbar": pulses / args.crossbars,
        "speedup_vs_direct": med["direct"] / med["lazy_sub"],
        "direct_crossbars": k,
        "speedup_vs_reference": med["reference"] / med["reference_lazy"],
        "reference_size": ref_size,
        "thread_scaling": med["one"] / med["all"] if engine == "cpu" else float("nan"),
        "cpu_thread_scaling": (
            threads * med["one_cpu"] / med["all_cpu"] if engine == "cpu" else float("nan")
        ),
        "max_rel_diff": max(
            _rel_diff(lazy_sub, direct), _rel_diff(ref_lazy, ref), _rel_diff(res_all, res_one)
        ),
        "identical_pulse_counts": same_pulses,
        "total_pulses": pulses,
        "p99_error_mean": float(np.mean(res_one.history["p99"][:, -1])),
        "tuning_error_exclusion": TUNING_ERROR_EXCLUSION,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "load_average": os.getloadavg()[0],
        "machine": machine(),
        **gpu_extra,
    }
    for key, value in out.items():
        print(
            f"{key:>30}: {value:.4g}" if isinstance(value, float) else f"{key:>30}: {value}",
            file=log,
        )
    if args.reference_size < args.size:
        print(
            f"(reference engine timed on {ref_size}x{ref_size}; direct engine on {k} of "
            f"{args.crossbars} crossbars)",
            file=log,
        )
    if args.json_path:
        text = json.dumps(out, indent=2)
        if args.json_path == "-":
            print(text)
        else:
            with open(args.json_path, "w") as fh:
                fh.write(text + "\n")
    return out


if __name__ == "__main__":
    main()

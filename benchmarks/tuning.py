"""Tuning-engine benchmark: engines side by side, in one process, on the same crossbars.

Prints (and with ``--json`` writes) ratios measured in this run, never absolute targets:

* ``ns_per_pulse``        compiled accumulated engine, one thread, wall time / pulses
* ``ms_per_crossbar``     the chosen engine on all threads
* ``speedup_vs_direct``   accumulated vs direct (every disturbance per pulse), one thread,
                          same crossbars (a subset if the direct engine would take long)
* ``speedup_vs_reference`` accumulated vs the plain reference engine on a smaller array
* ``thread_scaling``      throughput on all threads / on one thread
* ``max_rel_diff``        largest relative conductance difference between engines
* ``total_pulses``, ``peak_rss_mb``
* with ``--engine gpu``: ``crossbars_per_s`` on the GPU, ``gpu_speedup_vs_cpu_all_threads``
  (same crossbars, compiled CPU engine on every core) and ``gpu_max_rel_diff``

Example: ``python benchmarks/tuning.py --size 64 --crossbars 8 --sigma 0.25``
"""

from __future__ import annotations

import argparse
import json
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
    start = time.perf_counter()
    result = program(xbars, targets, alg, engine=engine)
    return time.perf_counter() - start, result


def _rel_diff(a, b) -> float:
    return float(np.max(np.abs(a.conductance - b.conductance) / np.abs(b.conductance)))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--crossbars", type=int, default=8)
    parser.add_argument("--sigma", type=float, default=0.25)
    parser.add_argument("--target", type=float, default=0.01, help="tuning tolerance")
    parser.add_argument("--engine", default="auto", help="engine timed for ms_per_crossbar")
    parser.add_argument("--direct-crossbars", type=int, default=2)
    parser.add_argument("--reference-size", type=int, default=16)
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
    t_all, res_all = _timed(x.copy(), t, alg, engine)
    gpu_extra: dict = {}
    if engine == "gpu":
        t_cpu_all, res_cpu_all = _timed(x.copy(), t, alg, "cpu")
        gpu_extra = {
            "crossbars_per_s": args.crossbars / t_all,
            "cpu_all_threads_crossbars_per_s": args.crossbars / t_cpu_all,
            "gpu_speedup_vs_cpu_all_threads": t_cpu_all / t_all,
            "gpu_identical_pulse_counts": bool(np.array_equal(res_all.pulses, res_cpu_all.pulses)),
            "gpu_max_rel_diff": _rel_diff(res_all, res_cpu_all),
        }
    numba.set_num_threads(1)
    t_one, res_one = _timed(x.copy(), t, alg, "cpu")
    pulses = res_one.total_pulses

    k = min(args.direct_crossbars, args.crossbars)
    sub_x, sub_t = _crossbars(args.size, k, args.sigma, args.seed)
    t_lazy_sub, lazy_sub = _timed(sub_x.copy(), sub_t, alg, "cpu")
    t_direct, direct = _timed(sub_x.copy(), sub_t, alg, "cpu-direct")

    ref_size = min(args.reference_size, args.size)
    ref_x, ref_t = _crossbars(ref_size, 1, args.sigma, args.seed)
    t_ref, ref = _timed(ref_x.copy(), ref_t, alg, "reference")
    t_ref_lazy, ref_lazy = _timed(ref_x.copy(), ref_t, alg, "cpu")
    numba.set_num_threads(threads)

    same_pulses = bool(
        np.array_equal(direct.pulses, lazy_sub.pulses)
        and np.array_equal(ref.pulses, ref_lazy.pulses)
    )
    out = {
        "size": args.size,
        "crossbars": args.crossbars,
        "sigma": args.sigma,
        "target": args.target,
        "engine": engine,
        "threads": threads,
        "ns_per_pulse": 1e9 * t_one / pulses,
        "ms_per_crossbar": 1e3 * t_all / args.crossbars,
        "ms_per_crossbar_one_thread": 1e3 * t_one / args.crossbars,
        "speedup_vs_direct": t_direct / t_lazy_sub,
        "direct_crossbars": k,
        "speedup_vs_reference": t_ref / t_ref_lazy,
        "reference_size": ref_size,
        "thread_scaling": t_one / t_all if engine == "cpu" else float("nan"),
        "max_rel_diff": max(
            _rel_diff(lazy_sub, direct), _rel_diff(ref_lazy, ref), _rel_diff(res_all, res_one)
        ),
        "identical_pulse_counts": same_pulses,
        "total_pulses": pulses,
        "pulses_per_crossbar": pulses / args.crossbars,
        "p99_error_mean": float(np.mean(res_one.history["p99"][:, -1])),
        "tuning_error_exclusion": TUNING_ERROR_EXCLUSION,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        **gpu_extra,
    }
    for key, value in out.items():
        print(
            f"{key:>28}: {value:.4g}" if isinstance(value, float) else f"{key:>28}: {value}",
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

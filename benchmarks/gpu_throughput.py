"""GPU tuning throughput: the numba-cuda engine against the compiled CPU engine on every core.

Both engines tune the same crossbars in one process; the table gives 64x64 crossbars fully
tuned per second (thesis write-verify: 1 %, 10 rounds, V/2) and their ratio, and checks that
pulse counts are identical. Needs a CUDA GPU (see ``benchmarks/gpu_check.sh``).

Example: ``python benchmarks/gpu_throughput.py --sigmas 0.05,0.25 --batches 2048,8192``
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numba
import numpy as np

from xbarsim.crossbar import Crossbar
from xbarsim.devices import preset
from xbarsim.programming import WriteVerify, gpu_available, program


def _crossbars(size: int, batch: int, sigma: float, seed: int) -> tuple[Crossbar, np.ndarray]:
    device = preset("thesis-uniformity").with_sigma(sigma)
    xbars = Crossbar.sample(device, (size, size), batch=batch, seed=seed)
    targets = np.random.default_rng(seed).uniform(10e-6, 100e-6, (batch, size, size))
    return xbars, targets


def _timed(xbars: Crossbar, targets: np.ndarray, alg: WriteVerify, engine: str):
    start = time.perf_counter()
    result = program(xbars, targets, alg, engine=engine)
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--sigmas", default="0.05,0.25")
    parser.add_argument("--batches", default="2048,8192")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)
    if not gpu_available():
        print("error: no CUDA GPU", file=sys.stderr)
        raise SystemExit(2)
    alg = WriteVerify.thesis()
    warm_x, warm_t = _crossbars(8, 2, 0.25, 1)
    for engine in ("cpu", "gpu"):
        program(warm_x.copy(), warm_t, alg, engine=engine)
    rows = []
    for sigma in (float(s) for s in args.sigmas.split(",")):
        for batch in (int(b) for b in args.batches.split(",")):
            x, t = _crossbars(args.size, batch, sigma, args.seed)
            t_gpu, r_gpu = _timed(x.copy(), t, alg, "gpu")
            t_cpu, r_cpu = _timed(x.copy(), t, alg, "cpu")
            per_xbar = r_cpu.pulses.reshape(batch, -1).sum(axis=1)
            row = {
                "sigma": sigma,
                "batch": batch,
                "size": args.size,
                "gpu_crossbars_per_s": batch / t_gpu,
                "cpu_crossbars_per_s": batch / t_cpu,
                "cpu_threads": numba.get_num_threads(),
                "gpu_over_cpu": t_cpu / t_gpu,
                "identical_pulses": bool(np.array_equal(r_gpu.pulses, r_cpu.pulses)),
                "max_rel_diff": float(
                    np.max(np.abs(r_gpu.conductance - r_cpu.conductance) / r_cpu.conductance)
                ),
                "pulses_per_crossbar_median": float(np.median(per_xbar)),
                "pulses_per_crossbar_max": float(per_xbar.max()),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"{'sigma':>6} {'batch':>6} {'GPU xbar/s':>11} {'CPU xbar/s':>11} {'ratio':>7} "
          f"{'same':>5} {'max rel diff':>12}")
    for r in rows:
        print(f"{r['sigma']:>6} {r['batch']:>6} {r['gpu_crossbars_per_s']:>11.0f} "
              f"{r['cpu_crossbars_per_s']:>11.0f} {r['gpu_over_cpu']:>7.2f} "
              f"{r['identical_pulses']!s:>5} {r['max_rel_diff']:>12.2e}")
    if args.json_path:
        with open(args.json_path, "w") as fh:
            json.dump(rows, fh, indent=2)
    return rows


if __name__ == "__main__":
    main()

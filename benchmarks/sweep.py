"""Sweep scaling: the same small grid on 1 and on 2 local dask workers.

Each cluster is started and warmed up (workers import xbarsim and load the compiled
engine) before the timed run, so the timing covers the sweep itself. Prints both wall
times, the speedup (target >= 1.6x on 2 workers, DESIGN section 7: >= 0.8 k) and whether
the two result sets are identical.

Usage: ``python benchmarks/sweep.py [--size 64] [--crossbars 8] [--engine cpu]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from distributed import LocalCluster

from xbarsim.sweeps import read_results, run_sweep, sweep_config_from_dict


def timed_sweep(workers: int, grid: dict, root: Path) -> tuple[float, pd.DataFrame]:
    """Wall time (s) of ``grid`` on a warm local cluster of ``workers``, and its rows."""
    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        worker_dashboard_address=None,
        env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    ) as cluster:
        address = cluster.scheduler_address
        warm = {
            **grid,
            "sizes": [4],
            "crossbars": workers,
            "crossbars_per_task": 1,
            "results": str(root / f"warm{workers}"),
        }
        run_sweep(sweep_config_from_dict(warm), scheduler=address)
        cfg = sweep_config_from_dict({**grid, "results": str(root / f"w{workers}")})
        start = time.perf_counter()
        run_sweep(cfg, scheduler=address)
        elapsed = time.perf_counter() - start
    return elapsed, read_results(cfg.results).drop(columns="task")


def main() -> None:
    """Run the benchmark and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--crossbars", type=int, default=8)
    parser.add_argument("--weight-sets", type=int, default=4)
    parser.add_argument("--engine", default="cpu")
    args = parser.parse_args()
    grid = {
        "sizes": [args.size],
        "sigmas": [0.25, 0.3],
        "targets": [0.01],
        "algorithms": ["baseline"],
        "crossbars": args.crossbars,
        "weight_sets": args.weight_sets,
        "crossbars_per_task": 1,
        "inputs": 1000,
        "seed": 1,
        "engine": args.engine,
    }
    with tempfile.TemporaryDirectory(prefix="xbarsim-bench-") as tmp:
        t1, r1 = timed_sweep(1, grid, Path(tmp))
        t2, r2 = timed_sweep(2, grid, Path(tmp))
    tasks = 2 * args.crossbars
    print(
        f"grid: N={args.size}, sigma 0.25/0.30, {args.crossbars} x {args.weight_sets} "
        f"instances per point, {tasks} tasks, engine {args.engine}"
    )
    print(f"1 worker : {t1:7.2f} s")
    print(f"2 workers: {t2:7.2f} s")
    print(f"speedup  : {t1 / t2:7.2f}x (target >= 1.6x)")
    identical = r1.equals(r2)
    print(f"identical results: {identical}")
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

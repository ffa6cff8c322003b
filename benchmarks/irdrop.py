"""IR-drop benchmark: the effective matrix against re-solving the circuit, in one process.

Prints (and with ``--json`` writes) ratios measured in this run:

* ``speedup_vs_per_input``   a 64x64 kernel and a batch of ``--inputs`` input vectors: the
  effective matrix (solved once) plus one matrix product, against re-building and
  re-factorizing the sparse circuit for every input vector (as peers do); the per-input
  baseline is timed on ``--per-input-sample`` vectors and scaled to the batch (each vector
  costs the same: one independent factorization and solve)
* ``speedup_vs_sparse_once`` the same batch against one sparse LU of the full circuit
  reused for every input (the "naive sparse" solve)
* ``speedup_vs_sparse_matrix`` the effective matrix itself against the sparse LU with one
  solve per input line
* ``max_rel_diff``           largest difference between our currents and the sparse ones
* ``scaling``                solve time per kernel for N = 16 ... 256 and the log-log slope
* ``resnet18_projection``  ResNet-18's number of 64x64 kernels (G+ and G-) times the measured
  solve time per kernel on a batch of ``--projection-kernels`` kernels: the IR-drop extra of
  a ResNet-18 deployment, without programming it
* with ``--resnet18``: ResNet-18 on 64x64 kernels programmed for real: programming time (the
  ideal deployment) and the extra time of the effective matrices of all its kernels, and
  their ratio (several minutes on two cores)

Example: ``python benchmarks/irdrop.py --inputs 1000 --json -``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from xbarsim.crossbar import Lines, effective_matrix, lines_preset
from xbarsim.crossbar.nodal import NodalNetwork, factorize


def _kernel(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(10e-6, 100e-6, (n, n)), rng.uniform(0.0, 0.1, (1, n))


def per_kernel(args: argparse.Namespace, lines: Lines) -> dict:
    """Effective matrix vs sparse solves on one kernel and a batch of inputs."""
    n = args.size
    g, _ = _kernel(n, args.seed)
    v = np.random.default_rng(args.seed + 1).uniform(0.0, 0.1, (args.inputs, n))
    start = time.perf_counter()
    ours = v @ effective_matrix(g, lines)
    t_ours = time.perf_counter() - start

    start = time.perf_counter()
    for row in v[: args.per_input_sample]:
        NodalNetwork(g, lines).output_currents(row)  # build, factorize, solve: one vector
    t_per_input = (time.perf_counter() - start) / args.per_input_sample * args.inputs

    start = time.perf_counter()
    net = NodalNetwork(g, lines)
    k, b = net.matrices()
    lu = factorize(k)
    x = lu.solve(np.asarray(b @ v.T))
    u, w = net.node_voltages(x, v.T)
    sparse = np.einsum("rck,rc->kc", u - w, g)
    t_sparse_once = time.perf_counter() - start

    start = time.perf_counter()
    NodalNetwork(g, lines).effective_matrix()
    t_sparse_matrix = time.perf_counter() - start
    start = time.perf_counter()
    effective_matrix(g, lines)
    t_matrix = time.perf_counter() - start
    return {
        "size": n,
        "inputs": args.inputs,
        "ours_s": t_ours,
        "per_input_s": t_per_input,
        "sparse_once_s": t_sparse_once,
        "speedup_vs_per_input": t_per_input / t_ours,
        "speedup_vs_sparse_once": t_sparse_once / t_ours,
        "speedup_vs_sparse_matrix": t_sparse_matrix / t_matrix,
        "max_rel_diff": float(np.max(np.abs(ours - sparse)) / np.max(np.abs(sparse))),
    }


def scaling(args: argparse.Namespace, lines: Lines) -> dict:
    """Solve time per kernel vs N, ours and (up to --sparse-max) the sparse LU's."""
    sizes = [int(s) for s in args.sizes.split(",")]
    ours, sparse = {}, {}
    for n in sizes:
        batch = max(1, 256 // n)
        g = np.stack([_kernel(n, args.seed + k)[0] for k in range(batch)])
        start = time.perf_counter()
        effective_matrix(g, lines, workers=1)
        ours[n] = (time.perf_counter() - start) / batch
        if n <= args.sparse_max:
            start = time.perf_counter()
            NodalNetwork(g[0], lines).effective_matrix()
            sparse[n] = time.perf_counter() - start
        print(f"N={n:4d}: ours {1e3 * ours[n]:9.2f} ms/kernel"
              + (f", sparse LU {1e3 * sparse[n]:9.1f} ms" if n in sparse else ""), file=sys.stderr)
    big = [n for n in sizes if n >= 64]
    slope = float(np.polyfit(np.log(big), np.log([ours[n] for n in big]), 1)[0]) if len(
        big) > 1 else float("nan")
    return {
        "ms_per_kernel": {str(n): 1e3 * t for n, t in ours.items()},
        "sparse_ms": {str(n): 1e3 * t for n, t in sparse.items()},
        "loglog_slope_n_ge_64": slope,
    }


def resnet18_kernels(kernel: int = 64) -> int:
    """Crossbars (G+ and G-) of ResNet-18 tiled into ``kernel``-sized kernels."""
    from torch import nn

    from deploy_resnet18 import resnet18 as build

    count = 0
    for module in build().modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            inputs, outputs = module.weight[0].numel(), module.weight.shape[0]
            count += 2 * (-(-inputs // kernel)) * (-(-outputs // kernel))
    return count


def resnet18_projection(args: argparse.Namespace, lines: Lines) -> dict:
    """IR-drop extra of a ResNet-18 deployment from the measured time per kernel."""
    g = np.stack([_kernel(64, args.seed + k)[0] for k in range(args.projection_kernels)])
    start = time.perf_counter()
    effective_matrix(g, lines)
    per_kernel_s = (time.perf_counter() - start) / args.projection_kernels
    # one thread: its CPU time is what the solve costs on an otherwise idle core
    cpu, wall = time.process_time(), time.perf_counter()
    effective_matrix(g, lines, workers=1)
    cpu_s = (time.process_time() - cpu) / args.projection_kernels
    one_thread_s = (time.perf_counter() - wall) / args.projection_kernels
    kernels = resnet18_kernels()
    return {
        "crossbars": kernels,
        "ms_per_kernel_all_threads": 1e3 * per_kernel_s,
        "ms_per_kernel_one_thread_wall": 1e3 * one_thread_s,
        "ms_per_kernel_one_thread_cpu": 1e3 * cpu_s,
        "projected_irdrop_extra_s": kernels * per_kernel_s,
        "projected_irdrop_extra_s_idle_two_cores": kernels * cpu_s / 2,
        "load_average_1min": os.getloadavg()[0],
    }


def resnet18(args: argparse.Namespace, lines: Lines) -> dict:
    """Programming time of ResNet-18 (the ideal deployment) and the extra IR-drop solve."""
    import torch

    from deploy_resnet18 import resnet18 as build
    from xbarsim.devices import preset
    from xbarsim.mapping import ChipConfig
    from xbarsim.nn.deploy import program_model

    torch.manual_seed(args.seed)
    chip = ChipConfig(device=preset("thesis-uniformity").with_sigma(0.25), kernel=64)
    start = time.perf_counter()
    dep = program_model(build(), chip, seed=args.seed, progress=True)
    t_ideal = time.perf_counter() - start
    start = time.perf_counter()
    effective_matrix(dep.conductance, lines)
    t_ir = time.perf_counter() - start
    return {
        "crossbars": int(dep.n_kernels),
        "ideal_deploy_s": t_ideal,
        "irdrop_extra_s": t_ir,
        "irdrop_ms_per_kernel": 1e3 * t_ir / dep.n_kernels,
        "deploy_time_ratio_irdrop_vs_ideal": (t_ideal + t_ir) / t_ideal,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--per-input-sample", type=int, default=10)
    parser.add_argument("--sizes", default="16,32,64,128,256")
    parser.add_argument("--sparse-max", type=int, default=128)
    parser.add_argument("--projection-kernels", type=int, default=128)
    parser.add_argument("--resnet18", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_path", default=None, help="'-' for stdout")
    args = parser.parse_args(argv)
    lines = lines_preset("paper").model_copy(update={"r_source_ohm": 1.0, "r_sink_ohm": 1.0})
    report = {"lines": lines.model_dump(), "kernel": per_kernel(args, lines),
              "scaling": scaling(args, lines),
              "resnet18_projection": resnet18_projection(args, lines)}
    if args.resnet18:
        report["resnet18"] = resnet18(args, lines)
    text = json.dumps(report, indent=2)
    if args.json_path == "-":
        print(text)
    else:
        print(text, file=sys.stderr)
        if args.json_path:
            with open(args.json_path, "w") as fh:
                fh.write(text + "\n")
    return report


if __name__ == "__main__":
    main()

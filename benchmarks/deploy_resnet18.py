"""Time to deploy a ResNet-18-sized network onto simulated 64x64 kernels.

The network is the ResNet-18 layout (a 7x7/2 stem, four stages of two basic blocks with
64-128-256-512 channels, 1x1 projection shortcuts, global pooling, a 1000-way classifier;
11.7 M weights) built here with random weights: nothing is downloaded and torchvision is
not needed. Every Conv2d and Linear is mapped to differential pairs, tiled into N x N
kernels and programmed in one batched engine call.

Besides the wall time and peak memory (``peak_rss_mb``: the process's largest resident set,
MiB, read when the deployment returns; a run that first compiles the engine includes the
compiler's), the run reports where the time went, from the
cumulative times of a profile of the deployment: ``sampling_seconds`` (drawing the
crossbars), ``mapping_seconds`` (converting the model, tiling and mapping the weights to
conductance pairs), ``programming_seconds`` (the engine), ``write_back_seconds`` (the
programmed conductances into the layers) and ``other_seconds`` (the rest), together with
``cpu_seconds`` (process CPU time, all threads) and ``load_average``.

Example: ``python benchmarks/deploy_resnet18.py --kernel 64 --sigma 0.25 --json -``
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import sys
import time

import numba
import numpy as np
import torch
from torch import nn

from xbarsim.crossbar import Crossbar
from xbarsim.devices import preset
from xbarsim.mapping import ChipConfig
from xbarsim.mapping.differential import weights_to_pair
from xbarsim.mapping.tiling import tile
from xbarsim.nn.convert import convert
from xbarsim.nn.deploy import Deployment, program_model
from xbarsim.programming import program
from xbarsim.programming.result import (
    TUNING_ERROR_EXCLUSION,
    ProgramResult,
    error_statistics,
    relative_error,
)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity or 1x1 projection shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


def resnet18(classes: int = 1000) -> nn.Sequential:
    """The ResNet-18 layout with random weights."""
    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
    ]
    c_in = 64
    for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1)]
        c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


#: Functions whose cumulative profile time makes up each part of the breakdown.
PARTS = {
    "sampling": (Crossbar.sample,),
    "mapping": (convert, tile, weights_to_pair),
    "programming": (program,),
    "write_back": (Deployment.compute_with,),
}


def breakdown(profile: cProfile.Profile, total: float) -> dict[str, float]:
    """Seconds per part of :data:`PARTS` (cumulative profile times) and the rest."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _, name), (_, _, _, cum, _) in stats.items():
        key = (os.path.realpath(filename), name)
        cumulative[key] = cumulative.get(key, 0.0) + cum
    out = {}
    for part, functions in PARTS.items():
        out[f"{part}_seconds"] = sum(
            cumulative.get((os.path.realpath(f.__code__.co_filename), f.__name__), 0.0)
            for f in (getattr(f, "__func__", f) for f in functions)
        )
    out["other_seconds"] = total - sum(out.values())
    return out


def final_p99(result: ProgramResult) -> np.ndarray:
    """Each kernel's 99th-percentile relative tuning error after programming (fraction),
    over its devices outside the fault map and the kernel padding (a deployment keeps no
    per-pass history)."""
    out = np.empty(result.conductance.shape[0])
    for lo in range(0, out.size, 256):  # in slices: no full-size temporaries
        part = slice(lo, lo + 256)
        left_out = result.unswitchable[part]
        if result.skipped is not None:
            left_out = left_out | result.skipped[part]
        error = relative_error(result.conductance[part], result.target[part])
        out[part] = error_statistics(error, result.tolerance, ~left_out)["p99"]
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", type=int, default=64)
    parser.add_argument("--sigma", type=float, default=0.25)
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_path", default=None, help="'-' for stdout")
    args = parser.parse_args(argv)
    log = sys.stderr if args.json_path == "-" else sys.stdout
    torch.manual_seed(args.seed)
    model = resnet18()
    chip = ChipConfig(
        device=preset("thesis-uniformity").with_sigma(args.sigma),
        kernel=args.kernel,
        engine=args.engine,
    )
    profile = cProfile.Profile()
    start, cpu = time.perf_counter(), time.process_time()
    profile.enable()
    deployment = program_model(model, chip, seed=args.seed, progress=True)
    profile.disable()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    # the deployment's peak, before this script's own checks (statistics, a forward pass)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = deployment.result
    with torch.no_grad():
        out = deployment.model(torch.randn(1, 3, 224, 224))
    weights = sum(p.numel() for n, p in model.named_parameters() if "bn" not in n and p.ndim > 1)
    report = {
        "kernel": args.kernel,
        "sigma": args.sigma,
        "engine": result.engine,
        "weights": int(weights),
        "crossbars": int(deployment.targets.shape[0]),
        "deploy_seconds": seconds,
        **breakdown(profile, seconds),
        "cpu_seconds": cpu,
        "crossbars_per_second": deployment.targets.shape[0] / seconds,
        "total_pulses": result.total_pulses,
        "tuning_error_p99_median": float(np.median(final_p99(result))),
        "tuning_error_exclusion": TUNING_ERROR_EXCLUSION,
        "forward_ok": bool(torch.isfinite(out).all()),
        "peak_rss_mb": peak_mb,
        "load_average": os.getloadavg()[0],
        "threads": numba.get_num_threads(),
    }
    for key, value in report.items():
        print(
            f"{key:>24}: {value:.4g}" if isinstance(value, float) else f"{key:>24}: {value}",
            file=log,
        )
    if args.json_path == "-":
        print(json.dumps(report, indent=2))
    elif args.json_path:
        with open(args.json_path, "w") as fh:
            fh.write(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()

"""One operating condition with every effect on, for the ResNet-18-sized layout.

The ResNet-18 layout of ``deploy_resnet18.py`` (random weights, 64x64 kernels) is deployed
through ``deploy_spec`` with every effect of a chip spec on: stuck devices with pair
retuning, the paper's lines, the thesis read path (DAC, TIA with offsets and their
compensation, ADC), nonlinearity and read noise. Programming loads the targets exactly
(``ideal``): programming is not what is timed. Reported, in one run:

* ``condition_setup_seconds``: entering ``deployment.at(temp_c, age_h)`` once, i.e. the
  conductances at the condition, the effective matrices of every kernel at it (spec
  ``line_update``: ``first-order`` by default here, ``--line-update exact`` for the exact
  solve), the nonlinearity bases and noise variances (target <= 20 s on the 2-core VM);
* ``forward_ratio``: a forward pass at ``--batch`` (16) with every effect over the ideal
  analog forward pass (the same deployed model with the condition path and the read path
  switched off), paired and best of ``--repeats`` each (target <= 3);

Wall and CPU (``time.process_time``, all threads of the process) times are both reported:
on a shared machine the CPU time does not count waiting for a core.
* ``line_update_error``: the first-order update's largest error on a sample of kernels
  against the exact solve at the same condition, relative to the largest entry.

Example: ``python benchmarks/every_effect.py --image-size 64 --batch 16 --json -``
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings

import numpy as np
import torch

from deploy_resnet18 import resnet18
from xbarsim.chip.spec import spec_from_dict
from xbarsim.crossbar.irdrop import effective_matrix
from xbarsim.devices import ExtrapolationWarning
from xbarsim.nn.deploy import deploy_spec


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--temp-c", type=float, default=85.0)
    parser.add_argument("--age-years", type=float, default=10.0)
    parser.add_argument("--line-update", default="first-order", choices=["first-order", "exact"])
    parser.add_argument("--sample-kernels", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_path", default=None, help="'-' for stdout")
    args = parser.parse_args(argv)
    log = sys.stderr if args.json_path == "-" else sys.stdout
    warnings.simplefilter("ignore", ExtrapolationWarning)  # random weights: timing only
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    spec = spec_from_dict({
        "name": "every-effect",
        "device": {"preset": "thesis-uniformity", "stuck_ppm": 1000.0,
                   "read_noise_sigma_rel": 0.01},
        "array": {"kernel": args.kernel},
        "programming": {"algorithm": "ideal", "engine": "cpu"},
        "lines": {"preset": "paper"},
        "read_path": {"preset": "thesis", "offset_sigma_v": 0.005,
                      "offset_compensation": True, "calibration_inputs": 4},
        "mitigation": {"kind": "pair"},
        "conditions": {"nonlinearity": True, "read_noise": True,
                       "line_update": args.line_update},
    })
    calibration = torch.rand(4, 3, args.image_size, args.image_size).numpy()
    start = time.perf_counter()
    deployment = deploy_spec(resnet18(), spec, seed=args.seed, calibration_x=calibration)
    deploy_seconds = time.perf_counter() - start
    model = deployment.model
    x = torch.rand(args.batch, 3, args.image_size, args.image_size)
    age_h = args.age_years * 365.25 * 24
    layers = [m for m in model.modules() if hasattr(m, "conditions")]
    handle = deployment.periphery

    def timed() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        model(x)
        return time.perf_counter() - start, time.process_time() - cpu

    def switch(on: bool, saved: list) -> None:
        handle.set_active(on)
        for layer, conditions in zip(layers, saved, strict=True):
            layer.conditions = conditions if on else None

    every, ideal = [], []
    with torch.no_grad():
        start, cpu = time.perf_counter(), time.process_time()
        with deployment.at(temp_c=args.temp_c, age_h=age_h, seed=args.seed):
            setup_seconds = time.perf_counter() - start
            setup_cpu = time.process_time() - cpu
            saved = [layer.conditions for layer in layers]
            model(x)  # warm-up
            for _ in range(args.repeats):  # paired: every effect and ideal alternate
                switch(True, saved)
                every.append(timed())
                switch(False, saved)
                ideal.append(timed())
            switch(True, saved)
    g = deployment.crossbars().at(args.temp_c, age_h, nonlinear=False, noise=False).conductance
    key = next(k for k in deployment.cache if k[0] == "effective")
    sample = np.linspace(0, deployment.n_kernels - 1, args.sample_kernels).astype(int)
    exact = effective_matrix(g[sample], spec.lines_config())
    used = deployment.cache[key][sample]
    report = {
        "kernel": args.kernel,
        "image_size": args.image_size,
        "batch": args.batch,
        "threads": args.threads,
        "crossbars": int(deployment.n_kernels),
        "effects": [name for name, on in spec.effects().items() if on],
        "line_update": args.line_update,
        "deploy_seconds": deploy_seconds,
        "condition_setup_seconds": setup_seconds,
        "condition_setup_cpu_seconds": setup_cpu,
        "target_condition_setup_seconds_max": 20.0,
        "forward_seconds_every_effect": min(w for w, _ in every),
        "forward_seconds_ideal_analog": min(w for w, _ in ideal),
        "forward_ratio": min(w for w, _ in every) / min(w for w, _ in ideal),
        "forward_ratio_cpu": min(c for _, c in every) / min(c for _, c in ideal),
        "target_forward_ratio_max": 3.0,
        "line_update_error": float(np.abs(used - exact).max() / np.abs(exact).max()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    for key_, value in report.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{key_:>36}: {text}", file=log)
    if args.json_path == "-":
        print(json.dumps(report, indent=2))
    elif args.json_path:
        with open(args.json_path, "w") as fh:
            fh.write(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()

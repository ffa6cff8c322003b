"""Inference cost of operating conditions on a deployed ResNet-18-sized network.

The ResNet-18 layout of ``deploy_resnet18.py`` (random weights, 11.7 M weights, 64x64
kernels) is deployed with exact loading (``algorithm=None``: programming is not what is
timed), then the same inputs run (a) ideally on the programmed conductances and (b) inside
``deployment.at(temp_c, age_h)`` with temperature, retention, the I-V nonlinearity (thesis
polynomial: one extra product) and read noise (one extra product; after a ReLU the two are
one product of twice the width), paired: inside each
context the layers' condition path is switched off and on in turn (ideal = the same model
without it), best of ``--repeats`` each. The ratio (b)/(a) is the figure of merit
(target <= 2). With ``--threads 1`` torch computes on the calling thread, so its CPU time
(``time.thread_time``) is reported too (``*_cpu`` keys): it does not count time the thread
waits for a core, the robust figure on a shared machine. ``--device cuda`` times the model
on a GPU (wall time after synchronizing). Entering the context (conductances
at the conditions, bases per layer) is a one-time cost, reported apart.
Inputs of a random network exceed the nonlinearity's fitted 0.1 V; those warnings are
silenced here (timing, not accuracy, is measured). Four variants are timed in one run:
temperature and age only (conductances changed once on entry), + nonlinearity, + read
noise, and all.

Example: ``python benchmarks/conditions.py --image-size 224 --batch 1 --json -``
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings

import torch

from deploy_resnet18 import resnet18
from xbarsim.devices import ExtrapolationWarning, device_config_from_dict
from xbarsim.mapping import ChipConfig
from xbarsim.nn.deploy import program_model


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--temp-c", type=float, default=85.0)
    parser.add_argument("--age-years", type=float, default=10.0)
    parser.add_argument("--read-noise", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="torch device of the model (cpu, cuda)")
    parser.add_argument("--json", dest="json_path", default=None, help="'-' for stdout")
    args = parser.parse_args(argv)
    log = sys.stderr if args.json_path == "-" else sys.stdout
    warnings.simplefilter("ignore", ExtrapolationWarning)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = device_config_from_dict(
        {
            "preset": "thesis-uniformity",
            "conditions": {"read_noise": {"sigma_rel": args.read_noise}},
        }
    )
    chip = ChipConfig(device=device, kernel=args.kernel, algorithm=None, engine="cpu")
    start = time.perf_counter()
    deployment = program_model(resnet18(), chip, seed=args.seed)
    deployment.crossbars()
    deploy_seconds = time.perf_counter() - start
    x = torch.randn(args.batch, 3, args.image_size, args.image_size, device=args.device)
    model = deployment.model.to(args.device)
    cuda = torch.device(args.device).type == "cuda"
    age_h = args.age_years * 365.25 * 24
    variants = {
        "temperature_age": {"nonlinear": False, "noise": False},
        "temperature_age_nonlinearity": {"nonlinear": True, "noise": False},
        "temperature_age_noise": {"nonlinear": False, "noise": True},
        "all": {"nonlinear": True, "noise": True},
    }

    layers = [m for m in model.modules() if hasattr(m, "conditions")]

    def timed() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.thread_time()
        model(x)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start, time.thread_time() - cpu

    seconds: dict[str, float] = {}
    entry: dict[str, float] = {}
    ideal: dict[str, float] = {}
    cpu_ratio: dict[str, float] = {}
    with torch.no_grad():
        out_ideal = model(x)  # warm-up
        for name, flags in variants.items():
            start = time.perf_counter()
            with deployment.at(temp_c=args.temp_c, age_h=age_h, seed=args.seed, **flags):
                entry[name] = time.perf_counter() - start
                saved = [layer.conditions for layer in layers]
                out_hot = model(x)
                hot, base = [], []
                for _ in range(args.repeats):  # paired: ideal and conditions alternate
                    for layer in layers:
                        layer.conditions = None
                    base.append(timed())
                    for layer, conditions in zip(layers, saved, strict=True):
                        layer.conditions = conditions
                    hot.append(timed())
                seconds[name] = min(wall for wall, _ in hot)
                ideal[name] = min(wall for wall, _ in base)
                cpu_ratio[name] = min(cpu for _, cpu in hot) / min(cpu for _, cpu in base)
    ideal_seconds = min(ideal.values())
    report = {
        "kernel": args.kernel,
        "image_size": args.image_size,
        "batch": args.batch,
        "threads": args.threads,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "repeats": args.repeats,
        "crossbars": int(deployment.n_kernels),
        "temp_c": args.temp_c,
        "age_years": args.age_years,
        "read_noise_sigma_rel": args.read_noise,
        "nonlinearity": device.conditions.nonlinearity.kind,
        "deploy_and_state_seconds": deploy_seconds,
        "context_entry_seconds": entry["all"],
        "ideal_forward_seconds": ideal_seconds,
        **{f"forward_seconds_{name}": value for name, value in seconds.items()},
        **{f"ratio_{name}": value / ideal[name] for name, value in seconds.items()},
        "ratio_conditions_over_ideal": seconds["all"] / ideal["all"],
        **({f"ratio_{name}_cpu": value for name, value in cpu_ratio.items()}
           if args.threads == 1 and not cuda else {}),
        "target_ratio_max": 2.0,
        "outputs_differ": bool(not torch.equal(out_ideal, out_hot)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    for key, value in report.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{key:>28}: {text}", file=log)
    if args.json_path == "-":
        print(json.dumps(report, indent=2))
    elif args.json_path:
        with open(args.json_path, "w") as fh:
            fh.write(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()

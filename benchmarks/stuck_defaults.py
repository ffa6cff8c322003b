"""Stuck devices on the default chip spec: accuracy per instance, before and after.

A 64-32-10 MLP trained on sklearn digits (30 epochs, seed 0) is deployed with
``deploy(model, spec)`` on ``--instances`` chip instances of the default spec (64 x 64
kernels, the paper's device population, thesis write-verify with the stuck-device rule) with
no and with ``--ppm`` stuck devices, without and with the mitigations, under four
programming settings: the default (kernel padding left alone, two touch-up passes at
1.6 V), each of the two measures alone, and neither (the previous default). Also, for the
default: the stuck devices left alone as well (a known-stuck pre-test that needed no pulse:
the bound on what any earlier stuck decision can gain).

Prints per setting the accuracy per instance, mean and standard deviation, the gap to the
stuck-free chip, the fraction of it each mitigation recovers, the write pulses of the
main programming run and the median wall time per deployment; ``--json PATH`` (``-`` for
stdout) writes them.

Example: ``python benchmarks/stuck_defaults.py --instances 16``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

from xbarsim.chip.spec import ChipSpec, DeviceSpec, MitigationSpec, ProgrammingSpec
from xbarsim.crossbar import Crossbar
from xbarsim.nn import accuracy, deploy_spec, load_digits, seeded, torch_threads, train
from xbarsim.nn.program import tune
from xbarsim.nn.record import kernel_padding
from xbarsim.nn.training import mlp
from xbarsim.programming import StuckDevicesWarning

#: Programming settings compared: name -> (tune_padding, touch_up_passes).
SETTINGS = {
    "default (padding left alone, touch-up)": (False, 2),
    "padding left alone, no touch-up": (False, 0),
    "padding tuned, touch-up": (True, 2),
    "previous default (padding tuned, no touch-up)": (True, 0),
}


def _spec(ppm: float, mitigation: str, tune_padding: bool = False, touch_up: int = 2
          ) -> ChipSpec:
    return ChipSpec(
        device=DeviceSpec(stuck_ppm=ppm),
        programming=ProgrammingSpec(
            engine="cpu", tune_padding=tune_padding, touch_up_passes=touch_up
        ),
        mitigation=MitigationSpec(kind=mitigation, calibration_images=300),
    )


def _known_stuck_left_alone(model, spec: ChipSpec, seed: int, data) -> tuple[float, int]:
    """Accuracy and pulses when the padding and the stuck devices get no pulse."""
    dep = deploy_spec(model, _spec(0.0, "none"), seed)  # records, targets
    chip = spec.chip_config()
    xbars = Crossbar.sample(chip.device, (chip.kernel, chip.kernel), dep.n_kernels, seed)
    skip = kernel_padding(dep.layers, dep.n_kernels, chip.kernel) | (xbars.fault >= 2)
    run = tune(chip, xbars, dep.targets, skip)
    dep.load_conductances(run.conductance)
    return accuracy(dep.model, data.x_test, data.y_test), run.total_pulses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=16)
    parser.add_argument("--ppm", type=float, default=1e4)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore", StuckDevicesWarning)
    data = load_digits(seed=0, binarize_threshold=None)
    with torch_threads(1):
        with seeded(0):
            model = mlp(64, 32, 10)
        train(model, data, epochs=30, lr=1e-2, batch_size=100, seed=0, threads=1)
        software = accuracy(model, data.x_test, data.y_test)
        out: dict[str, object] = {
            "software_accuracy": software, "instances": args.instances, "ppm": args.ppm,
            "load_average": os.getloadavg()[0], "configs": {},
        }
        deploy_spec(model, _spec(0.0, "none"), 0)  # compile the engine
        for name, (pad, touch) in SETTINGS.items():
            rows: dict[str, dict[str, object]] = {}
            for label, ppm, kind in (("clean", 0.0, "none"), ("stuck", args.ppm, "none"),
                                     ("pair", args.ppm, "pair"),
                                     ("pair+column", args.ppm, "pair+column")):
                accs, pulses, wall = [], [], []
                for seed in range(args.instances):
                    t0 = time.perf_counter()
                    dep = deploy_spec(model, _spec(ppm, kind, pad, touch), seed,
                                      calibration_x=data.x_train)
                    wall.append(time.perf_counter() - t0)
                    accs.append(accuracy(dep.model, data.x_test, data.y_test))
                    pulses.append(dep.result.total_pulses)
                rows[label] = {"accuracy": accs, "pulses": float(np.mean(pulses)),
                               "wall_s": float(np.median(wall))}
            if (pad, touch) == (False, 2):
                accs, pulses = zip(*(_known_stuck_left_alone(model, _spec(args.ppm, "none"),
                                                             s, data)
                                     for s in range(args.instances)), strict=True)
                rows["stuck, known and left alone"] = {"accuracy": list(accs),
                                                       "pulses": float(np.mean(pulses))}
            clean = np.mean(rows["clean"]["accuracy"])
            gap = clean - np.mean(rows["stuck"]["accuracy"])
            summary = {"gap_points": 100 * gap}
            for kind in ("pair", "pair+column"):
                summary[f"{kind}_recovers"] = (
                    np.mean(rows[kind]["accuracy"]) - np.mean(rows["stuck"]["accuracy"])) / gap
            out["configs"][name] = {"rows": rows, "summary": summary}
            print(f"== {name}")
            for label, row in rows.items():
                a = 100 * np.array(row["accuracy"])
                print(f"  {label:28s} {a.mean():5.1f} +/- {a.std():4.1f} %  "
                      f"min {a.min():4.1f}  pulses {row['pulses'] / 1e6:.2f} M  "
                      f"{1e3 * row.get('wall_s', float('nan')):4.0f} ms  "
                      f"per instance {' '.join(f'{x:.1f}' for x in a)}")
            print("  " + ", ".join(f"{k} {v:.2f}" for k, v in summary.items()))
    if args.json:
        text = json.dumps(out, indent=1)
        if args.json == "-":
            sys.stdout.write(text + "\n")
        else:
            with open(args.json, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")


if __name__ == "__main__":
    main()

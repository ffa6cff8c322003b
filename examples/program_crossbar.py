"""Sample a batch of TiO2 crossbars, program random targets with write-verify, read a VMM.

    python examples/program_crossbar.py            # 20 crossbars of 64 x 64
    python examples/program_crossbar.py --small    # 2 crossbars of 16 x 16 (seconds)
"""

from __future__ import annotations

import argparse

import numpy as np

import xbarsim as xs


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="tiny sizes (for the tests)")
    args = parser.parse_args(argv)
    size, batch = (16, 2) if args.small else (64, 20)

    device = xs.devices.preset("tio2-64x64-paper")
    xbars = xs.Crossbar.sample(device, shape=(size, size), batch=batch, seed=1)
    targets = np.random.default_rng(0).uniform(10e-6, 100e-6, (size, size))  # siemens
    run = xs.program(xbars, targets, xs.WriteVerify.paper(), engine="auto")
    currents = xbars.vmm(np.full(size, 0.1))  # amperes at 0.1 V on every row
    out = {
        "mean_tuning_error": float(run.error.mean()),
        "within_5pct": float(run.within(0.05)),
        "pulses": float(run.total_pulses),
        "mean_column_current_a": float(np.mean(currents)),
    }
    for key, value in out.items():
        print(f"{key}: {value:.4g}")
    return out


if __name__ == "__main__":
    main()

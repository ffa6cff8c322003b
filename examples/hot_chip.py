"""Operating conditions: the same programmed crossbars read hot, aged and with stuck devices.

    python examples/hot_chip.py            # 4 crossbars of 64 x 64
    python examples/hot_chip.py --small    # 1 crossbar of 16 x 16 (seconds)
"""

from __future__ import annotations

import argparse

import numpy as np

import xbarsim as xs


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="tiny sizes (for the tests)")
    args = parser.parse_args(argv)
    size, batch = (16, 1) if args.small else (64, 4)

    device = xs.devices.device_config_from_dict({
        "preset": "tio2-64x64-paper",
        "conditions": {"stuck": {"high_ppm": 1e4}, "read_noise": {"sigma_rel": 0.01}},
    })
    xbars = xs.Crossbar.sample(device, (size, size), batch=batch, seed=1)
    targets = np.random.default_rng(0).uniform(10e-6, 100e-6, (size, size))  # siemens
    xs.program(xbars, targets, xs.WriteVerify.thesis(), engine="auto")
    v = np.full(size, 0.1)  # volts
    room = xbars.vmm(v)
    hot = xbars.at(temp_c=85.0, age_h=25.0, bake_c=100.0)  # read-only view, same devices
    change = float(np.mean(np.abs(hot.vmm(v) - room) / np.abs(room)))
    print(f"mean relative change of the column currents at 85 degC after a 25 h bake: "
          f"{change:.3%}")
    return {"relative_change": change}


if __name__ == "__main__":
    main()

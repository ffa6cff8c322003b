"""Train a small MLP on the bundled digits, deploy it on a simulated chip, compare accuracy.

    python examples/deploy_network.py            # 64 x 64 kernels, 30 epochs
    python examples/deploy_network.py --small    # 16 x 16 kernels, 2 epochs (seconds)
"""

from __future__ import annotations

import argparse

import xbarsim as xs
from xbarsim.nn import deploy
from xbarsim.nn.data import load_digits
from xbarsim.nn.training import accuracy, mlp, seeded, train


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="tiny sizes (for the tests)")
    args = parser.parse_args(argv)
    kernel, epochs = (16, 2) if args.small else (64, 30)

    data = load_digits(seed=0, binarize_threshold=None)
    with seeded(0):
        model = mlp(64, 32, 10)
    train(model, data, epochs=epochs, seed=0)
    chip = xs.ChipConfig(device=xs.devices.preset("tio2-64x64-paper"), kernel=kernel,
                         algorithm=xs.WriteVerify.thesis())
    analog = deploy(model, chip, seed=0)  # programs every kernel, then runs on them
    out = {"software": accuracy(model, data.x_test, data.y_test),
           "chip": accuracy(analog, data.x_test, data.y_test)}
    print(f"software accuracy {out['software']:.3f}, on the chip {out['chip']:.3f}")
    return out


if __name__ == "__main__":
    main()

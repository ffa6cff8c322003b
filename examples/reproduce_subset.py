"""Reproduce two experiments of the source documents and build the report page, from Python.

    python examples/reproduce_subset.py --out runs/example             # quick settings
    python examples/reproduce_subset.py --small --out runs/example     # tiny (seconds)

The command line equivalent: ``xbarsim reproduce --quick --only P2,T10 --out DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xbarsim.reproduce import run_reproduce, write_report


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="tiny sizes (for the tests)")
    parser.add_argument("--out", type=Path, default=Path("runs/example"))
    args = parser.parse_args(argv)
    tiny = {"P2_thresholds": {"size": 8, "instances": 2},
            "T10_11_retention": {"instances": 2}}
    run_reproduce("quick", args.out / "store", only=["P2", "T10"], seed=0,
                  settings=tiny if args.small else None)
    summary = write_report(args.out / "store", args.out / "report.html",
                           args.out / "summary.json")
    for row in summary:
        if row["ours_mean"] is None:
            continue
        ours = f"ours {row['ours_mean']:.4g} ± {row['ours_std']:.2g} (n={row['n']})"
        if row["rule"] in ("value", "readback"):  # a published number beside ours
            compared = f"published {row['published']}, {ours}"
        else:  # a published statement (its numbers are in the label): ours tests it
            compared = f"statement '{row['label']}', {ours}"
        print(f"{row['id']} {row['quantity']}: {compared} -> {row['verdict']}")
    print(args.out / "report.html")
    return summary


if __name__ == "__main__":
    main()

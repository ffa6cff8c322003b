"""Layer 7, above :mod:`xbarsim.experiments`: every reproduced experiment in one run.

* :mod:`xbarsim.reproduce.runner`: the registry of built experiments (their published
  quantities, settings and jobs), the Parquet store, the summary rows and the page.
* :mod:`xbarsim.reproduce.jobs`, :mod:`~xbarsim.reproduce.jobs_chip` and
  :mod:`~xbarsim.reproduce.jobs_devices`: the jobs, each a call of one experiment module's
  library entry point returning rows.

The verdict rules are :mod:`xbarsim.report.verdicts`. ``experiments`` and ``report`` never
import this package.
"""

from xbarsim.reproduce.runner import (
    EXPERIMENTS,
    load_settings,
    read_store,
    run_reproduce,
    select,
    summarize,
    write_report,
)

__all__ = ["EXPERIMENTS", "load_settings", "read_store", "run_reproduce", "select",
           "summarize", "write_report"]

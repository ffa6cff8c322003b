"""Layer 7: parameter sweeps on dask.distributed with a Parquet results store."""

from xbarsim.sweeps.config import SweepConfig, load_sweep_config, sweep_config_from_dict
from xbarsim.sweeps.runner import Task, plan, run_sweep
from xbarsim.sweeps.store import ResultStore, read_results

__all__ = [
    "ResultStore",
    "SweepConfig",
    "Task",
    "load_sweep_config",
    "plan",
    "read_results",
    "run_sweep",
    "sweep_config_from_dict",
]

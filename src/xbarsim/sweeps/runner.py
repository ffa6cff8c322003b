"""Run a sweep grid on dask.distributed (or in process) into a Parquet results store.

A *task* is one grid point and a block of crossbar pairs (with every weight set). Each
instance is seeded from the master seed, a hash of its point's canonical parameters and
its instance indices (:mod:`xbarsim.seeding`, :mod:`xbarsim.experiments.vmm_study`), so
the rows are identical for any number of workers, any ``crossbars_per_task`` and any
grid the point sits in. The client writes each finished task as one
Parquet part (atomically), so an interrupted sweep loses only unfinished tasks and
``resume`` runs exactly those.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.cluster import collect, connect
from xbarsim.experiments.vmm_study import VmmCase, run_instances
from xbarsim.programming.engine import resolve_engine
from xbarsim.progress import progress_bar
from xbarsim.sweeps.config import SweepConfig
from xbarsim.sweeps.store import ResultStore


@dataclass(frozen=True)
class Task:
    """One unit of work: ``count`` crossbar pairs from ``first`` of grid point ``case``."""

    case: VmmCase
    first: int
    count: int

    @property
    def key(self) -> str:
        """File-name-safe identifier, unique within a sweep."""
        c = self.case
        return (
            f"N{c.size}-s{c.sigma!r}-t{c.target!r}-{c.algorithm}-"
            f"x{self.first}-{self.first + self.count}"
        )


def plan(config: SweepConfig) -> list[Task]:
    """All tasks of a sweep, in grid order."""
    per = config.crossbars_per_task or config.crossbars
    return [
        Task(case, first, min(per, config.crossbars - first))
        for case in config.cases()
        for first in range(0, config.crossbars, per)
    ]


def run_task(case: VmmCase, first: int, count: int, seed: int, engine: str) -> list[dict]:
    """Worker entry point: the result rows of one task."""
    return run_instances(case, seed, first, count, engine=engine)


def run_sweep(
    config: SweepConfig,
    workers: int = 0,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = False,
    on_part: Callable[[Path], None] | None = None,
) -> ResultStore:
    """Run every unfinished task of ``config`` and store the results.

    Parameters
    ----------
    config : SweepConfig
    workers : int
        Local worker processes (one thread each); 0 runs the tasks in this process,
        serially, without dask. Ignored with ``scheduler``.
    scheduler : str, optional
        Address of an existing dask scheduler (``tcp://HOST:PORT``).
    resume : bool
        Continue a results directory that already holds parts (skip finished tasks).
    progress : bool
        Show a progress bar with ETA.
    on_part : callable, optional
        Called with the path of each part once it is written.

    Returns
    -------
    ResultStore

    Raises
    ------
    XbarsimInputError
        Invalid ``workers``, a results path that is not a dataset of this study, or an
        unreachable scheduler; nothing is written then.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise XbarsimInputError(f"workers: must be an integer >= 0, got {workers!r}")
    store = ResultStore(config.results)
    meta = config.study_meta()
    store.check(meta, resume)
    resolve_engine(config.engine)
    done = store.finished() if resume else set()
    tasks = [t for t in plan(config) if t.key not in done]
    client = cluster = None
    if tasks and (scheduler is not None or workers > 0):
        client, cluster = connect(scheduler, workers)
    created, fresh = not store.path.exists(), not store.meta_path.exists()
    try:
        store.init(meta)
        with progress_bar(len(tasks), "sweep", progress) as advance:
            if client is None:
                for task in tasks:
                    rows = run_task(task.case, task.first, task.count, config.seed, config.engine)
                    _finish(store, task, rows, on_part)
                    advance(1)
            else:
                run_id = uuid.uuid4().hex[:12]
                futures = {
                    client.submit(
                        run_task,
                        t.case,
                        t.first,
                        t.count,
                        config.seed,
                        config.engine,
                        key=f"xbarsim-{run_id}-{t.key}",
                        pure=False,
                    ): t
                    for t in tasks
                }
                for task, rows in collect(client, futures, lambda t: f"sweep task {t.key}"):
                    _finish(store, task, rows, on_part)
                    advance(1)
    except BaseException:
        if fresh and not store.parts():
            store.remove_empty(remove_dir=created)
        raise
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    return store


def _finish(
    store: ResultStore, task: Task, rows: list[dict], on_part: Callable[[Path], None] | None
) -> None:
    path = store.write_part(task.key, rows)
    if on_part is not None:
        on_part(path)

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

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from xbarsim.errors import XbarsimInputError, XbarsimRunError
from xbarsim.experiments.vmm_study import VmmCase, run_instances
from xbarsim.programming.engine import resolve_engine
from xbarsim.progress import progress_bar
from xbarsim.sweeps.config import SweepConfig
from xbarsim.sweeps.store import ResultStore

#: Seconds to wait for an existing scheduler before giving up.
CONNECT_TIMEOUT_S = 5.0
#: Seconds a run may wait with unfinished tasks and no worker before giving up.
NO_WORKER_TIMEOUT_S = 60.0
#: Polling period while waiting for results (s).
POLL_S = 0.25


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


def connect(scheduler: str | None, workers: int):
    """A dask client on ``scheduler`` or on a new local process cluster of ``workers``.

    Returns ``(client, cluster)``; ``cluster`` is None for an existing scheduler.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT_S), None
        except (OSError, TimeoutError, ValueError) as exc:
            reason = " ".join(str(exc).split())[:160]
            raise XbarsimInputError(
                f"scheduler: cannot reach {scheduler} within {CONNECT_TIMEOUT_S:g} s ({reason})"
            ) from None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        worker_dashboard_address=None,
        env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        silence_logs=logging.CRITICAL,  # shutdown heartbeat noise; task errors still raise
    )
    return Client(cluster), cluster


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:240] if text else type(exc).__name__


def collect(
    client,
    futures: dict,
    describe: Callable[[object], str],
    no_worker_timeout_s: float = NO_WORKER_TIMEOUT_S,
) -> Iterator[tuple[object, object]]:
    """Yield ``(label, result)`` for each of ``futures`` (future -> label) as it finishes.

    Raises
    ------
    XbarsimRunError
        One line naming the task (``describe(label)``) and the reason when a task fails
        or is killed with its worker too often (Dask's ``KilledWorker``), or when no
        worker is left for ``no_worker_timeout_s`` seconds with tasks unfinished.
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    pending = as_completed(futures)
    left = len(futures)
    idle_since: float | None = None
    while left:
        batch = pending.next_batch(block=False)
        for future in batch:
            label = futures[future]
            try:
                result = future.result()
            except KilledWorker as exc:
                worker = getattr(exc, "last_worker", None)
                where = f" (last on {getattr(worker, 'address', worker)})" if worker else ""
                raise XbarsimRunError(
                    f"{describe(label)}: its worker died every time it ran it{where}, e.g. "
                    "killed for memory; finished results are kept"
                ) from None
            except XbarsimInputError:
                raise
            except Exception as exc:
                reason = _brief(exc)
                raise XbarsimRunError(f"{describe(label)}: failed on a worker: {reason}") from None
            left -= 1
            yield label, result
        if batch:
            idle_since = None
            continue
        if client.nthreads():
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > no_worker_timeout_s:
            raise XbarsimRunError(
                f"scheduler: no Dask worker left for {no_worker_timeout_s:g} s with {left} "
                "task(s) unfinished; start workers and rerun (a sweep resumes with --resume)"
            )
        time.sleep(POLL_S)


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

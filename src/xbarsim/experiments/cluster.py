"""Jobs on dask.distributed: connect to a cluster and collect results (layer 7).

:func:`connect` starts a local process cluster or reaches an existing scheduler;
:func:`collect` yields results as they finish and turns a lost worker or a failed task into
one line naming the task. Studies (:mod:`xbarsim.experiments.chapter2`,
:mod:`xbarsim.experiments.network_study`) and sweeps (:mod:`xbarsim.sweeps.runner`) share
them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from xbarsim.errors import XbarsimInputError, XbarsimRunError

#: Seconds to wait for an existing scheduler before giving up.
CONNECT_TIMEOUT_S = 5.0
#: Seconds a run may wait with unfinished tasks and no worker before giving up.
NO_WORKER_TIMEOUT_S = 60.0
#: Polling period while waiting for results (s).
POLL_S = 0.25


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

"""A lost Dask worker, a failing task and a cluster without workers each end in one line."""

from __future__ import annotations

import logging
import os

import dask
import pytest

from xbarsim.errors import XbarsimRunError
from xbarsim.experiments.cluster import collect

distributed = pytest.importorskip("distributed")


def _die() -> int:
    os._exit(1)


def _fail() -> int:
    raise ValueError("bad weights")


def _ok(x: int) -> int:
    return 2 * x


@pytest.fixture(scope="module")
def client():
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        )
        with distributed.Client(cluster) as c:
            yield c
        cluster.close()


def test_results_come_back_with_their_labels(client) -> None:
    futures = {client.submit(_ok, k, pure=False): f"t{k}" for k in range(4)}
    assert dict(collect(client, futures, str)) == {f"t{k}": 2 * k for k in range(4)}


def test_killed_worker_is_one_line_naming_the_task(client) -> None:
    futures = {client.submit(_die, pure=False): "N64-x0-1"}
    with pytest.raises(XbarsimRunError, match="sweep task N64-x0-1: its worker died") as info:
        list(collect(client, futures, lambda t: f"sweep task {t}"))
    assert "\n" not in str(info.value)
    client.wait_for_workers(1, timeout=30)


def test_failing_task_is_one_line(client) -> None:
    futures = {client.submit(_fail, pure=False): "N4-x1-2"}
    with pytest.raises(
        XbarsimRunError, match="task N4-x1-2: failed on a worker: ValueError: bad weights"
    ):
        list(collect(client, futures, lambda t: f"task {t}"))


def test_no_workers_gives_up_after_the_timeout() -> None:
    with (
        distributed.LocalCluster(
            n_workers=0, processes=False, dashboard_address=":0", silence_logs=logging.CRITICAL
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        futures = {c.submit(_ok, 1, pure=False): "a", c.submit(_ok, 2, pure=False): "b"}
        with pytest.raises(XbarsimRunError, match=r"no Dask worker left for 0.5 s with 2 task"):
            list(collect(c, futures, str, no_worker_timeout_s=0.5))

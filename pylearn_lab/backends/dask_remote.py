"""The dask side of :class:`~pylearn_lab.backends.dask_backend.DaskBackend`.

Small pieces that let the ipyparallel backend's data plane run unchanged on
dask.distributed workers:

* :class:`EngineTag` -- a worker plugin that sets ``PYLEARN_ENGINE_ID`` to the
  worker's name on every worker, including workers that join or restart later,
  so receipts and lineage say ``engine 0`` as they do on ipyparallel;
* :class:`WorkerView` -- presents a ``distributed.Client`` with the two things
  :class:`~pylearn_lab.backends.ipp.store.StoreProbe` asks of a cluster
  (``ids`` and ``client[ids].apply_async(fn, arg).get(timeout)``), so the same
  token probe decides whether workers see the cache directory.

Workers load this module when they unpickle the plugin; the client only when a
DaskBackend exists (``import pylearn_lab`` never imports distributed).

Examples
--------
>>> import os
>>> class FakeWorker:
...     name = 3
>>> EngineTag().setup(FakeWorker())
>>> os.environ.pop("PYLEARN_ENGINE_ID")
'3'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["EngineTag", "WorkerView", "worker_addresses"]


class EngineTag(WorkerPlugin):
    """Worker plugin: ``PYLEARN_ENGINE_ID = worker.name`` in every worker process.

    The scheduler keeps one plugin per name and hands it to workers that join
    later, so registering it twice replaces it.
    """

    name = "pylearn-engine-tag"

    def setup(self, worker: Any) -> None:
        os.environ["PYLEARN_ENGINE_ID"] = str(worker.name)

    def teardown(self, worker: Any) -> None:
        os.environ.pop("PYLEARN_ENGINE_ID", None)


def worker_addresses(client: Any) -> list[str]:
    """Addresses of the workers the scheduler knows right now (sorted).

    Uses the client's copy of the scheduler's state, refreshed in the
    background: it never blocks on a dead scheduler.
    """
    try:
        info = client.scheduler_info()
    except Exception:
        return []
    return sorted((info or {}).get("workers", {}))


class _Answers:
    def __init__(self, client: Any, workers: list[str], fn: Callable[..., Any],
                 args: tuple[Any, ...]) -> None:
        self._client, self._workers, self._fn, self._args = client, workers, fn, args

    def get(self, timeout: float) -> list[Any]:
        out = self._client.run(self._fn, *self._args, workers=self._workers,
                               wait=True, on_error="raise")
        # client.run has no timeout of its own; StoreProbe runs it in a run's loop thread,
        # and a worker that does not answer raises (dask's comm timeout) -> no verdict.
        return [out[w] for w in self._workers]


class _Targets:
    def __init__(self, client: Any, workers: list[str]) -> None:
        self._client, self._workers = client, workers

    def apply_async(self, fn: Callable[..., Any], *args: Any) -> _Answers:
        return _Answers(self._client, self._workers, fn, args)


class WorkerView:
    """``client.ids`` / ``client[ids].apply_async(...).get()`` over a dask Client.

    Ids are the worker indices in the sorted address list at the time of the
    call; :class:`StoreProbe` memoises its verdict per set of ids, so a new or
    restarted worker (a new address) is asked again.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def ids(self) -> list[str]:
        return worker_addresses(self.client)

    def __getitem__(self, ids: list[str]) -> _Targets:
        return _Targets(self.client, list(ids))

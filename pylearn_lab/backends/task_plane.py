"""The task plane of a backend that sends the VM's executor with the node keys named.

dask and the Postgres queue run a VM task as any other callable -- the VM's
``execute`` (one node) or ``execute_batch`` (a group) -- but they want to know
*which nodes* a call computes: to report a task that a worker cannot even
unpickle as those nodes' error, to merge equal jobs, to learn how long each
function takes. :class:`KeyedPlane` is that knowledge, kept out of their
``submit``: the VM hands it the tasks, it hands the backend's
``_send_tasks(fn, args, keys, tasks)`` the callable and the keys.

Examples
--------
>>> import concurrent.futures as cf
>>> from pylearn_lab.graph.nodes import Call
>>> from pylearn_lab.vm.task import Task
>>> class Inline:
...     def sees_store(self, cache):
...         return False
...     def _send_tasks(self, fn, args, keys, tasks):
...         f = cf.Future(); f.set_result((keys, fn(*args))); return f
>>> plane = KeyedPlane(Inline())
>>> keys, receipt = plane.submit_tasks([Task(Call(abs, (-2,), {}, "k" * 32, "abs"),
...                                          return_value=True)]).result()
>>> keys == ["k" * 32], receipt.value
(True, 2)
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any

__all__ = ["KeyedPlane"]


class KeyedPlane:
    """A :class:`~pylearn_lab.backends.capabilities.TaskPlane` over a backend with
    ``sees_store(cache)`` and ``_send_tasks(fn, args, keys, tasks) -> Future``."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def sees_store(self, cache: Any) -> bool:
        """The backend's own ``sees_store`` (looked up at call time)."""
        return bool(self._backend.sees_store(cache))

    def submit_tasks(self, tasks: list[Any]) -> cf.Future:
        """``execute_batch(tasks)`` (``execute`` for one) through the backend, keys named."""
        from ..vm.task import execute, execute_batch

        fn, arg = (execute_batch, tasks) if len(tasks) > 1 else (execute, tasks[0])
        return self._backend._send_tasks(fn, (arg,), [t.call.key for t in tasks], tasks)

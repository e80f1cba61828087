"""A real backend with a window, for the VM's window tests.

Four threads run each call after a cloudpickle round trip, as a cluster's
workers would; it reports ``max_pending=window`` and records the most futures
it had outstanding. Submissions whose numbers are in ``lose`` lose their
worker (a ``ConnectionError``, as a dead engine's future would bring).
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from typing import Any

import cloudpickle

from pylearn_lab.backends import Backend
from pylearn_lab.backends.capabilities import Capabilities


class Windowed(Backend):
    """4 threads, a window of ``window`` submissions (None: no window)."""

    name = "windowed"

    def __init__(self, window: int | None, lose: set[int] = frozenset()) -> None:
        self.pool = cf.ThreadPoolExecutor(4)
        self.window, self.lose = window, set(lose)
        self.outstanding = self.most = self.sent = 0
        self.lock = threading.Lock()

    def capabilities(self) -> Capabilities:
        return Capabilities(in_process=False, workers=4, max_pending=self.window)

    def submit(self, fn: Any, *args: Any) -> cf.Future:
        payload = cloudpickle.dumps((fn, args))
        with self.lock:
            self.outstanding += 1
            self.sent += 1
            n = self.sent
            self.most = max(self.most, self.outstanding)
        lost = n in self.lose

        def on_worker() -> Any:
            if lost:
                time.sleep(0.01)
                raise ConnectionError(f"worker of submission {n} lost on purpose")
            f, a = cloudpickle.loads(payload)
            return cloudpickle.loads(cloudpickle.dumps(f(*a)))

        fut = self.pool.submit(on_worker)
        fut.add_done_callback(self._done)
        return fut

    def _done(self, _f: cf.Future) -> None:
        with self.lock:
            self.outstanding -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=True)

"""The client-side future every cluster backend returns, and what they share around it.

A cluster backend (ipyparallel, dask) hands the VM one
:class:`concurrent.futures.Future` per submission, settled from another
thread -- a socket callback, a watchdog, a retry on another engine -- and
possibly by two of them racing (a timeout and a late result, a lost engine
and its last answer). :class:`RemoteFuture` is that future: it is settled
*once*; later settlements are dropped, never raised. :func:`relay` passes
an inner future's outcome on, :func:`failed` is a future failed at once.

Examples
--------
>>> f = RemoteFuture()
>>> f._settle(result=1); f._settle(error=RuntimeError("late"))
>>> f.result()
1
>>> type(failed(KeyError("k")).exception()).__name__
'KeyError'
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from collections.abc import Callable
from typing import Any

import cloudpickle


__all__ = ["RemoteFuture", "close_client_and_cluster", "failed", "relay", "settle"]


class RemoteFuture(cf.Future):
    """A future settled once, from any thread: the first result, error or cancel wins."""

    def _settle(self, result: Any = None, error: BaseException | None = None) -> None:
        """Set ``error`` (if given) or ``result``, unless the future is already done."""
        settle(self, result, error)

    def settle_pickled(self, inner: Any, on_result: Callable[[Any], None] | None = None) -> None:
        """Settle from a finished cluster future whose result is ``call_pickled``'s
        bytes: its error, or the unpickled value (first shown to ``on_result``)."""
        try:
            exc = inner.exception()
            if exc is not None:
                self._settle(error=exc)
                return
            result = cloudpickle.loads(inner.result())
            if on_result is not None:
                on_result(result)
            self._settle(result=result)
        except BaseException as exc:  # an unreadable result fails the task, not the thread
            self._settle(error=exc)


def settle(fut: cf.Future, result: Any = None, error: BaseException | None = None) -> None:
    """Set ``error`` (if given) or ``result`` on any future, unless it is already done
    (cancelled by the run, or settled by whoever came first): then nobody waits for it."""
    if fut.done():
        return
    try:
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)
    except cf.InvalidStateError:  # lost a race between done() and set_*
        pass


def relay(inner: cf.Future, out: RemoteFuture) -> tuple[bool, Any]:
    """Pass a cancel or an error of the finished ``inner`` on to ``out``.

    ``(True, result)`` when ``inner`` has a result (for the caller to settle
    ``out`` with, maybe after more work); ``(False, None)`` with ``out``
    settled already otherwise.
    """
    if inner.cancelled():
        out.cancel()
        return False, None
    exc = inner.exception()
    if exc is not None:
        out._settle(error=exc)
        return False, None
    return True, inner.result()


def failed(exc: BaseException) -> cf.Future:
    """A future that has already failed with ``exc``."""
    fut: cf.Future = cf.Future()
    fut.set_exception(exc)
    return fut


def close_client_and_cluster(client: Any, owns_client: bool, stop_cluster: Callable[[], Any] | None,
                             what: str) -> None:
    """The end of a cluster backend's ``stop()``: close the client it owns, then stop the
    cluster it started (``stop_cluster``), never raising -- a stop runs at exit too."""
    if owns_client:
        try:
            client.close()
        except Exception:
            pass
    if stop_cluster is not None:
        try:
            stop_cluster()
        except Exception as exc:
            logging.getLogger(__name__).warning("stopping the %s cluster: %s", what, exc)

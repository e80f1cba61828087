"""``RunHandle``: the asynchronous result of ``run(..., wait=False)``.

A :class:`concurrent.futures.Future` (so ``result(timeout)``, ``done()`` and
``add_done_callback`` work as usual) with live ``progress`` counts and a
``cancel()`` that stops a running run: nothing new is submitted, and nodes that
already finished stay cached. When a node failed, ``result()`` raises its
:class:`~pylearn_lab.errors.NodeError`, whose ``partial`` holds the outputs
that did finish.

Examples
--------
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.vm.loop import run
>>> @component
... def one() -> int:
...     return 1
>>> h = run(one(), cache=False, wait=False)
>>> h.result(timeout=10)
1
>>> h.progress["done"]
1
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loop import _Run

__all__ = ["RunHandle"]


class RunHandle(cf.Future):
    """The future of a whole run; see the module docstring."""

    def __init__(self, state: "_Run") -> None:
        super().__init__()
        self._run = state
        self.set_running_or_notify_cancel()

    @property
    def progress(self) -> dict[str, int]:
        """Counts of nodes: total, cached, done, failed, skipped, running, queued."""
        return self._run.counts.as_dict()

    def cancel(self) -> bool:
        """Stop submitting work; the handle then raises RunCancelledError."""
        if self.done():
            return False
        self._run.cancel()
        return True

    def _finish(self, result: Any = None, exception: BaseException | None = None) -> None:
        if self.done():
            return
        if exception is not None:
            self.set_exception(exception)
        else:
            self.set_result(result)

    def __repr__(self) -> str:
        p = self.progress
        state = "finished" if self.done() else "running"
        return (f"<RunHandle {state}: {p['done']} done, {p['cached']} cached, "
                f"{p['failed']} failed, {p['running']} running, {p['queued']} queued "
                f"of {p['total']}>")

"""Stopping a run: ``RunHandle.cancel()`` and ``run(..., timeout=)``.

The loop asks :meth:`Deadline.check` once per turn. When the run was
cancelled or its time is up, the loop cancels what is in flight, releases its
claims and raises :class:`~pylearn_lab.errors.RunCancelledError`: nodes that
already finished stay cached, so running again continues where it stopped.

Examples
--------
>>> d = Deadline(timeout=None)
>>> d.check()
>>> d.cancel()
>>> d.check()
Traceback (most recent call last):
...
pylearn_lab.errors.RunCancelledError: the run was cancelled
"""

from __future__ import annotations

import threading
import time

from ..errors import RunCancelledError

__all__ = ["Deadline"]


class Deadline:
    """Cancellation flag plus the run's time limit."""

    __slots__ = ("cancelled", "timeout", "started")

    def __init__(self, timeout: float | None) -> None:
        self.cancelled = threading.Event()
        self.timeout = timeout
        self.started = time.monotonic()

    def cancel(self) -> None:
        """Ask the run to stop (from any thread)."""
        self.cancelled.set()

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def check(self) -> None:
        """Raise :class:`RunCancelledError` when cancelled or past the timeout."""
        if self.cancelled.is_set():
            raise RunCancelledError("the run was cancelled")
        if self.timeout is not None and self.elapsed() > self.timeout:
            raise RunCancelledError(
                f"the run did not finish within timeout={self.timeout} s; finished nodes "
                "are cached, run again to continue"
            )

"""Sending one task to a load-balanced view, without the per-call cost of ``apply_async``.

``view.apply_async(f, *args)`` costs the client about 0.3 ms of CPU per task
here, more than a tiny node's whole work: two signature-binding decorators
(``inspect.Signature.bind`` per call), the function re-canned every time, and
an ``AsyncResult`` with three futures of its own resolved on ipyparallel's IO
thread. One node per task pays that thousands of times (benchmark P6). A
:class:`Sender` keeps what is the same for every task of a view -- the
function pickled once (ipyparallel's ``PrePickled``, as its own ``map``
does) and the scheduler metadata of a view with default flags -- and sends
through ``Client.send_apply_request``, the call ``apply_async`` ends in. The
controller, the engine and the reply handling see exactly the same message.

What comes back is a :class:`Sent`: the parts of a one-result ``AsyncResult``
the watchdog uses (``msg_ids``, ``add_done_callback``, ``result`` and
``exception``, an engine's exception raised as ipyparallel would). When the
installed ipyparallel lacks any piece (an older or newer layout), or a view
has non-default flags, :meth:`Sender.send` uses ``apply_async`` instead:
slower, never different.

Examples
--------
>>> import concurrent.futures as cf
>>> f = cf.Future(); f.msg_id = "m1"; sent = Sent(f)
>>> f.set_result(ValueError("remote"))  # ipyparallel stores an engine's error as the result
>>> type(sent.exception()).__name__, sent.msg_ids
('ValueError', ['m1'])
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["EngineSender", "Sender", "Sent"]

log = logging.getLogger(__name__)


class Sent:
    """A sent task's reply, as much of a one-result ``AsyncResult`` as the backend reads.

    ipyparallel settles the message future with the task's deserialised
    result, or with the exception object an engine failure, an abort or a
    remote error became (``RemoteError``, ``EngineError``, ``TaskAborted``):
    :meth:`result` raises those, :meth:`exception` returns them.
    """

    __slots__ = ("_future", "msg_ids")

    def __init__(self, future: cf.Future) -> None:
        self._future = future
        self.msg_ids = [future.msg_id]  # type: ignore[attr-defined]

    def add_done_callback(self, fn: Callable[[Sent], Any]) -> None:
        """``fn(self)`` once the reply is in (at once when it already is)."""
        self._future.add_done_callback(lambda _f: fn(self))

    def done(self) -> bool:
        """True once the reply is in."""
        return self._future.done()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The task's error (None when it returned)."""
        exc = self._future.exception(timeout)
        if exc is not None:
            return exc
        value = self._future.result()
        return value if isinstance(value, BaseException) else None

    def result(self, timeout: float | None = None) -> Any:
        """The task's return value; its error is raised."""
        exc = self.exception(timeout)
        if exc is not None:
            raise exc
        return self._future.result()


class Sender:
    """Sends ``fn(*args)`` tasks to one load-balanced ``view`` (see the module docs).

    ``fn`` is pickled once, here. Only a view with ipyparallel's default flags
    (no dependencies, retries, timeout or label) takes the direct path, since
    its metadata is then known without asking the view for each task.
    """

    def __init__(self, view: Any, fn: Callable[..., Any]) -> None:
        self.view, self.fn = view, fn
        self._client = view.client
        self._direct: Any = None
        self._metadata: dict[str, Any] = {}
        try:
            from ipyparallel.serialize import PrePickled

            defaults = (view.after, view.follow, view.retries, view.label, view.targets,
                        bool(view.timeout), view.block, view.track)
            if defaults == (None, None, 0, None, None, False, False, False) and \
                    callable(getattr(self._client, "send_apply_request", None)) and \
                    view._task_scheme != "pure" and hasattr(view, "_socket"):
                self._direct = PrePickled(fn)
                # what LoadBalancedView._really_apply sends for a view with default flags
                self._metadata = {"after": [], "follow": [], "timeout": view.timeout,
                                  "targets": [], "retries": 0, "label": None}
        except Exception as exc:  # another ipyparallel layout: the public path
            log.debug("ipyparallel's direct send is not available (%s); using apply_async", exc)
            self._direct = None

    @property
    def direct(self) -> bool:
        """True when tasks skip ``apply_async`` (the installed ipyparallel allows it)."""
        return self._direct is not None

    def send(self, *args: Any) -> Any:
        """Send ``fn(*args)``; a :class:`Sent` (or an ``AsyncResult`` on the public path)."""
        view = self.view
        if self._direct is None or view._socket.closed():
            # a closed task socket: apply_async raises ipyparallel's own clear error
            return view.apply_async(self.fn, *args)
        future = self._client.send_apply_request(view._socket, self._direct, list(args), {},
                                                 metadata=dict(self._metadata))
        return Sent(future)


class EngineSender:
    """Sends ``fn(*args)`` tasks straight to one engine's queue (ipyparallel's MUX).

    The path a ``DirectView`` takes: the controller relays the message in C
    (a zmq device) instead of its Python task scheduler, which costs about
    0.8 ms of controller CPU per task here. Which engine is the caller's
    choice (:mod:`.route`). :attr:`available` is False when the installed
    ipyparallel lacks a piece; the caller then sends load-balanced.
    """

    def __init__(self, client: Any, fn: Callable[..., Any]) -> None:
        self._client = client
        self._fn: Any = None
        # engine id -> its zmq identity: the client forgets it when the engine
        # unregisters, and abort() must still reach a frozen engine's queue
        self._idents: dict[int, bytes] = {}
        try:
            from ipyparallel.serialize import PrePickled

            if callable(getattr(client, "send_apply_request", None)) and \
                    hasattr(client, "_mux_stream") and callable(getattr(client, "_build_targets",
                                                                        None)):
                self._fn = PrePickled(fn)
        except Exception as exc:  # another ipyparallel layout: load-balanced only
            log.debug("ipyparallel's engine queues are not reachable (%s)", exc)

    @property
    def available(self) -> bool:
        """True when tasks can be sent to a chosen engine."""
        return self._fn is not None

    def send(self, engine: int, *args: Any) -> Sent:
        """Send ``fn(*args)`` to ``engine``'s queue; a :class:`Sent`.

        Raises ``IndexError`` for an engine the client no longer knows (``NoEnginesRegistered``
        when it knows none).
        """
        client = self._client
        idents, _ = client._build_targets(int(engine))
        self._idents[int(engine)] = idents[0]
        future = client.send_apply_request(client._mux_stream, self._fn, list(args), {},
                                           ident=idents[0], metadata={"label": None})
        return Sent(future)

    def abort(self, engine: int, msg_ids: list[str]) -> None:
        """Ask ``engine`` to drop ``msg_ids`` from its queue, even after it unregistered.

        An engine the controller gave up on (missed heartbeats) may only be frozen:
        resumed, it would run what waits in its queue, though those tasks were sent
        elsewhere meanwhile. ``Client.abort`` cannot name an unregistered engine, so
        the request goes to the identity it had. Never raises (a dead engine: nothing
        is listening, and nothing needs to be).
        """
        ident = self._idents.get(int(engine))
        if ident is None:
            return
        try:
            self._client._send(self._client._control_stream, "abort_request",
                               content={"msg_ids": list(msg_ids)}, ident=ident)
        except Exception as exc:  # a closed client, another ipyparallel layout
            log.debug("could not ask engine %s to drop %s: %s", engine, msg_ids, exc)

"""The state of one run, in one object: :class:`Scheduler`.

Everything the loop knows about a run lives here -- each node's
:class:`~pylearn_lab.vm.state.NodeState`, the inputs it still waits for, the
ready queue, the values in hand, the errors, the :class:`~pylearn_lab.vm.state.Counts`
-- and changes only through the small ``on_*`` methods, one per event the
loop feeds in (a node served from the cache, submitted, done, failed, its input
lost). The scheduler never talks to a backend or a store: the loop does, and
reports what happened. That keeps every transition testable on its own.

Examples
--------
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.vm.plan import make_plan
>>> @component
... def a() -> int:
...     return 1
>>> @component
... def b(x: int) -> int:
...     return x + 1
>>> s = Scheduler(make_plan([b(a())], cache=None))
>>> [s.label(k) for k in s.take_ready()]
['a']
>>> s.on_submitted([s.plan.order[0]])
>>> s.on_done(s.plan.order[0], 1)
>>> [s.label(k) for k in s.take_ready()], s.counts.done
(['b'], 1)
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from ..errors import NodeError, Status
from .events import Callback, Event, emit
from .plan import Plan
from .state import Counts, NodeState

__all__ = ["Scheduler"]

_FREE_AT = 64  # values in hand before intermediates nobody needs are dropped


class Scheduler:
    """One run's state; the loop feeds it events (see the module docstring).

    Attributes
    ----------
    plan : Plan
        What the run does (graph, outputs, cached keys, order).
    state : dict of str to NodeState
        Every node of the graph.
    waiting : dict of str to set of str
        For each node to compute, the inputs it still waits for.
    ready : deque of str
        Nodes whose inputs are all available, not yet taken.
    values : dict
        Values in hand (inputs for in-process tasks, outputs to return).
    errors : list of NodeError
        Failures, in the order they happened.
    counts : Counts
        What ``RunHandle.progress`` shows.
    """

    __slots__ = ("plan", "graph", "state", "waiting", "ready", "values", "errors", "counts",
                 "users", "callbacks", "_outputs")

    def __init__(self, plan: Plan, callbacks: list[Callback] | None = None) -> None:
        self.plan = plan
        self.graph = graph = plan.graph
        self.callbacks = callbacks or []
        self.values: dict[str, Any] = {}
        self.errors: list[NodeError] = []
        self._outputs = set(plan.outputs)
        cached = plan.cached
        self.state: dict[str, NodeState] = {
            k: NodeState.CACHED if k in cached else NodeState.UNNEEDED for k in graph}
        self.counts = Counts(total=len(graph), cached=sum(k in cached for k in graph),
                             queued=len(plan.order))
        self.users = graph.dependents()
        needed = set(plan.order)
        self.waiting: dict[str, set[str]] = {}
        self.ready: deque[str] = deque()
        for k in plan.order:
            deps = {d for d in graph.dependencies(k) if d in needed}
            self.waiting[k] = deps
            self.state[k] = NodeState.WAITING if deps else NodeState.READY
            if not deps:
                self.ready.append(k)
        if self.callbacks:
            for k in graph:
                if k in cached:
                    self.emit(Status.CACHED, k)
            for k in plan.order:
                self.emit(Status.QUEUED, k)

    # -- observing ---------------------------------------------------------------------
    def emit(self, kind: Status, key: str, **info: Any) -> None:
        """Tell the callbacks (nothing is built when nobody observes)."""
        if self.callbacks:
            emit(self.callbacks, Event(kind, key, self.label(key) if key else "", time.time(),
                                       info))

    def label(self, key: str) -> str:
        """The readable name of node ``key``."""
        return self.graph[key].label

    # -- taking work -------------------------------------------------------------------
    def take_ready(self) -> list[str]:
        """Every ready node, in order; the loop claims or submits them."""
        out = []
        ready, state = self.ready, self.state
        while ready:
            k = ready.popleft()
            if state[k] is NodeState.READY:
                out.append(k)
        return out

    @property
    def idle(self) -> bool:
        """Nothing ready (the loop then waits for running or claimed nodes)."""
        return not self.ready

    # -- events ------------------------------------------------------------------------
    def on_submitted(self, keys: list[str]) -> None:
        """``keys`` were sent to the backend."""
        for k in keys:
            self.state[k] = NodeState.RUNNING
            self.emit(Status.STARTED, k)
        self.counts.start(len(keys))

    def on_elsewhere(self, k: str) -> None:
        """Another run holds ``k``'s claim: wait for its result to appear."""
        self.state[k] = NodeState.ELSEWHERE

    def on_served(self, k: str) -> None:
        """A node still to compute was found stored by another run."""
        self.counts.served()
        self.emit(Status.CACHED, k, computed_by="another run")
        self._complete(k, NodeState.CACHED)

    def on_done(self, k: str, value: Any = None, has_value: bool = False, **info: Any) -> None:
        """``k`` was computed (``value`` in hand when ``has_value``)."""
        if has_value:
            self.values[k] = value
        self.counts.end("done")
        self.emit(Status.DONE, k, **info)
        self._complete(k, NodeState.DONE)

    def on_failed(self, k: str, err: NodeError | None, **info: Any) -> None:
        """``k`` raised (``err``), or was skipped by its worker (``err`` None)."""
        if err is None:
            self.counts.end("skipped")
            self.emit(Status.SKIPPED, k, **info)
            self.state[k] = NodeState.SKIPPED
        else:
            self.counts.end("failed")
            self.errors.append(err)
            self.emit(Status.FAILED, k, **info)
            self.state[k] = NodeState.FAILED
        self._skip_users(k)

    def on_requeued(self, k: str) -> None:
        """A submitted node is to be submitted again (its worker was lost)."""
        self.counts.requeue()
        self.state[k] = NodeState.READY

    def on_input_lost(self, lost: str, user: str | None, running: bool = False) -> None:
        """``lost`` was planned as cached but cannot be loaded: compute it, then ``user``.

        ``running``: ``user`` had been submitted and came back asking for it.
        """
        if running and user is not None:
            self.counts.requeue()
        if user is not None:
            self.state[user] = NodeState.WAITING
            self.waiting[user].add(lost)
        self._demote(lost)

    def on_output_lost(self, k: str) -> None:
        """A finished output cannot be read back: compute it again (never return it)."""
        self._demote(k)

    # -- transitions -------------------------------------------------------------------
    def _complete(self, k: str, state: NodeState) -> None:
        self.state[k] = state
        for u in self.users[k]:
            deps = self.waiting.get(u)
            if deps is not None and k in deps:
                deps.discard(k)
                if not deps and self.state[u] is NodeState.WAITING:
                    self.state[u] = NodeState.READY
                    self.ready.append(u)

    def _skip_users(self, k: str) -> None:
        reason = f"input {self.label(k)} failed"
        stack = [u for u in self.users[k] if u in self.waiting]
        while stack:
            u = stack.pop()
            if self.state[u].finished or self.state[u] is NodeState.RUNNING:
                continue
            self.state[u] = NodeState.SKIPPED
            self.counts.skipped += 1
            self.counts.queued -= 1
            self.emit(Status.SKIPPED, u, reason=reason)
            stack.extend(x for x in self.users[u] if x in self.waiting)

    def _demote(self, lost: str) -> None:
        """Schedule ``lost`` (and what it needs that nobody computes) for computing."""
        was = self.state[lost]
        if not was.finished or was in (NodeState.FAILED, NodeState.SKIPPED):
            return  # already scheduled (by another user), or beyond help
        self.plan.cached.discard(lost)
        self.values.pop(lost, None)
        if was is NodeState.CACHED:
            self.counts.cached -= 1
        elif was is NodeState.DONE:
            self.counts.done -= 1
        self.counts.queued += 1
        self.emit(Status.QUEUED, lost, reason="cache entry could not be loaded")
        deps = self.waiting[lost] = set()
        for d in self.graph.dependencies(lost):
            if self.state[d] is NodeState.UNNEEDED:
                self._demote(d)
            if not self.state[d].finished:
                deps.add(d)
        self.state[lost] = NodeState.WAITING if deps else NodeState.READY
        if not deps:
            self.ready.append(lost)

    # -- values ------------------------------------------------------------------------
    def free_values(self) -> None:
        """Drop intermediates no unfinished node needs (outputs are loaded at the end)."""
        if len(self.values) < _FREE_AT:
            return
        state, users, outs = self.state, self.users, self._outputs
        for k in [k for k in self.values if k not in outs]:
            if all(state[u].finished for u in users[k]):
                del self.values[k]

    def partial(self) -> dict[str, Any]:
        """``key -> value`` of the outputs in hand (what a failed run still has)."""
        return {k: self.values[k] for k in self.plan.outputs if k in self.values}

    def unfinished(self) -> Iterable[str]:
        """Keys still waiting, ready, claimed elsewhere or running."""
        return (k for k, s in self.state.items() if not s.finished)

"""Planning: which nodes a run must compute, and which the cache serves.

Walk back from the requested outputs and stop at every node whose key is in
the cache: its upstream is not needed at all. One batched ``IN`` query asks
the cache about the whole graph.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component
... def a() -> int:
...     return 1
>>> @component
... def b(x: int) -> int:
...     return x + 1
>>> p = make_plan([b(a())], cache=None)
>>> [p.graph[k].label for k in p.order]
['a', 'b']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..graph.graph import Graph

if TYPE_CHECKING:
    from ..graph.expr import Expr

__all__ = ["Plan", "make_plan"]


@dataclass
class Plan:
    """What a run will do.

    Attributes
    ----------
    graph : Graph
        Every node reachable from the outputs.
    outputs : list of str
        Requested keys, in order (repeats allowed).
    cached : set of str
        Keys of the graph found in the cache (served, not computed).
    order : list of str
        Keys to compute, inputs first.
    batch : int or None
        Tiny-node batching hint set by rewrite rules (None: the backend decides).
    """

    graph: Graph
    outputs: list[str]
    cached: set[str]
    order: list[str]
    batch: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def make_plan(exprs: list["Expr"], cache: Any) -> Plan:
    """Plan a run of ``exprs`` against ``cache`` (None: compute everything)."""
    graph = Graph.from_exprs(exprs)
    topo = graph.toposort()
    if cache is not None:
        cached = cache.contains_many([k for k in topo if graph[k].cache])
    else:
        cached = set()
    needed: set[str] = set()
    stack = [e.key for e in exprs]
    while stack:
        k = stack.pop()
        if k in needed or k in cached:
            continue
        needed.add(k)
        stack.extend(graph.dependencies(k))
    order = [k for k in topo if k in needed]
    return Plan(graph, [e.key for e in exprs], cached, order)

"""``Graph``: a read-only, validated mapping ``key -> Call``.

A graph is plain data: every node is a :class:`~pylearn_lab.graph.nodes.Call`
whose edges are :class:`~pylearn_lab.graph.nodes.Ref` objects. Validation
guarantees every Ref resolves and there is no cycle, so schedulers can rely on
:meth:`Graph.toposort`.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component
... def const(v: int) -> int:
...     return v
>>> @component
... def add(a: int, b: int) -> int:
...     return a + b
>>> g = add(const(1), const(2)).graph
>>> len(g), [g[k].label for k in g.toposort()][-1]
(3, 'add')
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import CycleError, UnresolvedRefError
from .nodes import Call, iter_refs

if TYPE_CHECKING:
    from .expr import Expr

__all__ = ["Graph"]


class Graph(Mapping[str, Call]):
    """Read-only mapping from node key to :class:`Call`, validated on construction.

    Parameters
    ----------
    nodes : mapping
        ``key -> Call``.
    outputs : sequence of str, optional
        The keys a run of this graph returns (default: the sinks).
    exprs : mapping, optional
        ``key -> Expr`` handles, when the graph was built from expressions.
    """

    def __init__(
        self,
        nodes: Mapping[str, Call],
        outputs: Iterable[str] | None = None,
        exprs: Mapping[str, "Expr"] | None = None,
        *,
        _order: list[str] | None = None,
    ) -> None:
        self._nodes = dict(nodes)
        self._exprs = dict(exprs or {})
        # Calls built from expressions list their inputs already (argument order, no repeats)
        self._deps = {k: c.inputs or tuple(dict.fromkeys(r.key for r in iter_refs((c.args, c.kwargs))))
                      for k, c in self._nodes.items()}
        # from_exprs passes the order its walk found: a graph of Exprs is valid by
        # construction (an Expr's inputs exist before it, so no cycle, and the walk
        # collected every one, so every Ref resolves)
        self._order = self._validate() if _order is None else _order
        if outputs is None:
            used = {d for deps in self._deps.values() for d in deps}
            outputs = [k for k in self._order if k not in used]
        self.outputs: tuple[str, ...] = tuple(outputs)
        for k in self.outputs:
            if k not in self._nodes:
                raise UnresolvedRefError(
                    f"output key {k[:12]}… is not a node of this graph of {len(self)} nodes. "
                    "Ask only for keys the graph contains."
                )

    @classmethod
    def from_exprs(cls, exprs: Iterable["Expr"]) -> "Graph":
        """Collect every node upstream of ``exprs`` (shared nodes once)."""
        outs = list(exprs)
        found: dict[str, Expr] = {}
        # one iterative post-order walk over all outputs: inputs before users, each node once
        stack: list[tuple[Expr, bool]] = [(e, False) for e in reversed(outs)]
        pop, push = stack.pop, stack.append
        while stack:
            e, expanded = pop()
            key = e.call.key
            if expanded:
                found.setdefault(key, e)
                continue
            if key in found:
                continue
            push((e, True))
            for i in reversed(e.inputs):
                if i.call.key not in found:
                    push((i, False))
        return cls({k: e.call for k, e in found.items()}, [e.key for e in outs], found,
                   _order=list(found))

    # -- Mapping ---------------------------------------------------------------------
    def __getitem__(self, key: str) -> Call:
        return self._nodes[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def __repr__(self) -> str:
        return f"<Graph of {len(self)} nodes, {len(self.outputs)} outputs>"

    # -- structure -------------------------------------------------------------------
    def dependencies(self, key: str) -> tuple[str, ...]:
        """Keys of the nodes ``key`` reads, in argument order."""
        return self._deps[key]

    def dependents(self) -> dict[str, list[str]]:
        """``key -> keys of the nodes that read it``."""
        users: dict[str, list[str]] = {k: [] for k in self._nodes}
        for k, deps in self._deps.items():
            for d in deps:
                users[d].append(k)
        return users

    def toposort(self) -> list[str]:
        """Every key, inputs before the nodes that read them."""
        return list(self._order)

    def expr(self, key: str) -> "Expr":
        """The :class:`Expr` handle of node ``key``."""
        try:
            return self._exprs[key]
        except KeyError:
            raise KeyError(
                f"node {key[:12]}… has no Expr handle: this graph was built from plain Calls"
            ) from None

    def exprs(self) -> list["Expr"]:
        """The output expressions, in order."""
        return [self.expr(k) for k in self.outputs]

    def replace(self, mapping: Mapping["Expr", "Expr"]) -> "Graph":
        """A new graph with each ``old`` sub-expression swapped for ``new``."""
        return Graph.from_exprs([e.replace(mapping) for e in self.exprs()])

    def to_json(self, **kwargs: Any) -> str:
        """This graph as a JSON spec (see :mod:`pylearn_lab.graph.spec`)."""
        from .spec import graph_to_json

        return graph_to_json(self, **kwargs)

    @classmethod
    def from_json(cls, text: str) -> "Graph":
        """Rebuild a graph from :meth:`to_json` output, checking its keys."""
        from .spec import graph_from_json

        return graph_from_json(text)

    # -- validation ------------------------------------------------------------------
    def _validate(self) -> list[str]:
        for k, deps in self._deps.items():
            for d in deps:
                if d not in self._nodes:
                    raise UnresolvedRefError(
                        f"node {self._nodes[k].label} [{k[:12]}] refers to {d[:12]}…, which is "
                        "not in the graph. Include the upstream node, or pass a literal instead."
                    )
        state: dict[str, int] = {}  # 1 = on the stack, 2 = done
        order: list[str] = []
        for root in self._nodes:
            if root in state:
                continue
            stack = [(root, iter(self._deps[root]))]
            state[root] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    state[node] = 2
                    order.append(node)
                elif state.get(nxt) == 1:
                    cycle = [n for n, _ in stack][[n for n, _ in stack].index(nxt):] + [nxt]
                    names = " -> ".join(self._nodes[n].label for n in cycle)
                    raise CycleError(
                        f"the graph has a cycle: {names}. A node cannot depend on its own "
                        "output; break the loop (e.g. iterate inside one component)."
                    )
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(self._deps[nxt])))
        return order

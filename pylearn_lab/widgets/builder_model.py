"""The graph builder's model: nodes, parameters and edges, as plain Python.

The canvas, the inspector and the palette are views of one :class:`BuilderModel`;
all graph logic lives here, without ipywidgets, so it is tested in a plain
script. A node holds a component's qualified name, a position and its
arguments by parameter name. An edge is stored *inside* the arguments as a
:class:`~pylearn_lab.graph.Ref` naming the upstream builder node (``Ref("n1")``),
also inside lists, tuples and dicts, so the edges can never disagree with the
arguments; :attr:`BuilderModel.edges` derives them.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component(category="demo")
... def number(v: int = 1) -> int:
...     '''A constant.'''
...     return v
>>> @component(category="demo")
... def negate(x) -> int:
...     '''Minus x.'''
...     return -x
>>> m = BuilderModel()
>>> a, b = m.add(number, {"v": 3}), m.add(negate)
>>> m.problems()[b][0].message
"input 'x' is not connected: drag an edge into it or type a value in the inspector"
>>> e = m.connect(a, b, "x")
>>> m.expr.key == negate(number(v=3)).key
True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CycleError, GraphError, SignatureError
from ..graph.nodes import Ref, iter_refs
from ..graph.registry import lookup
from .builder_build import BuildResult, Problem, build_all, component_of, signature_of

if TYPE_CHECKING:
    from ..graph.component import Component
    from ..graph.expr import Expr

__all__ = ["BuilderModel", "Edge", "Node", "Problem"]


@dataclass
class Node:
    """One box on the canvas: a call of ``component`` with ``params`` by name."""

    id: str
    component: str  # qualified name, looked up in the registry when building
    params: dict[str, Any] = field(default_factory=dict)
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True)
class Edge:
    """``src``'s output feeds parameter ``param`` of ``dst`` (``slot``: n-th link in it)."""

    src: str
    dst: str
    param: str
    slot: int = 0

    @property
    def id(self) -> str:
        return f"{self.src}>{self.dst}.{self.param}.{self.slot}"


Listener = Callable[[str], None]


class BuilderModel:
    """An editable graph of component calls; see the module docstring.

    Change listeners (:meth:`listen`) receive one word: ``"structure"`` (nodes or
    edges added/removed), ``"params"`` (a value changed) or ``"layout"`` (moves).
    """

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._counter = 0
        self._listeners: list[Listener] = []
        self._built: BuildResult | None = None
        # Components added as objects, found even when not (or no longer) registered.
        self._components: dict[str, Component] = {}

    # -- observers -------------------------------------------------------------------
    def listen(self, callback: Listener) -> None:
        """Call ``callback(kind)`` after every change."""
        self._listeners.append(callback)

    def _changed(self, kind: str) -> None:
        if kind != "layout":
            self._built = None
        for cb in list(self._listeners):
            cb(kind)

    # -- editing ---------------------------------------------------------------------
    def add(
        self, component: Component | str, /, params: Mapping[str, Any] | None = None, *,
        at: tuple[float, float] | None = None, id: str | None = None,
    ) -> str:
        """Add a node calling ``component`` (object or registered name); return its id.

        ``params`` holds literal arguments (and ``Ref(node id)`` links) by parameter
        name; ``at`` is the canvas position (default: the first free grid cell).
        """
        comp = lookup(component) if isinstance(component, str) else component
        self._components[comp.qualname] = comp
        if id is None:
            self._counter += 1
            while f"n{self._counter}" in self.nodes:
                self._counter += 1
            id = f"n{self._counter}"
        elif id in self.nodes:
            raise ValueError(f"node id {id!r} is already used; pick another id or omit it")
        node = Node(id, comp.qualname)
        params = dict(params or {})
        for name in params:
            self._check_param_name(node, name)
        for ref in iter_refs(params):
            self._node(ref.key)
        node.params = params
        if at is None:
            from .builder_layout import free_spot

            at = free_spot([(n.x, n.y) for n in self.nodes.values()])
        node.x, node.y = float(at[0]), float(at[1])
        self.nodes[id] = node
        self._changed("structure")
        return id

    def remove(self, node_id: str) -> None:
        """Delete a node and every edge into or out of it."""
        self._node(node_id)
        del self.nodes[node_id]
        for node in self.nodes.values():
            for name in list(node.params):
                node.params[name] = _drop_links(node.params[name], node_id)
                if node.params[name] is _GONE:
                    del node.params[name]
        self._changed("structure")

    def connect(self, src: str, dst: str, param: str) -> Edge:
        """Feed ``src``'s output into parameter ``param`` of ``dst``.

        A plain parameter is replaced; a ``*args`` parameter, or one already holding
        a list or tuple of links, gets the new link appended.

        Raises
        ------
        CycleError
            ``dst`` is upstream of ``src`` (or is ``src``).
        SignatureError
            ``dst``'s component has no parameter ``param``.
        """
        self._node(src)
        node = self._node(dst)
        spec = self._check_param_name(node, param)
        if src == dst or dst in self.upstream(src):
            raise CycleError(
                f"connecting {self.label(src)} -> {self.label(dst)} would make a loop: "
                f"{self.label(dst)} already feeds {self.label(src)}. A node cannot depend on "
                "its own output; connect a node further upstream instead."
            )
        current = node.params.get(param)
        link = Ref(src)
        if spec is not None and spec.kind == inspect.Parameter.VAR_POSITIONAL:
            node.params[param] = (*(current or ()), link)
        elif isinstance(current, (list, tuple)) and any(iter_refs(current)):
            node.params[param] = type(current)([*current, link])
        else:
            node.params[param] = link
        self._changed("structure")
        slots = [e for e in self.edges if e.dst == dst and e.param == param and e.src == src]
        return slots[-1]

    def disconnect(self, edge: Edge | str) -> None:
        """Remove one edge (an :class:`Edge` or its ``id``)."""
        found = [e for e in self.edges if e == edge or e.id == edge]
        if not found:
            raise KeyError(f"no edge {edge!r} in this graph; edges are {[e.id for e in self.edges]}")
        e = found[0]
        node = self.nodes[e.dst]
        counter = iter(range(10**9))
        node.params[e.param] = _drop_links(node.params[e.param], e.src, e.slot, counter)
        if node.params[e.param] is _GONE:
            del node.params[e.param]
        self._changed("structure")

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        """Set a literal argument; invalid values are kept and reported by :meth:`problems`."""
        node = self._node(node_id)
        self._check_param_name(node, name)
        if any(iter_refs(value)):
            raise TypeError(
                f"set_param() sets literal values, received a value holding links {value!r:.60}; "
                "use connect(src, dst, param) for edges."
            )
        had_links = any(iter_refs(node.params.get(name)))
        node.params[name] = value
        self._changed("structure" if had_links else "params")

    def unset_param(self, node_id: str, name: str) -> None:
        """Forget an argument: the component's default applies again."""
        node = self._node(node_id)
        if name in node.params:
            had_links = any(iter_refs(node.params[name]))
            del node.params[name]
            self._changed("structure" if had_links else "params")

    def move(self, node_id: str, x: float, y: float) -> None:
        """Place a node at canvas coordinates ``(x, y)``."""
        node = self._node(node_id)
        node.x, node.y = float(x), float(y)
        self._changed("layout")

    def auto_layout(self) -> None:
        """Arrange every node in layers, inputs on the left (readable at 30+ nodes)."""
        from .builder_layout import layered_layout

        pos = layered_layout({k: self.dependencies(k) for k in self.nodes},
                             {k: len(self.ports(k)) for k in self.nodes})
        for k, (x, y) in pos.items():
            self.nodes[k].x, self.nodes[k].y = x, y
        self._changed("layout")

    # -- structure -------------------------------------------------------------------
    @property
    def edges(self) -> list[Edge]:
        """Every edge, derived from the links held in the nodes' arguments."""
        out = []
        for node in self.nodes.values():
            for name, value in node.params.items():
                for slot, ref in enumerate(iter_refs(value)):
                    out.append(Edge(ref.key, node.id, name, slot))
        return out

    def dependencies(self, node_id: str) -> list[str]:
        """Ids of the nodes feeding ``node_id`` (each once, in argument order)."""
        return list(dict.fromkeys(r.key for r in iter_refs(self._node(node_id).params)))

    def upstream(self, node_id: str) -> set[str]:
        """Every node ``node_id`` depends on, directly or not."""
        seen: set[str] = set()
        todo = self.dependencies(node_id)
        while todo:
            k = todo.pop()
            if k not in seen and k in self.nodes:
                seen.add(k)
                todo.extend(self.dependencies(k))
        return seen

    def sinks(self) -> list[str]:
        """Ids of the nodes nothing reads: the graph's outputs."""
        used = {e.src for e in self.edges}
        return [k for k in self.nodes if k not in used]

    def component(self, node_id: str) -> Component | None:
        """The node's component (the registered one first, so a redefinition in the
        notebook is picked up), or ``None`` if its name is unknown."""
        return self.resolve(self._node(node_id).component)

    def resolve(self, qualname: str) -> Component | None:
        """The component called ``qualname``: registry first, then those added as objects."""
        return component_of(qualname) or self._components.get(qualname)

    def label(self, node_id: str) -> str:
        """Short display name, e.g. ``"pca (n3)"``."""
        return f"{self._node(node_id).component.rsplit('.', 1)[-1]} ({node_id})"

    def ports(self, node_id: str) -> list[str]:
        """Parameters shown as input ports: data inputs (no simple type), ``*args``,
        and anything currently fed by an edge."""
        node = self._node(node_id)
        comp = self.component(node_id)
        sig = signature_of(comp)
        kinds = {n: p.kind for n, p in sig.parameters.items()} if sig else {}
        names = [s.name for s in (comp.params if comp else ())
                 if (s.kind == "any" and not s.variadic)
                 or kinds.get(s.name) == inspect.Parameter.VAR_POSITIONAL]
        names += [n for n in node.params if n not in names and any(iter_refs(node.params[n]))]
        return names

    # -- building --------------------------------------------------------------------
    def build(self) -> BuildResult:
        """Expressions for every buildable node and problems for the others (memoised)."""
        if self._built is None:
            self._built = build_all(self)
        return self._built

    def problems(self) -> dict[str, list[Problem]]:
        """``node id -> problems`` for every node that cannot run as it is."""
        return self.build().problems

    def to_exprs(self) -> dict[str, Expr]:
        """``node id -> Expr`` for every node.

        Raises
        ------
        GraphError
            Some node is incomplete or invalid; the message lists every problem.
        """
        result = self.build()
        if result.problems:
            lines = [f"  {self.label(k)}: {p.message}" for k, ps in result.problems.items() for p in ps]
            raise GraphError(
                f"the graph cannot run: {len(lines)} problem(s) in "
                f"{len(result.problems)} node(s):\n" + "\n".join(lines) +
                "\nFix them in the inspector (or with set_param/connect), then run again."
            )
        if not self.nodes:
            raise GraphError("the graph is empty: add a node from the palette (or with add()) first")
        return dict(result.exprs)

    @property
    def expr(self) -> Expr | list[Expr]:
        """The graph's output: one Expr, or a list when there are several sinks."""
        exprs = self.to_exprs()
        outs = [exprs[k] for k in self.sinks()]
        return outs[0] if len(outs) == 1 else outs

    # -- helpers ---------------------------------------------------------------------
    def _node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(
                f"no node {node_id!r} in the builder; nodes are {sorted(self.nodes)}"
            ) from None

    def _check_param_name(self, node: Node, name: str) -> inspect.Parameter | None:
        sig = signature_of(self.resolve(node.component))
        if sig is None:
            return None
        params = sig.parameters
        if name in params and params[name].kind != inspect.Parameter.VAR_KEYWORD:
            return params[name]
        if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return None
        raise SignatureError(
            f"{node.component.rsplit('.', 1)[-1]}() has no parameter {name!r}; expected one of "
            f"{[p for p in params]}. Use one of those names."
        )

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"<BuilderModel: {len(self.nodes)} nodes, {len(self.edges)} edges>"


_GONE = object()


def _drop_links(value: Any, src: str, slot: int | None = None,
                counter: Iterator[int] | None = None) -> Any:
    """``value`` without the links to ``src`` (only the ``slot``-th link if given).

    Returns ``_GONE`` when the whole value was such a link.
    """
    counter = counter if counter is not None else iter(range(10**9))
    if isinstance(value, Ref):
        n = next(counter)
        return _GONE if value.key == src and (slot is None or n == slot) else value
    if isinstance(value, (list, tuple)):
        kept = [v for v in (_drop_links(x, src, slot, counter) for x in value) if v is not _GONE]
        return type(value)(kept)
    if type(value) is dict:
        pairs = ((k, _drop_links(v, src, slot, counter)) for k, v in value.items())
        return {k: v for k, v in pairs if v is not _GONE}
    return value

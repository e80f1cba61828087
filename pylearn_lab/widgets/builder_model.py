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

import copy
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CycleError, EdgeTypeError, GraphError, SignatureError
from ..graph.nodes import Ref, iter_refs, map_refs
from ..graph.registry import lookup
from .builder_build import BuildResult, Problem, build_all, component_of, signature_of
from .builder_history import History
from .builder_types import admits, describe_annotation, return_annotation

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
    # literal-valued parameters the user turned into input ports (the inspector's toggle)
    exposed: list[str] = field(default_factory=list)


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
    Every edit is recorded in :attr:`history`: :meth:`undo` and :meth:`redo`.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._counter = 0
        self._listeners: list[Listener] = []
        self._built: BuildResult | None = None
        # Components added as objects, found even when not (or no longer) registered.
        self._components: dict[str, Component] = {}
        self.history = History()
        #: ``key -> value`` of results the builder already has (last run, cache), or a
        #: ``LookupError``; components' ``preflight`` hooks read upstream values through it.
        self.known_value: Callable[[str], Any] | None = None

    # -- observers -------------------------------------------------------------------
    def listen(self, callback: Listener) -> None:
        """Call ``callback(kind)`` after every change."""
        self._listeners.append(callback)

    def _changed(self, kind: str) -> None:
        if kind != "layout":
            self._built = None
        for cb in list(self._listeners):
            cb(kind)

    def invalidate(self) -> None:
        """Forget the memoised build and redraw: a component was (re)defined, so keys,
        problems and ports may all differ although no node changed."""
        self._changed("structure")

    # -- history ---------------------------------------------------------------------
    def _snapshot(self) -> tuple[dict[str, Node], int]:
        return copy.deepcopy(self.nodes), self._counter

    def _record(self) -> None:
        self.history.record(self._snapshot())

    def _restore(self, snap: tuple[dict[str, Node], int]) -> None:
        self.nodes, self._counter = copy.deepcopy(snap[0]), snap[1]
        self._changed("structure")

    def group(self) -> AbstractContextManager[None]:
        """``with model.group(): ...``: the edits inside undo as one."""
        return self.history.group()

    def undo(self) -> bool:
        """Revert the last edit (False when there is nothing to undo)."""
        if not self.history.can_undo:
            return False
        self._restore(self.history.undo(self._snapshot()))
        return True

    def redo(self) -> bool:
        """Re-apply the last undone edit (False when there is nothing to redo)."""
        if not self.history.can_redo:
            return False
        self._restore(self.history.redo(self._snapshot()))
        return True

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
        self._record()
        self.nodes[id] = node
        self._changed("structure")
        return id

    def remove(self, node_id: str) -> None:
        """Delete a node and every edge into or out of it."""
        self._node(node_id)
        self._record()
        del self.nodes[node_id]
        for node in self.nodes.values():
            for name in list(node.params):
                node.params[name] = _drop_links(node.params[name], node_id)
                if node.params[name] is _GONE:
                    del node.params[name]
        self._changed("structure")

    def connect(self, src: str, dst: str, param: str, *, replace: bool = False) -> Edge:
        """Feed ``src``'s output into parameter ``param`` of ``dst``.

        A ``*args`` parameter, or one already holding a list or tuple of links, gets
        the new link appended. An input already fed by an edge is only replaced when
        ``replace=True``: a drop on an occupied port never discards an edge silently.

        Raises
        ------
        CycleError
            ``dst`` is upstream of ``src`` (or is ``src``).
        SignatureError
            ``dst``'s component has no parameter ``param``.
        EdgeTypeError
            ``param``'s annotation does not admit what ``src`` returns.
        GraphError
            ``param`` is already fed by an edge (and ``replace`` is false).
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
        self.check_edge_type(src, dst, param)
        current = node.params.get(param)
        variadic = spec is not None and spec.kind == inspect.Parameter.VAR_POSITIONAL
        appends = variadic or (isinstance(current, (list, tuple)) and any(iter_refs(current)))
        if not appends and any(iter_refs(current)) and not replace:
            sources = ", ".join(self.label(r.key) for r in iter_refs(current))
            raise GraphError(
                f"input {param!r} of {self.label(dst)} is already fed by {sources}; "
                "delete that edge first (select it, press Delete), or connect(..., replace=True)"
            )
        self._record()
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
        self._record()
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
        if name in node.params and _same(node.params[name], value):
            return  # a form echoing the value it shows is not an edit (no undo step)
        self._record()
        node.params[name] = value
        self._changed("structure" if had_links else "params")

    def unset_param(self, node_id: str, name: str) -> None:
        """Forget an argument: the component's default applies again."""
        node = self._node(node_id)
        if name in node.params:
            had_links = any(iter_refs(node.params[name]))
            self._record()
            del node.params[name]
            self._changed("structure" if had_links else "params")

    def move(self, node_id: str, x: float, y: float) -> None:
        """Place a node at canvas coordinates ``(x, y)``."""
        node = self._node(node_id)
        if (node.x, node.y) == (float(x), float(y)):
            return
        self._record()
        node.x, node.y = float(x), float(y)
        self._changed("layout")

    def expose(self, node_id: str, name: str, on: bool = True) -> None:
        """Show literal parameter ``name`` as an input port (``on=False``: hide it again,
        which drops the edges into it)."""
        node = self._node(node_id)
        self._check_param_name(node, name)
        if (name in node.exposed) == on:
            return
        with self.group():
            self._record()
            if on:
                node.exposed.append(name)
            else:
                node.exposed.remove(name)
                if any(iter_refs(node.params.get(name))):
                    del node.params[name]
        self._changed("structure")

    def remove_many(self, node_ids: Iterable[str]) -> None:
        """Delete several nodes as one edit (one undo brings them all back)."""
        with self.group():
            for k in list(dict.fromkeys(node_ids)):
                if k in self.nodes:
                    self.remove(k)

    def copy(self, node_ids: Iterable[str]) -> dict[str, Any]:
        """A clipboard of these nodes with the edges between them (edges from outside
        the selection are left out: the copies' inputs are free again)."""
        keep = set(node_ids) & set(self.nodes)
        ids = [k for k in self.nodes if k in keep]  # graph order, not click order: stable ids
        items = []
        for k in ids:
            n = self.nodes[k]
            params = {name: v for name, v in
                      ((name, _keep_links(v, keep)) for name, v in n.params.items())
                      if v is not _GONE}
            items.append({"id": k, "component": n.component, "params": copy.deepcopy(params),
                          "x": n.x, "y": n.y, "exposed": list(n.exposed)})
        return {"nodes": items, "components": {n["component"]: self.resolve(n["component"])
                                                for n in items}}

    def paste(self, clip: Mapping[str, Any], offset: tuple[float, float] = (40.0, 40.0),
              at: tuple[float, float] | None = None) -> list[str]:
        """Add copies of a :meth:`copy` clipboard (with its internal edges) as one edit;
        return the new ids. ``at`` places the clipboard's top-left corner there."""
        items = list(clip.get("nodes", ()))
        if not items:
            return []
        if at is not None:
            x0, y0 = min(i["x"] for i in items), min(i["y"] for i in items)
            offset = (at[0] - x0, at[1] - y0)
        for qual, comp in (clip.get("components") or {}).items():
            if comp is not None and self.resolve(qual) is None:
                self._components[qual] = comp
        with self.group():
            new: dict[str, str] = {}
            for item in items:
                comp = self.resolve(item["component"])
                if comp is None:
                    raise GraphError(f"cannot paste {item['component']!r}: it is not registered "
                                     "any more; run the cell that defines it, then paste again")
                new[item["id"]] = self.add(comp, at=(item["x"] + offset[0], item["y"] + offset[1]))
            self._record()
            for item in items:
                node = self.nodes[new[item["id"]]]
                node.params = map_refs(copy.deepcopy(item["params"]), lambda r: Ref(new[r.key]))
                node.exposed = list(item.get("exposed", ()))
        self._changed("structure")
        return list(new.values())

    def duplicate(self, node_ids: Iterable[str]) -> list[str]:
        """Copy and paste in one step, shifted down-right; return the new ids."""
        return self.paste(self.copy(node_ids))

    def replace_all(self, other: BuilderModel) -> None:
        """Take ``other``'s nodes (a loaded file) as one undoable edit."""
        self._record()
        self.nodes = copy.deepcopy(other.nodes)
        self._counter = other._counter
        self._components.update(other._components)
        self._changed("structure")

    def auto_layout(self) -> None:
        """Arrange every node in layers, inputs on the left (readable at 30+ nodes)."""
        from .builder_layout import layered_layout

        pos = layered_layout({k: self.dependencies(k) for k in self.nodes},
                             {k: len(self.ports(k)) for k in self.nodes})
        self._record()
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
        """Parameters shown as input ports: data inputs (no simple type, or a typed
        parameter without a default, like ``score: float``), ``*args``, parameters the
        user exposed (:meth:`expose`) and anything currently fed by an edge."""
        node = self._node(node_id)
        comp = self.component(node_id)
        sig = signature_of(comp)
        kinds = {n: p.kind for n, p in sig.parameters.items()} if sig else {}
        names = [s.name for s in (comp.params if comp else ())
                 if (s.kind == "any" and not s.variadic) or (s.required and not s.variadic)
                 or kinds.get(s.name) == inspect.Parameter.VAR_POSITIONAL
                 or s.name in node.exposed]
        names += [n for n in node.params if n not in names and any(iter_refs(node.params[n]))]
        return names

    def check_edge_type(self, src: str, dst: str, param: str) -> None:
        """Raise :class:`EdgeTypeError` when ``dst.param``'s annotation cannot take what
        ``src`` returns (both read from the components' annotations)."""
        src_comp, dst_comp = self.component(src), self.component(dst)
        if src_comp is None or dst_comp is None:
            return
        spec = next((s for s in dst_comp.params if s.name == param), None)
        if spec is None or spec.annotation is None:
            return
        wanted = spec.annotation
        if spec.variadic:  # *items: float takes floats one by one
            wanted = spec.annotation
        returned = return_annotation(src_comp.fn)
        if not admits(wanted, returned):
            raise EdgeTypeError(
                f"cannot connect {self.label(src)} -> {self.label(dst)}.{param}: "
                f"{param!r} expects {describe_annotation(wanted)}, but {src_comp.name}() "
                f"returns {describe_annotation(returned)}. Connect a node that returns "
                f"{describe_annotation(wanted)} instead."
            )

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


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (``1 == 1.0 == True`` are different parameter values)."""
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # arrays and other values without a plain truth value: an edit
        return False


def _keep_links(value: Any, keep: set[str]) -> Any:
    """``value`` with only the links to nodes in ``keep`` (``_GONE`` if none is left of
    a single link)."""
    if isinstance(value, Ref):
        return value if value.key in keep else _GONE
    if isinstance(value, (list, tuple)):
        return type(value)([v for v in (_keep_links(x, keep) for x in value) if v is not _GONE])
    if type(value) is dict:
        pairs = ((k, _keep_links(v, keep)) for k, v in value.items())
        return {k: v for k, v in pairs if v is not _GONE}
    return value


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

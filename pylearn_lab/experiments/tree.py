"""``lineage(expr_or_key)``: the tree of calls that produced a result.

Each :class:`LineageNode` is one call -- function, literal parameters, the
keys of its inputs, and, when it is stored, where (engine, host), when and
for how long it ran -- with its inputs as children, labelled by the parameter
they fed. An expression that has not (fully) run shows its missing nodes as
``not computed``; a key alone is followed through the cache index.

Examples
--------
>>> import tempfile
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.vm.loop import run
>>> from pylearn_lab.cache.cache import Cache
>>> @component
... def load(n: int = 3) -> list:
...     return list(range(n))
>>> @component
... def total(xs: list, scale: float = 1.0) -> float:
...     return scale * sum(xs)
>>> c = Cache(tempfile.mkdtemp())
>>> e = total(load(4), scale=2.0)
>>> _ = run(e, cache=c)
>>> tree = lineage(e.key, cache=c)
>>> tree.label, tree.params, tree.children[0][0], tree.children[0][1].params
('total', {'scale': 2.0}, 'xs', {'n': 4})
>>> print(tree.render(details=False))
total(scale=2.0)
└── xs ← load(n=4)
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..cache.cache import resolve_cache
from ..cache.records import Record
from ..errors import Status
from ..graph.expr import Expr
from ..vm.recipe import recipe

__all__ = ["LineageNode", "lineage"]


def _fmt_duration(s: float | None) -> str:
    if s is None:
        return ""
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def _fmt_value(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:39] + "…"


@dataclass(eq=False)
class LineageNode:
    """One call in a lineage tree.

    Attributes
    ----------
    key, label, function, version : str
        Node key, component name, ``module.qualname`` and code version.
    params : dict
        Literal arguments (as recorded).
    inputs : dict
        ``parameter -> upstream key`` (or list of keys).
    status : Status
        ``Status.STORED`` (in the cache) or ``Status.MISSING`` (not computed, or
        evicted); a ``str`` enum, equal to ``"stored"`` / ``"missing"``.
    engine, host : str
        Where it ran ("" when unknown).
    duration, created : float or None
        Seconds spent computing; epoch seconds when it was stored.
    children : list of (str, LineageNode)
        The inputs, labelled by the parameter they fed.
    """

    key: str
    label: str
    function: str
    params: dict[str, Any]
    inputs: dict[str, Any]
    status: Status
    version: str = ""
    engine: str = ""
    host: str = ""
    duration: float | None = None
    created: float | None = None
    children: list[tuple[str, LineageNode]] = field(default_factory=list)

    @property
    def when(self) -> _dt.datetime | None:
        """``created`` as a local datetime."""
        return _dt.datetime.fromtimestamp(self.created) if self.created else None

    def walk(self) -> Iterator[LineageNode]:
        """This node and every node upstream, each once (depth first)."""
        seen: set[str] = set()
        stack = [self]
        while stack:
            n = stack.pop()
            if n.key in seen:
                continue
            seen.add(n.key)
            yield n
            stack.extend(c for _, c in reversed(n.children))

    def find(self, label: str) -> list[LineageNode]:
        """Every node of the tree whose component is called ``label``."""
        return [n for n in self.walk() if n.label == label]

    def headline(self, details: bool = True) -> str:
        """``mlp(lr=0.1) · 3cab1ccf · 12.0 ms on engine 0 · 2025-01-01 10:00:00``."""
        args = ", ".join(f"{k}={_fmt_value(v)}" for k, v in self.params.items())
        text = f"{self.label}({args})"
        if not details:
            return text
        bits = [self.key[:8]]
        if self.status != Status.STORED:
            bits.append("not computed")
        else:
            where = self.engine or self.host
            bits.append(_fmt_duration(self.duration) + (f" on {where}" if where else ""))
            if self.when is not None:
                bits.append(self.when.strftime("%Y-%m-%d %H:%M:%S"))
        return " · ".join([text, *bits])

    def render(self, details: bool = True) -> str:
        """The tree as indented text (a shared node is expanded once, then referred to)."""
        lines = [self.headline(details)]
        shown = {self.key}

        def add(node: LineageNode, prefix: str) -> None:
            for i, (param, child) in enumerate(node.children):
                last = i == len(node.children) - 1
                again = child.key in shown
                tail = " (shown above)" if again and child.children else ""
                lines.append(f"{prefix}{'└── ' if last else '├── '}{param} ← "
                             f"{child.headline(details)}{tail}")
                if not again:
                    shown.add(child.key)
                    add(child, prefix + ("    " if last else "│   "))

        add(self, "")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts (JSON-able)."""
        return {
            "key": self.key, "label": self.label, "function": self.function,
            "params": self.params, "inputs": self.inputs, "status": self.status,
            "version": self.version, "engine": self.engine, "host": self.host,
            "duration": self.duration, "created": self.created,
            "children": [{"param": p, "node": c.to_dict()} for p, c in self.children],
        }

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        def block(node: LineageNode, param: str | None) -> str:
            head = html.escape((f"{param} ← " if param else "") + node.headline())
            colour = "#2a7" if node.status == Status.STORED else "#c60"
            title = f"<span style='color:{colour}'>●</span> <code>{head}</code>"
            if not node.children:
                return f"<div style='margin-left:1em'>{title}</div>"
            inner = "".join(block(c, p) for p, c in node.children)
            return (f"<details open style='margin-left:1em'><summary>{title}</summary>"
                    f"{inner}</details>")

        return f"<div class='pylearn-lineage'>{block(self, None)}</div>"


def _from_record(r: Record) -> LineageNode:
    return LineageNode(r.key, r.label, r.func, dict(r.params), dict(r.inputs), Status.STORED,
                       r.version, r.engine, r.host, r.duration, r.created)


def _missing(key: str) -> LineageNode:
    return LineageNode(key, "?", "", {}, {}, Status.MISSING)


def _link(nodes: dict[str, LineageNode]) -> None:
    for n in list(nodes.values()):  # missing inputs are added while linking
        for param, keys in n.inputs.items():
            for k in keys if isinstance(keys, list) else [keys]:
                n.children.append((param, nodes.get(k) or nodes.setdefault(k, _missing(k))))


def lineage(expr_or_key: Any, cache: Any = None) -> LineageNode:
    """The lineage tree of an expression, a key, a :class:`Record` or a results row.

    Parameters
    ----------
    expr_or_key : Expr, str, Record or mapping with a ``"key"``
        What to trace. An Expr needs no cache to be drawn (missing nodes are
        marked ``not computed``); a key is followed through the cache index.
    cache : Cache or path, optional
        Which cache (default: the session's).

    Returns
    -------
    LineageNode
        The root; ``print`` it, or display it in a notebook.
    """
    store = resolve_cache(cache)
    if isinstance(expr_or_key, Expr):
        exprs = list(expr_or_key.walk())
        recs = {r.key: r for r in store.records(keys=[e.key for e in exprs])} if store else {}
        nodes: dict[str, LineageNode] = {}
        for e in exprs:
            if e.key in recs:
                nodes[e.key] = _from_record(recs[e.key])
            else:
                rec = recipe(e)
                nodes[e.key] = LineageNode(e.key, rec["label"], rec["func"], rec["params"],
                                           rec["inputs"], Status.MISSING, rec["version"])
        _link(nodes)
        return nodes[expr_or_key.key]
    if isinstance(expr_or_key, str):
        key: Any = expr_or_key
    elif isinstance(expr_or_key, dict):
        key = expr_or_key.get("key")
    else:  # a Record, or a pandas row (a Series reads its "key" column as an attribute)
        key = getattr(expr_or_key, "key", None)
    if not isinstance(key, str):
        raise TypeError(
            f"lineage() expected an Expr, a key string, a Record or a results row, received "
            f"{type(expr_or_key).__name__}."
        )
    if store is None:
        raise ValueError("lineage(key) reads the cache, so cache=False cannot trace a key.")
    nodes = {}
    frontier = [key]
    while frontier:  # one index query per level of the graph
        for r in store.records(keys=frontier):
            nodes[r.key] = _from_record(r)
        nxt: list[str] = []
        for k in frontier:
            n = nodes.get(k)
            for v in (n.inputs.values() if n else ()):
                nxt.extend(x for x in (v if isinstance(v, list) else [v]) if x not in nodes)
        frontier = sorted(set(nxt))
    _link(nodes)
    return nodes.get(key) or _missing(key)

"""What the canvas draws, computed from the model: plain dicts for the synced traits.

The canvas (``builder.js``) knows nothing about components or keys; this module
turns a :class:`~pylearn_lab.widgets.builder_model.BuilderModel` and its build
result into the ``nodes`` and ``edges`` lists it draws, and names the state a
node is drawn in. No ipywidgets here, so it is tested without a kernel.

Examples
--------
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.widgets.builder_model import BuilderModel
>>> @component(category="demo")
... def source() -> int:
...     '''A source.'''
...     return 1
>>> @component(category="demo")
... def sink(x) -> int:
...     '''A sink.'''
...     return x
>>> m = BuilderModel()
>>> a, b = m.add(source), m.add(sink)
>>> nodes, edges = draw_lists(m, cached=set())
>>> [(n["label"], n["inputs"], n["required"], bool(n["problem"])) for n in nodes]
[('source', [], [], False), ('sink', ['x'], ['x'], True)]
>>> m.connect(a, b, "x").id, draw_lists(m, set())[0][1]["call"]
('n1>n2.x.0', 'sink(x=source (n1))')
>>> drawn_state(nodes[0], None), drawn_state(nodes[1], None)
('idle', 'invalid')
"""

from __future__ import annotations

import inspect
import zlib
from typing import Any

from ..graph.nodes import iter_refs, map_refs
from .builder_model import BuilderModel

__all__ = ["category_colour", "draw_lists", "drawn_state"]

_VAR = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)

# Category colours avoid the status colours' reds and greens, so a band never reads as a state.
_CATEGORY_COLOURS = ("#7048e8", "#0c8599", "#d6336c", "#e67700", "#1864ab", "#5f3dc4",
                     "#a61e4d", "#087f5b", "#5c7cfa", "#862e9c")


def category_colour(category: str) -> str:
    """A stable, readable band colour for a palette category."""
    return _CATEGORY_COLOURS[zlib.crc32(category.encode()) % len(_CATEGORY_COLOURS)]


def _short(value: Any, limit: int = 18) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Shown:
    """Prints as the given text: an upstream node inside a call string."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def values_line(model: BuilderModel, node_id: str, limit: int = 30) -> str:
    """The node's literal arguments, ``"n_components=3 · seed=7"``, shortened to fit a node."""
    node = model.nodes[node_id]
    parts = [f"{k}={_short(v)}" for k, v in node.params.items() if not any(iter_refs(v))]
    text = " · ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def call_text(model: BuilderModel, node_id: str) -> str:
    """The call the node makes, written as code would: ``pca(standardize (n2), n_components=3)``."""
    node = model.nodes[node_id]
    name = node.component.rsplit(".", 1)[-1]
    shown = map_refs(node.params, lambda r: _Shown(model.label(r.key) if r.key in model.nodes
                                                   else r.key))
    comp = model.component(node_id)
    order = list(comp.signature.parameters) if comp is not None and comp.signature else []
    names = sorted(shown, key=lambda k: order.index(k) if k in order else len(order))
    args = ", ".join(f"{k}={shown[k]!r}" for k in names)
    return f"{name}({args})"


def draw_lists(model: BuilderModel, cached: set[str]) -> tuple[list[dict[str, Any]],
                                                              list[dict[str, Any]]]:
    """The canvas's ``nodes`` and ``edges`` traits; ``cached``: keys the cache holds."""
    result = model.build()
    nodes = []
    for node in model:
        comp = model.component(node.id)
        problems = result.problems.get(node.id, [])
        problem = problems[0].message if problems else ""
        if len(problems) > 1:
            problem += f" (+{len(problems) - 1} more)"
        sig = comp.signature if comp else None
        ports = model.ports(node.id)
        required = [p for p in ports if sig is not None and p in sig.parameters
                    and sig.parameters[p].default is sig.empty
                    and sig.parameters[p].kind not in _VAR]
        key = result.exprs[node.id].key if node.id in result.exprs else ""
        category = comp.category if comp else "?"
        nodes.append({
            "id": node.id,
            "label": comp.name if comp else node.component.rsplit(".", 1)[-1],
            "category": category,
            "colour": category_colour(category),
            "x": node.x, "y": node.y,
            "inputs": ports,
            "required": required,
            "key": key[:10],
            "cached": key in cached,
            "problem": problem,
            "problems": {p.param or "": p.message for p in problems},
            "blocked": node.id in result.blocked,
            "values": values_line(model, node.id),
            "call": call_text(model, node.id),
        })
    edges = [{"id": e.id, "src": e.src, "dst": e.dst, "param": e.param} for e in model.edges]
    return nodes, edges


def drawn_state(node: dict[str, Any], status: dict[str, str] | None) -> str:
    """The state a node is drawn in: its run state, else invalid/blocked/in-cache/idle
    (the same rule as ``drawnState`` in ``builder.js``)."""
    if status:
        return status["state"]
    if node["problem"]:
        return "invalid"
    if node["blocked"]:
        return "blocked"
    return "in-cache" if node["cached"] else "idle"

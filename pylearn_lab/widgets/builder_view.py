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
>>> drawn_state(nodes[0], None), drawn_state(nodes[1], None)
('idle', 'invalid')
"""

from __future__ import annotations

import inspect
import zlib
from typing import Any

from .builder_model import BuilderModel

__all__ = ["category_colour", "draw_lists", "drawn_state"]

_VAR = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)

# Category colours avoid the status colours' reds and greens, so a band never reads as a state.
_CATEGORY_COLOURS = ("#7048e8", "#0c8599", "#d6336c", "#e67700", "#1864ab", "#5f3dc4",
                     "#a61e4d", "#087f5b", "#5c7cfa", "#862e9c")


def category_colour(category: str) -> str:
    """A stable, readable band colour for a palette category."""
    return _CATEGORY_COLOURS[zlib.crc32(category.encode()) % len(_CATEGORY_COLOURS)]


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
            "blocked": node.id in result.blocked,
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

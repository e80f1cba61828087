"""Into and out of the builder: expressions built in code, and JSON files.

:func:`model_from_exprs` opens a graph built in code: every distinct node key
becomes one builder node, literal arguments become parameters (those equal to
the default are left out) and Expr arguments become edges; the result is laid
out in layers. The JSON file is the graph spec of
:mod:`pylearn_lab.graph.spec` with builder node ids and a ``meta.builder``
section holding positions, so ``Graph.from_json`` reads a builder file too,
while the builder also saves graphs that are not complete yet.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component(category="demo")
... def ten() -> int:
...     '''Ten.'''
...     return 10
>>> @component(category="demo")
... def halve(x: float, exact: bool = False) -> float:
...     '''Half of x.'''
...     return x / 2
>>> e = halve(ten())
>>> m = model_from_exprs(e)
>>> m.expr.key == e.key
True
>>> model_from_json(model_to_json(m)).expr.key == e.key
True
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import SpecError, UnknownComponentError
from ..graph.expr import Expr
from ..graph.graph import Graph
from ..graph.nodes import Ref, iter_refs, map_refs
from ..graph.spec import SPEC_VERSION, decode_literal, encode_literal, parse_spec
from .builder_build import call_arguments, component_of
from .builder_model import BuilderModel

if TYPE_CHECKING:
    from ..graph.component import Component

__all__ = ["model_from_exprs", "model_from_json", "model_to_json", "named_arguments"]

_P = inspect.Parameter
META_VERSION = 1


def named_arguments(comp: Component, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``args``/``kwargs`` of a call of ``comp`` as ``{parameter name: value}``.

    ``**kwargs`` entries are flattened to their own names; an empty ``*args`` is
    left out. Missing required parameters are allowed (a half-built node).
    """
    sig = comp.signature
    if sig is None:
        return dict(kwargs)
    bound = sig.bind_partial(*args, **kwargs)
    out: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = sig.parameters[name].kind
        if kind == _P.VAR_KEYWORD:
            out.update(value)
        elif kind != _P.VAR_POSITIONAL or value:
            out[name] = value
    return out


def _is_default(comp: Component, name: str, value: Any) -> bool:
    sig = comp.signature
    if sig is None or name not in sig.parameters:
        return False
    default = sig.parameters[name].default
    simple = (bool, int, float, str, type(None))
    return type(value) is type(default) and isinstance(value, simple) and value == default


def model_from_exprs(exprs: Expr | Sequence[Expr] | Graph, layout: bool = True) -> BuilderModel:
    """A builder model holding the graph of ``exprs`` (an Expr, a list or a Graph)."""
    if isinstance(exprs, Graph):
        outs = exprs.exprs()
    elif isinstance(exprs, Expr):
        outs = [exprs]
    else:
        outs = list(exprs)
    for e in outs:
        if not isinstance(e, Expr):
            raise TypeError(
                f"the builder opens Exprs (call a component), a list of them or a Graph; "
                f"received {type(e).__name__} {e!r:.60}"
            )
    model = BuilderModel()
    ids: dict[str, str] = {}
    for e in _walk_all(outs):
        comp = e.component
        values = named_arguments(comp, e.call.args, e.call.kwargs)
        values = {k: map_refs(v, lambda r: Ref(ids[r.key])) for k, v in values.items()
                  if any(iter_refs(v)) or not _is_default(comp, k, v)}
        ids[e.key] = model.add(comp, values, at=(0.0, 0.0))
    if layout:
        model.auto_layout()
    return model


def _walk_all(outs: Sequence[Expr]) -> list[Expr]:
    seen: dict[str, Expr] = {}
    for out in outs:
        for e in out.walk():
            seen.setdefault(e.key, e)
    return list(seen.values())


def model_to_json(model: BuilderModel, indent: int | None = 1) -> str:
    """The builder's graph as a JSON graph spec with positions in ``meta.builder``."""
    nodes = []
    for node in model:
        comp = model.component(node.id)
        where = f"node {model.label(node.id)}"
        args, kwargs = call_arguments(comp, node.params) if comp else ((), node.params)
        nodes.append({
            "id": node.id,
            "component": node.component,
            "args": [encode_literal(a, where) for a in args],
            "kwargs": {k: encode_literal(v, where) for k, v in kwargs.items()},
        })
    meta = {"builder": {"version": META_VERSION,
                        "positions": {n.id: [n.x, n.y] for n in model}}}
    doc = {"pylearn_graph": SPEC_VERSION, "nodes": nodes, "outputs": model.sinks(), "meta": meta}
    return json.dumps(doc, indent=indent)


def model_from_json(text: str | bytes) -> BuilderModel:
    """Rebuild a model from :func:`model_to_json` text (or any ``Graph.to_json()`` text).

    Raises
    ------
    SpecError
        The text is not a graph spec.
    UnknownComponentError
        A node names a component that is not registered.
    """
    doc = parse_spec(text)
    meta = (doc.get("meta") or {}).get("builder") or {}
    positions = meta.get("positions") or {}
    # A plain Graph.to_json() file names nodes by their 32-character keys: rename them.
    rename = {str(n.get("id")): (str(n.get("id")) if meta else f"n{i + 1}")
              for i, n in enumerate(doc["nodes"]) if isinstance(n, dict)}
    model = BuilderModel()
    params: dict[str, dict[str, Any]] = {}
    for i, n in enumerate(doc["nodes"]):
        if not isinstance(n, dict) or not {"id", "component"} <= set(n):
            raise SpecError(f"node #{i} of the spec needs 'id' and 'component', received {n!r:.80}")
        comp = component_of(str(n["component"]))
        if comp is None:
            raise UnknownComponentError(
                f"node {n['id']!r} of the file uses component {n['component']!r}, which is not "
                "registered. Run the cell or import the module that defines it, then load again."
            )
        swap = lambda r: Ref(rename.get(r.key, r.key))
        args = map_refs(decode_literal(n.get("args", [])), swap)
        kwargs = map_refs(decode_literal(n.get("kwargs", {})), swap)
        node_id = rename[str(n["id"])]
        x, y = (positions.get(node_id) or [0.0, 0.0])[:2]
        model.add(comp, at=(x, y), id=node_id)
        params[node_id] = named_arguments(comp, args, kwargs)
    # Links may point at nodes listed later: attach the arguments once every node exists.
    for node_id, values in params.items():
        for ref in iter_refs(values):
            if ref.key not in model.nodes:
                raise SpecError(f"node {node_id!r} refers to node {ref.key!r}, which the file "
                                "does not define")
        model.nodes[node_id].params = values
    model._changed("structure")
    model._counter = max((int(k[1:]) for k in model.nodes if k[1:].isdigit()), default=0)
    if not positions:
        model.auto_layout()
    return model

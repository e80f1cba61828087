"""The recipe half of an experiment record, read off an expression.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component
... def fit(data, lr: float = 0.1):
...     return data
>>> r = recipe(fit([1, 2], lr=0.5))
>>> r["params"], r["label"]
({'data': [1, 2], 'lr': 0.5}, 'fit')
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..cache.records import summarise_param
from ..graph.expr import _binder
from ..graph.nodes import Ref, iter_refs

if TYPE_CHECKING:
    from ..graph.component import Component
    from ..graph.expr import Expr
    from ..hashing.functions import FunctionIdentity

__all__ = ["recipe"]

# The part of a recipe every node of one component shares (function, digest, version,
# label, identity parts), by the identity object it was read from: built once, not per
# node. An entry is used only for that very identity object and the component's own
# name and version as they are now, so a redefined function (a new identity) or a
# renamed component never reads another's. Bounded: cleared when full.
_HEADS: dict[tuple[int, str, str | None, str], tuple[Any, tuple[Any, ...]]] = {}
_HEADS_MAX = 1024


def _head(comp: "Component", ident: "FunctionIdentity") -> tuple[Any, ...]:
    memo = (id(ident), comp.qualname, comp.version, comp.name)
    known = _HEADS.get(memo)
    if known is not None and known[0] is ident:
        return known[1]
    head = (comp.qualname, ident.digest, comp.version or ident.digest[:12], comp.name,
            ident.parts)
    if len(_HEADS) >= _HEADS_MAX:
        _HEADS.clear()
    _HEADS[memo] = (ident, head)  # holding ident keeps its id from being reused
    return head


def _named(comp: "Component", call: Any) -> dict[str, Any]:
    """The call's arguments by parameter name, defaults included (``arg0``... without a
    signature, or when the call does not fit it)."""
    if comp.signature is not None:
        # the keys' own binder: Signature.bind + apply_defaults for a plain signature,
        # without inspect (None for *args/**kwargs or a call that does not fit)
        named = _binder(comp).bind(call.args, call.kwargs)
        if named is not None:
            return named
        try:
            bound = comp.signature.bind(*call.args, **call.kwargs)
            bound.apply_defaults()  # a table's columns follow the signature, defaults included
            return dict(bound.arguments)
        except TypeError:
            pass
    return {f"arg{i}": a for i, a in enumerate(call.args)} | dict(call.kwargs)


def recipe(expr: "Expr") -> dict[str, Any]:
    """Function, version, literal parameters and input keys of ``expr``'s node."""
    comp = expr.component
    func, digest, version, label, parts = _head(comp, comp.identity())
    params: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    ignored = getattr(comp, "ignore", ())
    for name, value in _named(comp, expr.call).items():
        if name in ignored:  # @component(ignore=...): not part of the key, not of the record
            continue
        t = type(value)
        if t is int or t is str or t is bool or value is None:  # what summarise_param keeps
            params[name] = value
        elif t is float:
            params[name] = value if math.isfinite(value) else repr(value)
        elif isinstance(value, Ref):
            inputs[name] = value.key
        else:
            refs = list(iter_refs(value))
            if refs:
                inputs[name] = [r.key for r in refs]
            else:
                params[name] = summarise_param(value)
    return {
        "func": func,
        "func_digest": digest,
        "version": version,
        "label": label,
        "params": params,
        "inputs": inputs,
        "func_parts": parts,
    }

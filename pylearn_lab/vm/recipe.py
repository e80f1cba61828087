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

from typing import TYPE_CHECKING, Any

from ..cache.records import summarise_param
from ..graph.nodes import Ref, iter_refs

if TYPE_CHECKING:
    from ..graph.expr import Expr

__all__ = ["recipe"]


def recipe(expr: "Expr") -> dict[str, Any]:
    """Function, version, literal parameters and input keys of ``expr``'s node."""
    comp = expr.component
    ident = comp.identity()
    call = expr.call
    params: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    named: dict[str, Any]
    if comp.signature is not None:
        try:
            bound = comp.signature.bind(*call.args, **call.kwargs)
            bound.apply_defaults()  # a table's columns follow the signature, defaults included
            named = dict(bound.arguments)
        except TypeError:
            named = {f"arg{i}": a for i, a in enumerate(call.args)} | dict(call.kwargs)
    else:
        named = {f"arg{i}": a for i, a in enumerate(call.args)} | dict(call.kwargs)
    ignored = getattr(comp, "ignore", ())
    for name, value in named.items():
        if name in ignored:  # @component(ignore=...): not part of the key, not of the record
            continue
        refs = list(iter_refs(value))
        if isinstance(value, Ref):
            inputs[name] = value.key
        elif refs:
            inputs[name] = [r.key for r in refs]
        else:
            params[name] = summarise_param(value)
    return {
        "func": comp.qualname,
        "func_digest": ident.digest,
        "version": comp.version or ident.digest[:12],
        "label": comp.name,
        "params": params,
        "inputs": inputs,
        "func_parts": ident.parts,
    }


"""Re-binding named parameters inside an expression graph.

``rebind(expr, {"lr": 0.3})`` returns the same graph with ``lr`` set to 0.3 on
the nearest node (counting from the output) whose component has a parameter
``lr``; ``"mlp.lr"`` names the node by its label when the bare name is
ambiguous. Everything upstream of the changed node is reused as is, so every
point of a sweep shares its dataset and preprocessing nodes (same keys: they
run once).

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component
... def data(n: int = 3) -> list:
...     return list(range(n))
>>> @component
... def scale(xs: list, factor: float = 1.0) -> list:
...     return [x * factor for x in xs]
>>> e = scale(data(), factor=2.0)
>>> rebind(e, {"factor": 3.0})
scale(data(), factor=3.0)
>>> rebind(e, {"n": 5})
scale(data(n=5), factor=2.0)
>>> rebind(e, {"data.n": 5}).inputs[0].key == data(5).key
True

Replicas -- nodes of one component at the same distance from the output whose
argument holds one shared object (not a scalar: equal numbers are a coincidence),
like the estimator of the folds of a cross-validation -- are re-bound together. A name ``a__b`` (scikit-learn's nested naming) sets
parameter ``b`` of the value held by argument ``a``: a copy of an estimator
through its ``set_params``, or the parameter ``b`` of the node that feeds ``a``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

from ..graph.expr import Expr, build_expr

__all__ = ["rebind", "find_target", "find_targets", "bound_arguments"]


def _accepts(e: Expr, param: str) -> bool:
    sig = e.component.signature
    if sig is None:
        return False
    p = sig.parameters.get(param)
    return p is not None and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)


def bound_arguments(e: Expr) -> dict[str, Any]:
    """The node's arguments by parameter name, defaults included (Exprs for inputs)."""
    sig = e.component.signature
    args, kwargs = e._shown
    if sig is None:
        return {f"arg{i}": a for i, a in enumerate(args)} | dict(kwargs)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _levels(expr: Expr) -> list[list[Expr]]:
    """The graph's nodes by distance from the output (each node at its shortest distance)."""
    seen = {expr.key}
    levels = [[expr]]
    while True:
        nxt: list[Expr] = []
        for e in levels[-1]:
            for i in e.inputs:
                if i.key not in seen:
                    seen.add(i.key)
                    nxt.append(i)
        if not nxt:
            return levels
        levels.append(nxt)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float, complex, str, bytes, type(None))):
        return False  # equal scalars are a coincidence, not one shared value: stay ambiguous
    if a is b:
        return True
    if isinstance(a, Expr) or isinstance(b, Expr):
        return isinstance(a, Expr) and isinstance(b, Expr) and a.key == b.key
    from ..hashing.values import hash_value

    try:
        return hash_value(a) == hash_value(b)
    except Exception:  # unhashable values cannot be shown equal: not replicas
        return False


def _replicas(hits: list[Expr], param: str) -> bool:
    """Nodes of one component holding one value for ``param`` (the folds of a CV)."""
    first = hits[0]
    value = bound_arguments(first)[param]
    return all(h.component.qualname == first.component.qualname
               and _same_value(bound_arguments(h)[param], value) for h in hits[1:])


def find_targets(expr: Expr, name: str) -> tuple[list[Expr], str]:
    """The nodes and parameter that ``name`` refers to: one node, or replicas of one call.

    Raises
    ------
    KeyError
        No node has that parameter, or the bare name is ambiguous.
    """
    label, _, param = name.rpartition(".")
    levels = _levels(expr)
    candidates = ([[e for lvl in levels for e in lvl if e.label == label and _accepts(e, param)]]
                  if label else [[e for e in lvl if _accepts(e, param)] for lvl in levels])
    for hits in candidates:
        if len(hits) > 1 and _replicas(hits, param):
            return hits, param
        if hits:
            break
    target, param = find_target(expr, name)
    return [target], param


def find_target(expr: Expr, name: str) -> tuple[Expr, str]:
    """The node and parameter that ``name`` (``"lr"`` or ``"mlp.lr"``) refers to.

    Raises
    ------
    KeyError
        No node has that parameter, or the bare name is ambiguous.
    """
    label, _, param = name.rpartition(".")
    levels = _levels(expr)
    if label:
        hits = [e for lvl in levels for e in lvl if e.label == label and _accepts(e, param)]
        if len(hits) == 1:
            return hits[0], param
        if hits:
            raise KeyError(
                f"{len(hits)} different {label!r} nodes in {expr!r:.80} have a parameter "
                f"{param!r}; sweep the node you mean by passing that sub-expression instead."
            )
    else:
        for lvl in levels:
            hits = [e for e in lvl if _accepts(e, param)]
            if len(hits) == 1:
                return hits[0], param
            if hits:
                options = ", ".join(sorted({f"'{e.label}.{param}'" for e in hits}))
                raise KeyError(
                    f"parameter {param!r} is ambiguous in {expr!r:.80}: several nodes at the "
                    f"same distance from the output have it. Name one: {options}."
                )
    available = sorted({f"{e.label}.{p}" for lvl in levels for e in lvl
                        for p in (e.component.signature.parameters if e.component.signature else ())
                        if _accepts(e, p)})
    raise KeyError(
        f"no node of {expr!r:.80} has a parameter {name!r}. Parameters you can sweep: "
        f"{', '.join(available) or 'none'}."
    )


def _with_value(e: Expr, param: str, value: Any) -> Expr:
    sig = e.component.signature
    assert sig is not None  # _accepts checked it
    args, kwargs = list(e._shown[0]), dict(e._shown[1])
    names = list(sig.parameters)
    at = names.index(param)
    positional = all(sig.parameters[n].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                inspect.Parameter.POSITIONAL_OR_KEYWORD)
                     for n in names[: at + 1])
    if positional and at < len(args):
        args[at] = value  # keep the caller's style: passed positionally, replaced in place
    else:
        kwargs[param] = value
    return build_expr(e.component, args, kwargs)


def rebind(expr: Expr, values: Mapping[str, Any]) -> Expr:
    """A copy of ``expr`` with each named parameter set to its new value (see module doc)."""
    if not isinstance(expr, Expr):
        raise TypeError(
            f"rebind() expected an Expr (call a component to make one), received "
            f"{type(expr).__name__}."
        )
    current = expr
    # an estimator is chosen before the names that tune it: "estimator" before "estimator__C"
    for name in sorted(values, key=lambda n: n.count("__")):
        value = values[name]
        head, _, nested = name.partition("__")
        targets, param = find_targets(current, head if nested else name)
        if nested:
            value = _nested_value(bound_arguments(targets[0])[param], nested, value, name)
            if isinstance(value, tuple) and value[0] == "expr":  # the feeding node was re-bound
                current = current.replace({value[1]: value[2]})
                continue
        swap = {t: _with_value(t, param, value) for t in targets}
        if len(targets) == 1 and targets[0].key == current.key:
            current = swap[targets[0]]
        else:
            current = current.replace(swap)
    return current


def _nested_value(old: Any, nested: str, value: Any, name: str) -> Any:
    """``old`` with its parameter ``nested`` set to ``value`` (an estimator or an Expr)."""
    if isinstance(old, Expr):
        return ("expr", old, rebind(old, {nested: value}))
    if hasattr(old, "set_params") and hasattr(old, "get_params"):
        new = copy.deepcopy(old)  # never mutate the estimator the user holds
        try:
            new.set_params(**{nested: value})
        except ValueError as exc:
            raise KeyError(f"cannot set {name!r}: {exc}") from None
        return new
    raise KeyError(
        f"{name!r} names parameter {nested!r} of argument {name.partition('__')[0]!r}, but "
        f"that argument holds a {type(old).__name__}, which has no set_params(). The "
        "'a__b' form tunes scikit-learn estimators (or the node that feeds 'a')."
    )

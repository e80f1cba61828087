"""Turn the builder's nodes into expressions, collecting problems per node.

Building calls each registered component exactly as code would, so the keys
the builder shows are the keys a script gets. A node that cannot be built
(missing input, value violating its annotation, unknown component) gets a
:class:`Problem` naming the parameter; the nodes downstream of it are
*blocked*, not failed, so the canvas points at the one thing to fix.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component(category="demo")
... def scaled(x: float, k: float = 2.0) -> float:
...     '''x times k.'''
...     return x * k
>>> call_arguments(scaled, {"x": 1.5, "k": 3.0})
((), {'x': 1.5, 'k': 3.0})
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ParameterTypeError, SignatureError, UnhashableError, UnknownComponentError
from ..graph.expr import Expr
from ..graph.nodes import Ref, iter_refs, map_refs
from ..graph.params import check_literal
from ..graph.registry import lookup

if TYPE_CHECKING:
    from ..graph.component import Component
    from .builder_model import BuilderModel

__all__ = ["BuildResult", "Problem", "build_all", "call_arguments", "component_of", "preflight",
           "signature_of"]

_P = inspect.Parameter


@dataclass(frozen=True)
class Problem:
    """Why a node cannot run: ``param`` is the parameter at fault (``None``: the node)."""

    param: str | None
    message: str


@dataclass
class BuildResult:
    """The outcome of building every node.

    Attributes
    ----------
    exprs : dict
        ``node id -> Expr`` for every node that could be built.
    problems : dict
        ``node id -> [Problem]`` for the nodes that cannot run as they are.
    blocked : dict
        ``node id -> [upstream ids]`` for nodes waiting on a node with problems.
    """

    exprs: dict[str, Expr] = field(default_factory=dict)
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    blocked: dict[str, list[str]] = field(default_factory=dict)


def component_of(qualname: str) -> Component | None:
    """The registered component called ``qualname``, or ``None``."""
    try:
        return lookup(qualname)
    except UnknownComponentError:
        return None


def signature_of(comp: Component | None) -> inspect.Signature | None:
    return None if comp is None else comp.signature


def call_arguments(comp: Component, values: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(args, kwargs)`` calling ``comp`` with ``values`` by parameter name.

    Keywords wherever Python allows, except leading inputs fed by edges (they read
    best positionally: ``pca(standardize_1, n=2)``). Positional-only and ``*args``
    parameters go positionally, with the defaults of the parameters before them
    filled in, as Python requires; names the signature lacks go to ``**kwargs``.
    """
    sig = comp.signature
    if sig is None:
        return (), dict(values)
    params = list(sig.parameters.values())
    must = max(
        (i for i, p in enumerate(params)
         if p.name in values and p.kind in (_P.POSITIONAL_ONLY, _P.VAR_POSITIONAL)
         and (p.kind != _P.VAR_POSITIONAL or values[p.name])),
        default=-1,
    )
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    leading = True
    for i, p in enumerate(params):
        if p.kind == _P.VAR_KEYWORD:
            kwargs.update({k: v for k, v in values.items() if k not in sig.parameters})
            continue
        present = p.name in values
        if i <= must:
            if p.kind == _P.VAR_POSITIONAL:
                args.extend(values.get(p.name, ()))
            elif present or p.default is not _P.empty:
                args.append(values[p.name] if present else p.default)
            continue
        if not present:
            leading = False
            continue
        value = values[p.name]
        if leading and p.kind == _P.POSITIONAL_OR_KEYWORD and isinstance(value, (Ref, Expr)):
            args.append(value)
        elif p.kind in (_P.POSITIONAL_ONLY, _P.VAR_POSITIONAL):
            args.extend(value if p.kind == _P.VAR_POSITIONAL else (value,))
        else:
            leading = False
            kwargs[p.name] = value
    return tuple(args), kwargs


def check_node(comp: Component, params: Mapping[str, Any]) -> list[Problem]:
    """Missing required parameters and literals violating their annotations."""
    sig = comp.signature
    if sig is None:
        return []
    problems = []
    specs = {s.name: s for s in comp.params}
    takes_extra = any(p.kind == _P.VAR_KEYWORD for p in sig.parameters.values())
    for name in params:
        if name not in specs and not takes_extra or (
            name in specs and sig.parameters[name].kind == _P.VAR_KEYWORD
        ):
            problems.append(Problem(name, (
                f"{comp.name}() has no parameter {name!r}; expected one of {list(specs)}. "
                "Remove it (the component's signature changed?)."
            )))
    for spec in specs.values():
        if spec.variadic:
            continue
        if spec.name not in params:
            if spec.required:
                problems.append(Problem(spec.name, (
                    f"input {spec.name!r} is not connected: drag an edge into it or type a "
                    "value in the inspector" if spec.kind == "any" else
                    f"required parameter {spec.name!r} ({spec.kind}) has no value: set it in "
                    "the inspector"
                )))
            continue
        value = params[spec.name]
        if any(iter_refs(value)):
            continue
        try:
            check_literal(spec, value, f"parameter {spec.name!r}")
        except ParameterTypeError as exc:
            problems.append(Problem(spec.name, str(exc)))
    return problems


def _order(model: BuilderModel) -> tuple[list[str], set[str]]:
    """Node ids, inputs first; plus the ids on a cycle (only a hand-edited file has one)."""
    state: dict[str, int] = {}
    order: list[str] = []
    cyclic: set[str] = set()

    def visit(k: str, path: list[str]) -> None:
        if state.get(k) == 2:
            return
        if state.get(k) == 1:
            cyclic.update(path[path.index(k):])
            return
        state[k] = 1
        for d in model.dependencies(k):
            if d in model.nodes:
                visit(d, path + [k])
        state[k] = 2
        order.append(k)

    for k in model.nodes:
        visit(k, [])
    return order, cyclic


def build_all(model: BuilderModel) -> BuildResult:
    """Build an Expr for every node of ``model`` that can be built."""
    result = BuildResult()
    order, cyclic = _order(model)
    for node_id in order:
        node = model.nodes[node_id]
        comp = model.resolve(node.component)
        if comp is None:
            result.problems[node_id] = [Problem(None, (
                f"component {node.component!r} is not registered: run the cell or import the "
                "module that defines it, then press refresh"
            ))]
            continue
        if node_id in cyclic:
            result.problems[node_id] = [Problem(None, (
                "this node is on a loop of edges; delete one of the edges of the loop"
            ))]
            continue
        problems = check_node(comp, node.params)
        missing = [d for d in model.dependencies(node_id) if d not in model.nodes]
        problems += [Problem(None, f"an edge comes from node {d!r}, which does not exist")
                     for d in missing]
        if problems:
            result.problems[node_id] = problems
            continue
        waiting = [d for d in model.dependencies(node_id) if d not in result.exprs]
        if waiting:
            result.blocked[node_id] = waiting
            continue
        values = map_refs(node.params, lambda r: result.exprs[r.key])
        try:
            args, kwargs = call_arguments(comp, values)
            expr = comp(*args, **kwargs)
        except (SignatureError, ParameterTypeError, UnhashableError, TypeError) as exc:
            result.problems[node_id] = [Problem(None, str(exc))]
            continue
        early = preflight(comp, node.params, result.exprs, model.known_value)
        if early:
            result.problems[node_id] = early
        else:
            result.exprs[node_id] = expr
    return result


def preflight(comp: Component, params: Mapping[str, Any], exprs: Mapping[str, Expr],
              known_value: Any) -> list[Problem]:
    """Problems the component's own ``preflight`` hook finds before anything runs.

    A component may carry ``preflight(literals, inputs) -> {param: message}``:
    ``literals`` are its literal arguments by name, ``inputs`` the values of the
    upstream nodes the builder already holds (from the last run or the cache),
    by parameter name. ``pca`` uses it to refuse more components than its input
    has features. A hook that raises is ignored: it is a hint, never a gate on
    running.
    """
    hook = getattr(comp, "preflight", None)
    if hook is None:
        return []
    literals = {k: v for k, v in params.items() if not any(iter_refs(v))}
    inputs: dict[str, Any] = {}
    if known_value is not None:
        for name, v in params.items():
            if isinstance(v, Ref) and v.key in exprs:
                try:
                    inputs[name] = known_value(exprs[v.key].key)
                except LookupError:
                    pass
    try:
        found = hook(literals, inputs) or {}
    except Exception:
        return []
    return [Problem(k, str(m)) for k, m in dict(found).items()]

"""Does a parameter's annotation admit what another node returns?

The builder refuses an edge whose source's return annotation cannot fit the
destination parameter's annotation (a ``Model`` into ``data: Dataset | Split``),
before anything runs. The rule is deliberately permissive where Python is:
a missing annotation, ``Any``, a ``TypeVar``, a string that does not resolve
or a generic the rule does not understand all admit everything, so an edge is
refused only when the two annotations are classes that can never match.
A union on the source side is admitted when *some* member fits (it may return
that one at run time); on the destination side when some member admits it.
``int`` fits ``float`` and ``complex`` (the numeric tower Python accepts).

Examples
--------
>>> admits(float, int), admits(int, float)
(True, False)
>>> admits(int | str, bool), admits(list[int], list[str]), admits(None, dict)
(True, True, True)
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

__all__ = ["admits", "describe_annotation", "return_annotation"]

_NUMERIC = {float: (int, float), complex: (int, float, complex)}


def _strip(ann: Any) -> Any:
    if typing.get_origin(ann) is typing.Annotated:
        return typing.get_args(ann)[0]
    return ann


def _members(ann: Any) -> list[Any] | None:
    """The classes ``ann`` stands for; ``None`` for "anything" (unknown or too fancy)."""
    ann = _strip(ann)
    if ann is None or ann is inspect.Parameter.empty or ann is typing.Any or ann is object:
        return None
    if isinstance(ann, (str, typing.TypeVar, typing.ForwardRef)):
        return None
    origin = typing.get_origin(ann)
    if origin is typing.Union or origin is types.UnionType:
        out: list[Any] = []
        for a in typing.get_args(ann):
            m = _members(a)
            if m is None:
                return None
            out += m
        return out
    if origin is typing.Literal:
        return list({type(v) for v in typing.get_args(ann)})
    if origin is not None:
        return [origin] if isinstance(origin, type) else None
    if ann is type(None):
        return [type(None)]
    return [ann] if isinstance(ann, type) else None


def _fits(src: type, dst: type) -> bool:
    if any(isinstance(src, type) and issubclass(src, t) for t in _NUMERIC.get(dst, ())):
        return True
    try:
        return issubclass(src, dst)
    except TypeError:
        return True


def admits(param_annotation: Any, returned: Any) -> bool:
    """Whether a value annotated ``returned`` may be passed where ``param_annotation`` is."""
    dst, src = _members(param_annotation), _members(returned)
    if dst is None or src is None:
        return True
    return any(_fits(s, d) for s in src for d in dst)


def return_annotation(fn: Any) -> Any:
    """``fn``'s resolved return annotation (``None`` when it has none or it cannot resolve)."""
    fn = getattr(fn, "__pylearn_component_fn__", fn)
    try:
        return typing.get_type_hints(fn, include_extras=True).get("return")
    except Exception:  # an unresolvable forward reference: admit everything
        return None


def describe_annotation(ann: Any) -> str:
    """``Dataset | Split`` rather than ``pylearn_lab.components.data.Dataset | ...``."""
    ann = _strip(ann)
    if ann is None or ann is inspect.Parameter.empty:
        return "anything"
    if isinstance(ann, type) and typing.get_origin(ann) is None:
        return ann.__name__
    return inspect.formatannotation(ann).replace("pylearn_lab.components.data.", "")

"""What a component's parameters accept, read from its signature and annotations.

One reading serves two users: argument checking when an expression is built
(a literal that violates a simple annotation fails at the call), and the
builder's inspector form (sliders for bounded numbers, dropdowns for choices).

Bounds are declared with ``typing.Annotated``::

    def pca(data, n: Annotated[int, Bounds(1, 50)] = 2): ...

Examples
--------
>>> from typing import Literal
>>> def f(data, n: int = 2, kind: Literal["a", "b"] = "a"): ...
>>> [(p.name, p.kind, p.required) for p in param_specs(f)]
[('data', 'any', True), ('n', 'int', False), ('kind', 'choice', False)]
"""

from __future__ import annotations

import enum
import inspect
import reprlib
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterTypeError

__all__ = ["Bounds", "ParamSpec", "param_specs", "check_literal"]


@dataclass(frozen=True, eq=False)
class Bounds:
    """Inclusive numeric bounds for a parameter, used in ``Annotated[...]``."""

    # eq=False: typing caches Annotated[...] by equality, and Bounds(0, 10) == Bounds(0.0, 10.0)
    # would make one component's form show another's bounds, depending on import order.

    low: float
    high: float
    step: float | None = None


@dataclass(frozen=True)
class ParamSpec:
    """One parameter as the builder and the argument checker see it.

    ``kind`` is one of ``"int"``, ``"float"``, ``"bool"``, ``"str"``,
    ``"choice"`` (with ``choices``) or ``"any"`` (an input fed by an edge, or
    an arbitrary value).
    """

    name: str
    kind: str
    required: bool
    default: Any = None
    choices: tuple[Any, ...] = ()
    bounds: Bounds | None = None
    optional: bool = False  # ``None`` is allowed too
    variadic: bool = False
    annotation: Any = field(default=None, repr=False)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        return dict(getattr(fn, "__annotations__", {}) or {})


def _classify(ann: Any) -> tuple[str, tuple[Any, ...], Bounds | None, bool]:
    bounds = None
    if typing.get_origin(ann) is typing.Annotated:
        base, *extras = typing.get_args(ann)
        bounds = next((e for e in extras if isinstance(e, Bounds)), None)
        ann = base
    optional = False
    origin = typing.get_origin(ann)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        optional = len(args) < len(typing.get_args(ann))
        if len(args) != 1:
            return "any", (), None, optional
        ann = args[0]
        origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return "choice", tuple(typing.get_args(ann)), None, optional
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return "choice", tuple(ann), None, optional
    for typ, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
        if ann is typ:
            return kind, (), bounds, optional
    return "any", (), None, optional


def param_specs(fn: Callable[..., Any]) -> list[ParamSpec]:
    """Read ``fn``'s parameters into :class:`ParamSpec` records (signature order)."""
    fn = getattr(fn, "__pylearn_component_fn__", fn)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    hints = _hints(fn)
    specs = []
    for p in sig.parameters.values():
        kind, choices, bounds, optional = _classify(hints.get(p.name, p.annotation))
        variadic = p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        required = p.default is p.empty and not variadic
        specs.append(ParamSpec(
            p.name, kind, required, None if p.default is p.empty else p.default,
            choices, bounds, optional or p.default is None, variadic, hints.get(p.name),
        ))
    return specs


def check_literal(spec: ParamSpec, value: Any, where: str) -> Any:
    """Return ``value`` as the function will receive it, or raise :class:`ParameterTypeError`.

    Only simple annotations are checked (numbers, bool, str, choices, bounds);
    anything else is accepted, as Python itself would.

    Numbers follow their annotation, and the function receives the converted
    value (so the key always describes what runs):

    * ``float``: an int or numpy number becomes the equal Python float, so
      ``C=1`` and ``C=1.0`` are one call and one key (refused if the int has
      no exact float, e.g. ``2**60 + 1``);
    * ``int``: a numpy integer becomes a Python int; a float with an integral
      value (``6.0``) becomes ``6``; ``6.5``, ``nan`` or ``inf`` are refused.

    Examples
    --------
    >>> spec = ParamSpec("C", "float", False, 1.0)
    >>> check_literal(spec, 1, "C"), type(check_literal(spec, 1, "C")).__name__
    (1.0, 'float')
    >>> check_literal(ParamSpec("depth", "int", False, 3), 6.0, "depth")
    6
    """
    kind = spec.kind
    if kind == "any" or (value is None and spec.optional):
        return value
    t = type(value)
    if (t is int and kind == "int") or (t is float and kind == "float") or (t is str and kind == "str"):
        b = spec.bounds  # the common case, without the conversions below (every key pays it)
        if b is None or b.low <= value <= b.high:
            return value
    ok = True
    if spec.kind == "bool":
        ok = isinstance(value, bool) or _is_np_bool(value)
        value = bool(value) if ok else value
    elif spec.kind == "int":
        value, ok = _as_int(value)
    elif spec.kind == "float":
        value, ok = _as_float(value, where)
    elif spec.kind == "str":
        ok = isinstance(value, str)
    elif spec.kind == "choice":
        ok = _in_choices(value, spec.choices)
        if not ok:
            raise ParameterTypeError(
                f"{where}: expected one of {list(spec.choices)!r}, received {_short(value)}. "
                "Pick one of the listed values."
            )
    if not ok:
        raise ParameterTypeError(
            f"{where}: expected {spec.kind}, received {type(value).__name__} {_short(value)}. "
            f"Pass a {spec.kind} (the parameter is annotated {spec.annotation!r})."
            + (" A float is accepted for an int only when it is integral (6.0 -> 6)."
               if spec.kind == "int" and isinstance(value, float) else "")
        )
    b = spec.bounds
    if b is not None and not (b.low <= value <= b.high):
        raise ParameterTypeError(
            f"{where}: expected a value in [{b.low}, {b.high}], received {_short(value)}. "
            "Pass a value inside the annotated bounds."
        )
    return value


def _short(value: Any) -> str:
    """A bounded repr for messages: deep, huge or self-referencing values never crash it."""
    try:
        return reprlib.repr(value)[:80]
    except Exception:  # noqa: BLE001 -- a broken __repr__ must not hide the real error
        return f"<{type(value).__name__}>"


def _in_choices(value: Any, choices: tuple[Any, ...]) -> bool:
    try:
        return any(value is c or (type(value) is type(c) and value == c) for c in choices) or (
            value in choices and not isinstance(value, bool))
    except Exception:  # noqa: BLE001 -- an array compared element-wise, an odd __eq__
        return False


def _as_int(value: Any) -> tuple[Any, bool]:
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return value, False
    if isinstance(value, int):
        return value, True
    if isinstance(value, np.integer):
        return int(value), True
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return int(value), True
    return value, False


def _as_float(value: Any, where: str) -> tuple[Any, bool]:
    if isinstance(value, (bool, np.bool_)):
        return value, False
    if isinstance(value, float) and type(value) is float:
        return value, True
    if isinstance(value, (int, float, np.integer, np.floating)):
        out = float(value)
        if isinstance(value, (int, np.integer)) and int(out) != int(value):
            raise ParameterTypeError(
                f"{where}: expected a float, received the int {_short(value)}, which no float equals "
                "exactly. Pass a float (or an int below 2**53).")
        if isinstance(value, np.floating) and np.dtype(type(value)).itemsize > 8:
            return value, True  # a longdouble would lose precision as a Python float
        return out, True
    return value, False


def _is_np_bool(value: Any) -> bool:
    return isinstance(value, np.bool_)


def _is_np_int(value: Any) -> bool:
    return isinstance(value, np.integer)


def _is_np_real(value: Any) -> bool:
    return isinstance(value, (np.integer, np.floating))

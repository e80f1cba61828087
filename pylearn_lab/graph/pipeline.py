"""``pipeline([a, b, c])``: the linear form of an experiment.

The linear form is sugar: it builds exactly the graph (and keys) of the nested
form ``c(b(a()))``, so a step can be commented out with one ``#`` and the rest
stays cached.

Examples
--------
>>> import functools
>>> from pylearn_lab.graph import component
>>> @component
... def start() -> int:
...     return 2
>>> @component
... def scale(x: int, by: int = 1) -> int:
...     return x * by
>>> p = pipeline([start, functools.partial(scale, by=10), scale])
>>> p.key == scale(scale(start(), by=10)).key
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .expr import Expr

__all__ = ["pipeline"]


def pipeline(steps: Sequence[Any]) -> Expr:
    """Chain ``steps``: the first is an Expr or a component called with no arguments;
    each next step is called with the previous step's expression.

    Parameters
    ----------
    steps : sequence
        Components, ``functools.partial`` of components (to fix parameters),
        or an :class:`Expr` as the first step.

    Returns
    -------
    Expr
        The last step's expression.
    """
    steps = list(steps)
    if not steps:
        raise ValueError(
            "pipeline() expected a non-empty list of steps, received []. "
            "Pass e.g. [load_iris, standardize, pca]."
        )
    first, *rest = steps
    current = first if isinstance(first, Expr) else _apply(first, (), 0)
    for i, step in enumerate(rest, start=1):
        current = _apply(step, (current,), i)
    return current


def _apply(step: Any, args: tuple[Any, ...], index: int) -> Expr:
    if not callable(step):
        raise TypeError(
            f"pipeline step {index} must be a component or functools.partial of one, "
            f"received {type(step).__name__} {step!r:.60}."
        )
    out = step(*args)
    if not isinstance(out, Expr):
        raise TypeError(
            f"pipeline step {index} ({getattr(step, '__name__', step)!r}) returned "
            f"{type(out).__name__}, not an expression: decorate it with @component."
        )
    return out

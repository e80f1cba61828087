"""``%pylearn sweep TARGET name=v1,v2 other=[...]``: a grid sweep from one line.

``TARGET`` names a component or an expression in the namespace (looked up,
never evaluated); each ``name=values`` gives one axis: comma-separated Python
literals, or one list literal. Names follow :func:`pylearn_lab.sweep`
(``lr``, ``mlp.lr``, ``estimator__C``). The sweep runs on the session's
backend and cache; the :class:`~pylearn_lab.jobs.sweep.SweepResult` is
returned (and kept as ``_sweep``), its table shown.

Examples
--------
>>> parse_axes(["lr=0.1,0.3", "depth=[1, 2]", "kind='a'"])
{'lr': [0.1, 0.3], 'depth': [1, 2], 'kind': ['a']}
"""

from __future__ import annotations

import ast
import re
from typing import Any

from IPython.core.error import UsageError

from ..graph.component import Component
from ..graph.expr import Expr
from .session import lookup

__all__ = ["parse_axes", "sweep_command"]

_USAGE = "%pylearn sweep TARGET name=v1,v2 [name=[...]] [--backend NAME] [--no-cache]"


def _literal(text: str, name: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise UsageError(
            f"%pylearn sweep: the values of {name!r} must be Python literals (numbers, strings, "
            f"None, lists), received {text!r}. Quote strings: {name}='a','b'.") from None


def parse_axes(words: list[str]) -> dict[str, list[Any]]:
    """``["lr=0.1,0.3"]`` -> ``{"lr": [0.1, 0.3]}`` (see the module doc)."""
    axes: dict[str, list[Any]] = {}
    for word in words:
        name, eq, values = word.partition("=")
        if not eq or not name or not values:
            raise UsageError(f"%pylearn sweep: expected name=values, received {word!r}. "
                             f"Usage: {_USAGE}")
        value = _literal(values if values.lstrip().startswith("[") else f"[{values}]", name)
        axes[name.strip()] = value if isinstance(value, list) else [value]
    return axes


def sweep_command(shell: Any, rest: str) -> Any:
    """Carry out ``%pylearn sweep``: returns the SweepResult."""
    from ..jobs.sweep import sweep

    backend, cache = None, None
    if re.search(r"(^|\s)--no-cache(\s|$)", rest):
        rest, cache = re.sub(r"(^|\s)--no-cache(?=\s|$)", " ", rest), False
    found = re.search(r"(^|\s)--backend(\s+(\S+))?", rest)
    if found:
        if not found.group(3):
            raise UsageError(f"%pylearn sweep: --backend expected a name. Usage: {_USAGE}")
        backend = found.group(3)
        rest = rest[:found.start()] + " " + rest[found.end():]
    # one axis per "name=..." (values may hold spaces: depth=[1, 2])
    words = [w for w in re.split(r"\s+(?=[A-Za-z_][\w.]*=)", rest.strip()) if w]
    if words and "=" in words[0].split()[0]:
        words = [""] + words
    if not words or not words[0]:
        raise UsageError(f"%pylearn sweep expected a component or expression name. Usage: {_USAGE}")
    target_name, axes_words = words[0].strip(), words[1:]
    if len(target_name.split()) > 1:
        bad = target_name.split()[1]
        raise UsageError(f"%pylearn sweep: expected name=values, received {bad!r}. Usage: {_USAGE}")
    target = lookup(shell.user_ns, target_name)
    if not isinstance(target, (Component, Expr)):
        raise UsageError(f"%pylearn sweep expected a component or an expression in "
                         f"{target_name!r}, received {type(target).__name__}.")
    if not axes_words:
        raise UsageError(f"%pylearn sweep needs at least one axis name=values. Usage: {_USAGE}")
    try:
        result = sweep(target, grid=parse_axes(axes_words), backend=backend, cache=cache)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"%pylearn sweep: {exc.args[0] if exc.args else exc}") from None
    shell.user_ns["_sweep"] = result
    return result

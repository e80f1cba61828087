"""``%pylearn run EXPR``: evaluate expressions from the namespace, with live progress.

``EXPR`` is a variable name, an attribute path, or several of them separated
by commas; it is looked up, never evaluated. The value must be an
:class:`~pylearn_lab.graph.expr.Expr` (or a list/tuple of them). The run is
the same :func:`pylearn_lab.run` that code calls, with a
:class:`~.progress.RunProgress` callback; afterwards one line counts the
outcomes and the time the cache saved (the recorded durations of the nodes
served from it).

Examples
--------
>>> exprs_of(3, "x")
Traceback (most recent call last):
...
IPython.core.error.UsageError: %pylearn run expected an expression graph (call a @component to build one) in 'x', received int. Build one with e.g. x = my_component(data).
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from ..cache.cache import get_default_cache
from ..errors import BackendError, NodeError
from ..graph.expr import Expr
from .cell import describe_seconds
from .progress import RunProgress
from .session import lookup, split_names

__all__ = ["exprs_of", "run_command", "time_saved"]


def exprs_of(value: Any, name: str) -> list[Expr]:
    """The expressions held by ``value`` (an Expr, or a list/tuple of them)."""
    if isinstance(value, Expr):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Expr) for v in value):
        return list(value)
    raise UsageError(
        f"%pylearn run expected an expression graph (call a @component to build one) in "
        f"{name!r}, received {type(value).__name__}. Build one with e.g. "
        f"{name.split('.')[0]} = my_component(data)."
    )


def time_saved(cache: Any, keys: list[str]) -> float:
    """Sum of the recorded compute durations of ``keys`` (what serving them saved)."""
    if cache is None or not keys:
        return 0.0
    return float(sum(r.duration or 0.0 for r in cache.records(keys=keys)))


def run_command(shell: Any, args: Any) -> Any:
    """Carry out ``%pylearn run`` (``args`` parsed by the magic); returns the value(s)."""
    from ..vm.loop import run

    names = split_names(" ".join(args.expr), "expressions", "%pylearn run")
    exprs: list[Expr] = []
    shapes: list[int] = []  # how many exprs each name contributed, to rebuild the shape
    for n in names:
        value = lookup(shell.user_ns, n)
        got = exprs_of(value, n)
        exprs += got
        shapes.append(0 if isinstance(value, Expr) else len(got))
    if args.output is not None and not args.output.isidentifier():
        raise UsageError(f"-o expected a variable name, received {args.output!r}.")
    cache = False if args.no_cache else get_default_cache()
    in_kernel = getattr(shell, "kernel", None) is not None
    progress = RunProgress("widget" if in_kernel else "text", title=", ".join(names))
    try:
        values = run(exprs, backend=args.backend, cache=cache, callbacks=[progress],
                     progress=False)
    except BackendError as exc:
        raise UsageError(str(exc)) from None
    except NodeError:
        print(_summary(progress, cache))
        raise
    print(_summary(progress, cache))
    result = _reshape(values, shapes)
    if args.output:
        shell.user_ns[args.output] = result
        return None
    return result


def _reshape(values: list[Any], shapes: list[int]) -> Any:
    out: list[Any] = []
    i = 0
    for n in shapes:
        if n == 0:
            out.append(values[i])
            i += 1
        else:
            out.append(values[i : i + n])
            i += n
    return out[0] if len(out) == 1 else out


def _summary(progress: RunProgress, cache: Any) -> str:
    saved = time_saved(cache or None, progress.cached_keys)
    text = f"pylearn run: {progress.describe()} in {describe_seconds(progress.elapsed)}"
    if progress.cached_keys:
        text += f"; the cache saved {describe_seconds(saved)}"
    return text

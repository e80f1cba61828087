"""``%%pylearn``: a notebook cell as a node of the graph, run through ``run()``.

The cell becomes one node (see :mod:`.cellkey`): a component whose function is
the cell's code and whose arguments are the values it reads. ``run()`` then
keys it, looks it up, computes it on a miss -- here, in the notebook namespace,
or with ``--backend`` on a worker as a function of its inputs -- stores its
:class:`~.execute.CellValue` with a record like any node's (so
``%pylearn cache ls %%pylearn``, the results table, ``pl.lineage`` and
``pl.why`` see cells too), and emits the same events.

On a hit the cell does not run: the names it assigns (or those given with
``-o``) are put back into the namespace, what it printed is printed again,
what it displayed (DataFrame HTML, matplotlib figures, widget fallbacks; see
:mod:`.richout`) is displayed again, and one line says it came from the cache.
The node of the last cell is kept as ``_cell``: ``pl.lineage(_cell)``,
``pl.why(_cell)``. A hit also deletes again the inputs the cell deleted, and a
function or class the cell defined is rebound to the live namespace (unpickled,
it would read a frozen copy of the globals). What a cached cell promises and
where it stops is in docs/keys.md ("``%%pylearn`` cells").

An input the cell changes in place (``df["ratio"] = ...`` on a DataFrame it
did not create) is found by hashing the inputs again after the cell: its new
value is then stored as an output and restored on a hit, with a one-line
note; when that value cannot be stored, the cell is not cached and one line
says why. (Cost: on a miss, every input that could change -- not code,
modules or scalars -- is hashed twice more, before and after the cell.)

Examples
--------
In a notebook (the second run of the same cell, with the same ``x``, is a hit)::

    %%pylearn --name double
    print("computing")
    y = x * 2
"""

from __future__ import annotations

import types
from typing import Any

from IPython.core.error import UsageError

from ..backends.registry import get_backend
from ..cache.cache import get_default_cache
from ..errors import NodeError, UnpicklableError
from ..jobs import check_picklable
from ..vm.loop import run
from .cellkey import plan_cell
from .execute import FILENAME, CellNotCached, CellNotStored, CellValue, write_captured
from .richout import replay
from .session import MagicSession

__all__ = ["describe_seconds", "run_cell"]

_LOCAL = (None, "", "local", "serial")


def run_cell(shell: Any, session: MagicSession, args: Any, cell: str) -> Any:
    """Run (or serve from the cache) one ``%%pylearn`` cell; returns its trailing value."""
    outputs = _output_names(args.output) if args.output else None
    here = args.backend in _LOCAL
    label = args.name or "cell"
    plan = plan_cell(shell.transform_cell(cell), shell.user_ns, shell.user_ns_hidden, outputs,
                     hashed=not args.no_cache, shell=shell if here else None, label=label,
                     raw=cell)
    backend = "serial" if here else _backend(args.backend, plan.inputs)
    failure: BaseException | None = None
    value: CellValue | None = None
    try:
        # here the cell's own output is its progress (a bar would be recorded and replayed);
        # on a worker the run's bar shows as for any run longer than a second
        value = run(plan.expr, backend=backend, cache=False if args.no_cache else
                    get_default_cache(), progress=False if here else None)
    except CellNotCached:  # ran here, fine, and said why it is not stored
        value = plan.code.refused
    except CellNotStored as err:
        failure = UsageError(getattr(err, "cause_msg", str(err)))  # a NodeError too
    except NodeError as err:
        failure = _user_error(err, plan.code.error, plan.code.error_tb, args.backend)
    if failure is not None:  # raised outside the except: no "during handling" noise
        session.cell_misses += 1
        raise failure
    assert value is not None
    if not args.no_cache:
        shell.user_ns["_cell"] = plan.expr
    if value.run != plan.code.run:  # not computed by this run: served from the cache
        return _serve(shell, session, value, label)
    session.cell_misses += 1
    if not here:
        write_captured(value.stdout, value.stderr)
        _restore(shell.user_ns, value)
    return value.live if value.live is not None else value.result


def _backend(name: str, inputs: dict[str, Any]) -> Any:
    """The backend named by ``--backend``, once every input can travel to it."""
    try:
        backend = get_backend(name)
    except Exception as exc:  # unknown name, or no cluster yet: one line, not a traceback
        raise UsageError(str(exc)) from None
    for var, value in inputs.items():
        try:
            check_picklable(value, f"input variable {var!r}")
        except UnpicklableError as exc:
            raise UsageError(f"{exc} (or run this cell without --backend).") from None
    return backend


def _user_error(err: NodeError, here_error: BaseException | None,
                here_tb: types.TracebackType | None, where: str | None) -> BaseException:
    """What the cell raised: the very exception (here), or the node's error quoting the cell."""
    if here_error is not None:
        return here_error.with_traceback(here_tb)
    trace = err.remote_traceback.splitlines()
    first = next((i for i, ln in enumerate(trace) if FILENAME in ln), 1)
    engine = f" ({err.engine})" if err.engine else ""
    lines = [f"the %%pylearn cell raised on {where}{engine}:",
             "Traceback (most recent call last):", *trace[first:]]
    # IPython shows this instead of the VM's frames, which say nothing about the cell.
    err._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
    return err


def _output_names(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if not n.isidentifier()]
    if not names or bad:
        raise UsageError(
            f"-o expected variable names separated by commas (e.g. -o model,score), received "
            f"{text!r}."
        )
    return names


def _restore(ns: dict[str, Any], value: CellValue) -> None:
    """The cell's effect on the namespace: its outputs set, the inputs it deleted gone."""
    ns.update({name: _rebind(v, ns) for name, v in value.outputs.items()})
    for name in getattr(value, "deleted", ()):  # entries stored before the field: none
        if name not in value.outputs:
            ns.pop(name, None)


def _rebind(value: Any, ns: dict[str, Any]) -> Any:
    """A function or class the cell defined, made to read the live namespace again.

    Unpickled, a notebook function reads a copy of the globals it had when
    stored: after ``x = 10`` it would still see the old ``x``, unlike the one a
    plain cell defines. Its code is rebound to ``ns`` (a class: its methods, in
    place, so instances stored with it keep their class).
    """
    if isinstance(value, types.FunctionType):
        if value.__globals__ is ns or value.__module__ != ns.get("__name__"):
            return value
        closure = value.__closure__
        if closure:  # a decorator's wrapper holds the cell's function in its closure
            closure = tuple(_rebound_cell(c, ns) for c in closure)
        fn = types.FunctionType(value.__code__, ns, value.__name__, value.__defaults__,
                                closure)
        fn.__kwdefaults__, fn.__qualname__ = value.__kwdefaults__, value.__qualname__
        fn.__annotations__, fn.__doc__ = value.__annotations__, value.__doc__
        fn.__dict__.update(value.__dict__)
        return fn
    if isinstance(value, type) and value.__module__ == ns.get("__name__"):
        for attr, member in list(vars(value).items()):
            inner = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
            new = _rebind(inner, ns)
            if new is not inner:
                setattr(value, attr, type(member)(new) if inner is not member else new)
    return value


def _rebound_cell(cell: Any, ns: dict[str, Any]) -> Any:
    """A closure cell holding a notebook function, rebound; any other cell as it is (shared)."""
    try:
        inner = cell.cell_contents
    except ValueError:  # an empty cell
        return cell
    new = _rebind(inner, ns) if isinstance(inner, types.FunctionType) else inner
    return cell if new is inner else types.CellType(new)


def _serve(shell: Any, session: MagicSession, stored: CellValue, label: str) -> Any:
    _restore(shell.user_ns, stored)
    write_captured(stored.stdout, stored.stderr)
    replay(stored.displays or [])
    if stored.result is None and stored.result_display:
        replay([stored.result_display])
    saved = float(stored.duration or 0.0)
    session.cell_hits += 1
    session.cell_time_saved += saved
    name = "" if label == "cell" else f" {label!r}"
    print(f"%%pylearn{name}: served from cache (saved {describe_seconds(saved)})")
    return stored.result


def describe_seconds(seconds: float) -> str:
    """``0.0123 -> '12 ms'``, ``3.2 -> '3.2 s'``, ``125 -> '2 min 5 s'``.

    Examples
    --------
    >>> describe_seconds(0.0123), describe_seconds(3.21), describe_seconds(125)
    ('12 ms', '3.2 s', '2 min 5 s')
    """
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


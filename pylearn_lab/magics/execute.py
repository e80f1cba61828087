"""A ``%%pylearn`` cell's code as the function of a graph node.

:class:`CellCode` is what ``run()`` calls for a cell: ``code(**inputs)`` runs
the cell and returns a :class:`CellValue` (its outputs, trailing value, what it
printed and displayed, how long it took), which the cache stores like any
node's result. It runs in one of two places:

* **here** (no ``--backend``): in the notebook namespace, so the cell behaves
  exactly like a plain cell -- definitions land in the namespace, tracebacks
  quote the cell, prints and displays appear as they happen (and are kept for
  a hit to replay). The inputs it receives are the namespace's own objects.
* **there** (``--backend threads|processes|ipyparallel``): in a fresh namespace
  made of its inputs, on any worker; the instance carries no shell, only its
  source and names, so it pickles (cloudpickle) to any engine.

Both execute the same parsed code the same way: every statement, and a
trailing expression evaluated so its value can be shown and cached.

A cell that ran but cannot be stored raises :class:`CellNotStored` (the magic
turns it into a one-line ``UsageError``); a cell that ran fine but must not be
cached (it changed an input in place that cannot be stored) raises
:class:`CellNotCached`. Raising is what keeps the VM from storing the result.

Examples
--------
>>> code = CellCode("y = x * 2\\nprint('hi')\\ny + 1", ("x",), ("y",))
>>> import inspect; str(inspect.signature(code))
'(*, x)'
>>> import contextlib, io
>>> with contextlib.redirect_stdout(io.StringIO()):
...     out = code(x=20)
>>> out.outputs, out.stdout, out.result
({'y': 40}, 'hi\\n', 41)
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import io
import linecache
import os
import sys
import time
import types
import uuid
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Any, TextIO

import cloudpickle

from ..cache.records import summarise_value
from ..errors import UnhashableError, UnpicklableError
from ..hashing import hash_value
from ..jobs import check_picklable
from .richout import DisplayRecorder, Output, formatted

__all__ = ["CellCode", "CellExited", "CellNotCached", "CellNotStored", "CellValue", "Held", "Tee",
           "execute", "function_state", "has_result", "write_captured"]

_NO_RESULT = object()
FILENAME = "<%%pylearn cell>"
_SCALARS = (int, float, complex, str, bytes, bool, type(None))


class CellNotStored(Exception):
    """The cell ran, but its result cannot be stored; the message says why and what to do."""


class CellExited(Exception):
    """The cell raised SystemExit: a failure of the cell, never a lost worker to retry."""


class CellNotCached(Exception):
    """The cell ran fine, but must not be cached (the message, already printed, says why)."""


class Held:
    """An input handed to the cell as itself and keyed by ``token``, not by its content.

    An expression counts by its node key (what it would compute, not its
    value: the cell gets the lazy Expr); a module by its package version or
    file; with ``--no-cache`` every input is held under a fresh token (never
    hashed, never stored).

    Examples
    --------
    >>> Held([1], ("expr", "k" * 32)).__pylearn_hash__()
    ('expr', 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk')
    """

    __slots__ = ("shown", "token", "value")

    def __init__(self, value: Any, token: Any, shown: str | None = None) -> None:
        self.value = value
        self.token = token
        self.shown = shown  # how records show it (a function by its code, not its address)

    def __pylearn_hash__(self) -> Any:
        return self.token

    def __repr__(self) -> str:
        text = self.shown or repr(self.value)
        return text if len(text) <= 80 else text[:79] + "…"


@dataclass
class CellValue:
    """What a cell node returns and the cache stores.

    Attributes
    ----------
    outputs : dict
        ``name -> value`` restored into the namespace (``-o``, or all assigned).
    result : object
        The trailing expression's value (None when it cannot be stored).
    stdout, stderr : str
        What the cell printed.
    duration : float
        Seconds the cell took.
    displays : list
        ``(data, metadata)`` of what it displayed (see :mod:`.richout`).
    result_display : tuple or None
        How an unstorable trailing value looked, shown instead on a hit.
    live : object
        The trailing value itself, for the run that computed it (never stored).
    run : str
        The token of the :class:`CellCode` that computed it: a run whose own
        token comes back computed the cell; any other was served from the cache.
    deleted : tuple of str
        Inputs the cell deleted (``del tmp``): deleted again on a hit.
    """

    outputs: dict[str, Any]
    result: Any = None
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    displays: list[Output] = field(default_factory=list)
    result_display: Output | None = None
    live: Any = None
    run: str = ""
    deleted: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["live"] = None  # the live value may not pickle; ``result`` holds what can
        return state

    def __pylearn_summary__(self) -> dict[str, Any]:
        """The results table sees the outputs (``y = 30``), not the wrapper."""
        return summarise_value(self.outputs)


class CellCode:
    """A cell's code as a callable: ``code(**inputs) -> CellValue`` (see the module docs).

    Parameters
    ----------
    source : str
        The cell as plain Python (IPython syntax transformed).
    inputs : tuple of str
        The names it reads: its keyword-only parameters.
    outputs : tuple of str
        The names to bring back.
    explicit : bool
        ``outputs`` came from ``-o``: each must be assigned.
    cached : bool
        The result will be stored: check that it can be, and look for inputs
        changed in place (here only).
    shell : InteractiveShell, optional
        Run here, in this shell's namespace; None runs in a fresh namespace.
    raw : str
        The cell as typed (for IPython's tracebacks).
    """

    __slots__ = ("__weakref__", "cached", "error", "error_tb", "explicit", "home", "inputs",
                 "outputs", "raw", "refused", "run", "shell", "sig", "source")

    def __init__(self, source: str, inputs: tuple[str, ...], outputs: tuple[str, ...],
                 explicit: bool = False, cached: bool = True, shell: Any = None,
                 raw: str = "", home: int | None = None, run: str = "") -> None:
        self.source, self.inputs, self.outputs = source, tuple(inputs), tuple(outputs)
        self.explicit, self.cached, self.shell, self.raw = explicit, cached, shell, raw or source
        self.home = home if home is not None else os.getpid()  # the notebook's process
        # tells this run's own result from a stored one (never part of the key)
        self.run = run or uuid.uuid4().hex
        self.sig = inspect.Signature([inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY)
                                      for n in self.inputs])
        self.error: BaseException | None = None  # the user's own exception (here)
        self.error_tb: types.TracebackType | None = None  # ... from the cell's first frame
        self.refused: CellValue | None = None    # the value of a cell not cached (here)

    @property
    def __signature__(self) -> inspect.Signature:
        return self.sig

    def __getstate__(self) -> dict[str, Any]:
        # a shell never travels: a copy on a worker runs "there"
        return {"source": self.source, "inputs": self.inputs, "outputs": self.outputs,
                "explicit": self.explicit, "cached": self.cached, "raw": self.raw,
                "home": self.home, "run": self.run}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"<%%pylearn cell reading {', '.join(self.inputs) or 'nothing'}>"

    def __call__(self, **inputs: Any) -> CellValue:
        values = {n: v.value if isinstance(v, Held) else v for n, v in inputs.items()}
        if self.shell is not None:
            return self._here(values)
        return self._there(values)

    # -- here: the notebook namespace ---------------------------------------------------
    def _here(self, values: dict[str, Any]) -> CellValue:
        shell = self.shell
        # the namespace's own objects: the node's arguments may be rebuilt copies of plain
        # lists and dicts, and a change in place happens to the originals
        values = {n: shell.user_ns[n] for n in values if n in shell.user_ns}
        before = _digests(values) if self.cached else {}
        filename = shell.compile.cache(self.source, shell.execution_count, raw_code=self.raw)
        tree = shell.compile.ast_parse(self.source, filename=filename)
        out, err = Tee(sys.stdout), Tee(sys.stderr)
        start = time.perf_counter()
        try:
            with redirect_stdout(out), redirect_stderr(err), DisplayRecorder(shell) as shown:
                value = execute(tree, shell.user_global_ns, filename, shell.compile,
                                shell.user_ns)
        except BaseException as exc:
            # the magic raises this very object, as a plain cell would, quoting the cell's
            # frames only (not the VM's, which say nothing about the cell)
            self.error_tb = _from_file(exc.__traceback__, filename)
            self.error = exc
            if isinstance(exc, SystemExit):  # the VM would take it for a lost worker and retry
                raise CellExited(f"the cell called exit({exc.code!r})") from exc
            raise
        ns = shell.user_ns
        cell = CellValue({n: ns[n] for n in self.outputs if n in ns}, None, out.getvalue(),
                         err.getvalue(), time.perf_counter() - start, shown.outputs)
        cell.live, cell.run = (value if has_result(value) else None), self.run
        cell.deleted = tuple(n for n in values if n not in ns)
        self._check_assigned(cell)
        if self.cached:
            self._keep_changed(cell, _changed(before, values, ns))
            self._check_storable(cell, "stored in the cache", "run the cell with --no-cache")
        return cell

    def _keep_changed(self, cell: CellValue, changed: list[str]) -> None:
        """Store inputs changed in place as outputs, or refuse the cache in one line."""
        if not changed:
            return
        ns = self.shell.user_ns
        names = ", ".join(map(repr, changed))
        for name in changed:
            try:
                check_picklable(ns[name], f"variable {name!r}")
            except UnpicklableError:
                print(f"%%pylearn: not cached: the cell changed input {names} in place, and "
                      f"{name!r} cannot be stored; copy it in the cell (x = x.copy()) to cache it.")
                self.refused = cell
                raise CellNotCached(f"input {name!r} changed in place cannot be stored") from None
        cell.outputs.update({n: ns[n] for n in changed})
        print(f"%%pylearn: the cell changed input {names} in place; the new value is stored and "
              "restored on a cache hit.")

    # -- there: a fresh namespace on any worker ----------------------------------------
    def _there(self, values: dict[str, Any]) -> CellValue:
        if os.getpid() == self.home:
            # a worker thread of the notebook's own process: run on copies, as another
            # process would, so the cell cannot change the notebook's objects behind its back.
            # Deep copies, not a pickle round trip: the VM hands in-process nodes read-only
            # views of arrays (vm/isolate.py), which unpickle read-only, and a cell is
            # notebook code that may write into its copy (arr[:] = 0)
            try:
                values = copy.deepcopy(values)
            except Exception:
                values = cloudpickle.loads(cloudpickle.dumps(values, protocol=5))
        # Tracebacks then quote the cell's lines.
        linecache.cache[FILENAME] = (len(self.source), None, self.source.splitlines(True),
                                     FILENAME)
        ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins, **values}
        out, err = io.StringIO(), io.StringIO()
        start = time.perf_counter()
        try:
            with redirect_stdout(out), redirect_stderr(err):
                value = execute(ast.parse(self.source, FILENAME), ns, FILENAME)
        except SystemExit as exc:  # a failure of the cell, not of the worker: never retried
            raise CellExited(f"the cell called exit({exc.code!r})") from exc
        except Exception as exc:
            # what it printed before failing travels in the traceback the client shows
            printed = (out.getvalue() + err.getvalue()).rstrip()
            if printed:
                exc.add_note("the cell printed before it failed:\n" + printed)
            raise
        cell = CellValue({n: ns[n] for n in self.outputs if n in ns}, None, out.getvalue(),
                         err.getvalue(), time.perf_counter() - start)
        cell.live, cell.run = (value if has_result(value) else None), self.run
        cell.deleted = tuple(n for n in values if n not in ns)
        self._check_assigned(cell)
        self._check_storable(cell, "sent back or stored",
                             "run the cell without --backend")
        return cell

    # -- checks --------------------------------------------------------------------------
    def _check_assigned(self, cell: CellValue) -> None:
        missing = [n for n in self.outputs if n not in cell.outputs]
        if self.explicit and missing:
            raise CellNotStored(
                f"-o names {', '.join(map(repr, missing))}, which the cell did not assign: "
                "list only names the cell assigns.")

    def _check_storable(self, cell: CellValue, how: str, other: str) -> None:
        for name, value in cell.outputs.items():
            try:
                check_picklable(value, f"variable {name!r}")
            except UnpicklableError as exc:
                cause = exc.__cause__ or exc.__context__
                reason = f" ({type(cause).__name__}: {cause})" if cause else ""
                tname = f"{exc.value_type.__module__}.{exc.value_type.__qualname__}"
                raise CellNotStored(
                    f"the cell ran, but its output {name!r} (type "
                    f"{tname.removeprefix('builtins.')}) cannot be {how}{reason}. Choose the "
                    f"outputs to keep with -o, or {other}.") from None
        try:
            check_picklable(cell.live, "the cell's value")
            cell.result = cell.live
        except UnpicklableError:  # only shown, never an output: store how it looked instead
            cell.result_display = formatted(self.shell, cell.live) if self.shell else None


def _from_file(tb: types.TracebackType | None, filename: str) -> types.TracebackType | None:
    """``tb`` from its first frame in ``filename`` on (all of it when there is none)."""
    here = tb
    while here is not None and here.tb_frame.f_code.co_filename != filename:
        here = here.tb_next
    return here if here is not None else tb


def _digests(values: dict[str, Any]) -> dict[str, str]:
    """Digests of the inputs a cell could change in place (not code, modules or scalars)."""
    out = {}
    for name, value in values.items():
        if isinstance(value, types.FunctionType):
            pass  # its data (f.calls += 1, a default, its closure) can change; its code cannot
        elif callable(value) or isinstance(value, (*_SCALARS, types.ModuleType)):
            continue
        try:
            out[name] = _content(value)
        except UnhashableError:  # only held inputs get here (never hashed for the key)
            continue
    return out


def _content(value: Any) -> str:
    """The digest of what can change in place: a function's data, any other value."""
    if isinstance(value, types.FunctionType):
        return hash_value(function_state(value))
    return hash_value(value)


def function_state(fn: types.FunctionType) -> Any:
    """The data a function holds that can change in place, without its code.

    Its attributes (``f.calls``), defaults (``def g(t=table)``) and the data in
    its closure (``lambda: sum(t)``): a function's identity is memoised by
    object, so a change to them would not change it. Functions and modules
    held there count by their own keys, so they are left out.

    Examples
    --------
    >>> def make(t):
    ...     return lambda: sum(t)
    >>> data = [1]
    >>> g = make(data)
    >>> before = hash_value(function_state(g)); data.append(2)
    >>> hash_value(function_state(g)) == before
    False
    """
    closure = []
    for cell in fn.__closure__ or ():
        try:
            closure.append(cell.cell_contents)
        except ValueError:  # an empty cell
            closure.append(None)
    data = [v for v in closure if not (callable(v) or isinstance(v, types.ModuleType))]
    return ("state", dict(fn.__dict__), fn.__defaults__, fn.__kwdefaults__, data)


def _changed(before: dict[str, str], values: dict[str, Any], ns: dict[str, Any]) -> list[str]:
    """Inputs the cell changed in place: the same object, new content (hashed again)."""
    changed = []
    for name, digest in before.items():
        value = values[name]
        if ns.get(name) is not value:
            continue  # reassigned (then an output) or deleted: not changed in place
        try:
            if _content(value) != digest:
                changed.append(name)
        except UnhashableError:  # hashable before, not now: certainly changed
            changed.append(name)
    return changed


class Tee(io.TextIOBase):
    """A text stream that writes through to ``stream`` and keeps a copy.

    Examples
    --------
    >>> t = Tee(io.StringIO())
    >>> _ = t.write("abc")
    >>> t.getvalue()
    'abc'
    """

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.copy = io.StringIO()

    def write(self, s: str) -> int:
        if self.stream is not None:
            self.stream.write(s)
        return self.copy.write(s)

    def flush(self) -> None:
        if self.stream is not None:
            self.stream.flush()

    def getvalue(self) -> str:
        return self.copy.getvalue()

    def writable(self) -> bool:
        return True


def execute(tree: ast.Module, glob: dict[str, Any], filename: str,
            compiler: Callable[..., Any] = compile, local: dict[str, Any] | None = None) -> Any:
    """Run every statement of ``tree`` in ``glob``; return the trailing expression's value.

    Returns ``_NO_RESULT`` (see :func:`has_result`) when the cell does not end
    with an expression, or when that expression is None (as IPython does).
    """
    body = list(tree.body)
    last = body[-1] if body else None
    if isinstance(last, ast.Expr):
        body.pop()
    else:
        last = None
    local = glob if local is None else local
    if body:
        mod = ast.Module(body=body, type_ignores=[])
        exec(compiler(mod, filename, "exec"), glob, local)
    if last is None:
        return _NO_RESULT
    value = eval(compiler(ast.Expression(last.value), filename, "eval"), glob, local)
    return _NO_RESULT if value is None else value


def has_result(value: Any) -> bool:
    """False for the marker :func:`execute` returns when there is nothing to show."""
    return value is not _NO_RESULT


def write_captured(stdout: str, stderr: str) -> None:
    """Replay captured output on the current streams."""
    if stdout:
        sys.stdout.write(stdout)
    if stderr:
        sys.stderr.write(stderr)

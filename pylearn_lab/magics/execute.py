"""Running a cell's code: in the notebook namespace, or on a worker as a function.

Both paths execute the same parsed code the same way (every statement, and a
trailing expression evaluated so its value can be shown and cached) and
capture what it prints. :func:`run_cell_remote` is a module-level function of
the package so workers and ipyparallel engines can import it; its arguments
and result travel as one cloudpickle blob, so notebook functions, modules and
closures among the inputs reach the worker intact.

Examples
--------
>>> import ast, cloudpickle
>>> blob = cloudpickle.dumps(("y = x * 2\\nprint('hi')\\ny + 1", {"x": 20}, ["y"]))
>>> out = cloudpickle.loads(run_cell_remote(blob))
>>> out["outputs"], out["stdout"], out["result"]
({'y': 40}, 'hi\\n', 41)
"""

from __future__ import annotations

import ast
import builtins
import io
import linecache
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from typing import Any, TextIO

import cloudpickle

__all__ = ["Tee", "execute", "has_result", "run_cell_remote", "write_captured"]

_NO_RESULT = object()
_FILENAME = "<%%pylearn cell>"


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


def run_cell_remote(blob: bytes) -> bytes:
    """Run a cell on a worker: ``(source, inputs, outputs)`` in, a result dict out.

    The result holds ``outputs`` (the requested names that exist), ``stdout``,
    ``stderr``, ``result`` (the trailing expression, or None), ``duration``,
    ``host``, ``pid``, and ``error``/``traceback`` when the cell raised.
    """
    source, inputs, outputs = cloudpickle.loads(blob)
    # Tracebacks then quote the cell's lines.
    linecache.cache[_FILENAME] = (len(source), None, source.splitlines(True), _FILENAME)
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    ns.update(inputs)
    out, err = io.StringIO(), io.StringIO()
    reply: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "result": None}
    start = time.perf_counter()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            value = execute(ast.parse(source), ns, _FILENAME)
        reply["result"] = value if has_result(value) else None
        reply["outputs"] = {n: ns[n] for n in outputs if n in ns}
    except BaseException as exc:  # report it to the client, which re-raises it there
        reply["error"] = exc
        reply["traceback"] = _cell_traceback(exc)
    reply.update(duration=time.perf_counter() - start, stdout=out.getvalue(),
                 stderr=err.getvalue())
    try:
        return cloudpickle.dumps(reply)
    except Exception as exc:  # an unpicklable output: say which one on the client
        bad = _first_unpicklable(reply.get("outputs") or {})
        return cloudpickle.dumps({**reply, "outputs": {}, "result": None,
                                  "unpicklable": bad or "the result", "error": None,
                                  "reason": f"{type(exc).__name__}: {exc}"})


def _cell_traceback(exc: BaseException) -> str:
    """The traceback from the cell's first frame on (not this module's machinery)."""
    frames = traceback.extract_tb(exc.__traceback__)
    first = next((i for i, f in enumerate(frames) if f.filename == _FILENAME), 0)
    return "".join(["Traceback (most recent call last):\n",
                    *traceback.format_list(frames[first:]),
                    *traceback.format_exception_only(type(exc), exc)])


def _first_unpicklable(values: dict[str, Any]) -> str | None:
    for name, v in values.items():
        try:
            cloudpickle.dumps(v)
        except Exception:
            return name
    return None


def write_captured(stdout: str, stderr: str) -> None:
    """Replay captured output on the current streams."""
    if stdout:
        sys.stdout.write(stdout)
    if stderr:
        sys.stderr.write(stderr)

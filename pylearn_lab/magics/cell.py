"""``%%pylearn``: a notebook cell as a cached node.

On a hit the cell does not run: the names it assigns (or those given with
``-o``) are put back into the namespace, what it printed is printed again,
what it displayed (DataFrame HTML, matplotlib figures, widget fallbacks; see
:mod:`.richout`) is displayed again, and one line says it came from the cache.

An input the cell changes in place (``df["ratio"] = ...`` on a DataFrame it
did not create) is found by hashing the inputs again after the cell: its new
value is then stored as an output and restored on a hit, with a one-line
note; when that value cannot be stored, the cell is not cached and one line
says why. (Cost: every input is hashed twice per miss.) On a miss it runs -- in the notebook
namespace, or with ``--backend`` on a worker as a function of its inputs --
and its outputs, printed text and duration are stored with
``Cache.save(key, value, record)`` like any node's result, so ``%pylearn cache
ls %%pylearn`` and the results table see cells too.

Examples
--------
In a notebook (the second run of the same cell, with the same ``x``, is a hit)::

    %%pylearn --name double
    print("computing")
    y = x * 2
"""

from __future__ import annotations

import os
import socket
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import cloudpickle
from IPython.core.error import UsageError

from ..backends.registry import get_backend
from ..cache.cache import get_default_cache
from ..cache.records import summarise_param, summarise_value
from ..errors import UnpicklableError
from ..jobs import check_picklable
from .cellkey import CellPlan, input_digest, plan_cell
from .execute import Tee, execute, has_result, run_cell_remote, write_captured
from .richout import DisplayRecorder, formatted, replay
from .session import MagicSession

__all__ = ["describe_seconds", "run_cell"]

_LOCAL = (None, "", "local", "serial")


def run_cell(shell: Any, session: MagicSession, args: Any, cell: str) -> Any:
    """Run (or serve from the cache) one ``%%pylearn`` cell; returns its trailing value."""
    outputs = _output_names(args.output) if args.output else None
    source = shell.transform_cell(cell)
    cache = None if args.no_cache else get_default_cache()
    plan = plan_cell(source, shell.user_ns, shell.user_ns_hidden, outputs, hashed=cache is not None)
    label = args.name or "cell"
    if cache is not None:
        hit, stored = cache.lookup(plan.key)
        if hit:
            return _serve(shell, session, stored, label)
    session.cell_misses += 1
    if args.backend in _LOCAL:
        reply = _run_here(shell, plan, cell)
    else:
        reply = _run_on(args.backend, plan)
        shell.user_ns.update(reply["outputs"])
    missing = [n for n in plan.outputs if n not in reply["outputs"]]
    if args.output and missing:
        raise UsageError(
            f"-o names {', '.join(map(repr, missing))}, which the cell did not assign: "
            "list only names the cell assigns."
        )
    if cache is not None:
        changed = _changed_inputs(plan, shell.user_ns) if args.backend in _LOCAL else []
        if changed and not _keep_changed(plan, reply, changed, shell.user_ns):
            return reply["result"]
        _store(cache, plan, reply, label, shell)
    return reply["result"]


def _changed_inputs(plan: CellPlan, ns: dict[str, Any]) -> list[str]:
    """Inputs the cell changed in place: same object, new content (hashed again)."""
    changed = []
    for name, before in plan.input_hashes.items():
        value = plan.inputs.get(name)
        if name in plan.outputs or ns.get(name) is not value or callable(value):
            continue  # reassigned (already an output), gone, or code (keyed by identity)
        try:
            if input_digest(name, value) != before:
                changed.append(name)
        except UsageError:  # hashable before, not now: certainly changed
            changed.append(name)
    return changed


def _keep_changed(plan: CellPlan, reply: dict[str, Any], changed: list[str],
                  ns: dict[str, Any]) -> bool:
    """Store changed inputs as outputs (True), or say in one line why the cell is not cached."""
    names = ", ".join(map(repr, changed))
    for name in changed:
        try:
            check_picklable(ns[name], f"variable {name!r}")
        except UnpicklableError:
            print(f"%%pylearn: not cached: the cell changed input {names} in place, and "
                  f"{name!r} cannot be stored; copy it in the cell (x = x.copy()) to cache it.")
            return False
    reply["outputs"].update({n: ns[n] for n in changed})
    print(f"%%pylearn: the cell changed input {names} in place; the new value is stored and "
          "restored on a cache hit.")
    return True


def _output_names(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if not n.isidentifier()]
    if not names or bad:
        raise UsageError(
            f"-o expected variable names separated by commas (e.g. -o model,score), received "
            f"{text!r}."
        )
    return names


def _serve(shell: Any, session: MagicSession, stored: dict[str, Any], label: str) -> Any:
    shell.user_ns.update(stored["outputs"])
    write_captured(stored.get("stdout", ""), stored.get("stderr", ""))
    replay(stored.get("displays") or [])
    if stored.get("result") is None and stored.get("result_display"):
        replay([stored["result_display"]])
    saved = float(stored.get("duration") or 0.0)
    session.cell_hits += 1
    session.cell_time_saved += saved
    name = "" if label == "cell" else f" {label!r}"
    print(f"%%pylearn{name}: served from cache (saved {describe_seconds(saved)})")
    return stored.get("result")


def _run_here(shell: Any, plan: CellPlan, raw: str) -> dict[str, Any]:
    """Execute in the user namespace, echoing and capturing what the cell prints."""
    filename = shell.compile.cache(plan.source, shell.execution_count, raw_code=raw)
    tree = shell.compile.ast_parse(plan.source, filename=filename)
    out, err = Tee(sys.stdout), Tee(sys.stderr)
    start = time.perf_counter()
    with redirect_stdout(out), redirect_stderr(err), DisplayRecorder(shell) as shown:
        value = execute(tree, shell.user_global_ns, filename, shell.compile, shell.user_ns)
    duration = time.perf_counter() - start
    ns = shell.user_ns
    return {"outputs": {n: ns[n] for n in plan.outputs if n in ns},
            "result": value if has_result(value) else None, "displays": shown.outputs,
            "stdout": out.getvalue(), "stderr": err.getvalue(), "duration": duration,
            "host": socket.gethostname(), "pid": os.getpid(), "engine": ""}


def _run_on(backend_name: str, plan: CellPlan) -> dict[str, Any]:
    """Run the cell on a worker as a function of its inputs; bring its outputs home."""
    try:
        backend = get_backend(backend_name)
    except Exception as exc:  # unknown name, or no cluster yet: one line, not a traceback
        raise UsageError(str(exc)) from None
    for name, value in plan.inputs.items():
        try:
            check_picklable(value, f"input variable {name!r}")
        except UnpicklableError as exc:
            raise UsageError(f"{exc} (or run this cell without --backend).") from None
    blob = cloudpickle.dumps((plan.source, plan.inputs, list(plan.outputs)))
    reply = cloudpickle.loads(backend.submit(run_cell_remote, blob).result())
    write_captured(reply["stdout"], reply["stderr"])
    if reply.get("unpicklable"):
        raise UsageError(
            f"the cell ran on {backend_name}, but its output {reply['unpicklable']!r} cannot be "
            f"sent back ({reply['reason']}). List the outputs to bring back with -o, or run the "
            "cell without --backend."
        )
    if reply.get("error") is not None:
        error = reply["error"]
        where = f"on {backend_name} ({reply['host']}, pid {reply['pid']})"
        lines = [f"the %%pylearn cell raised {where}:", *reply["traceback"].rstrip().splitlines()]
        # IPython shows this instead of our own frames, which say nothing about the cell.
        error._render_traceback_ = lambda: lines
        raise error
    reply.setdefault("engine", f"{backend_name}:{reply['host']}:{reply['pid']}")
    return reply


def _store(cache: Any, plan: CellPlan, reply: dict[str, Any], label: str,
           shell: Any = None) -> None:
    outputs = reply["outputs"]
    for name, value in outputs.items():
        try:
            check_picklable(value, f"variable {name!r}")
        except UnpicklableError as exc:
            cause = exc.__cause__ or exc.__context__
            reason = f" ({type(cause).__name__}: {cause})" if cause else ""
            tname = f"{exc.value_type.__module__}.{exc.value_type.__qualname__}"
            raise UsageError(
                f"the cell ran, but its output {name!r} (type {tname.removeprefix('builtins.')}) "
                f"cannot be stored in the cache{reason}. Choose the outputs to store with -o, "
                "or run the cell with --no-cache."
            ) from None
    result = reply["result"]
    result_display = None
    try:
        check_picklable(result, "the cell's value")
    except UnpicklableError:  # only shown, never an output: store how it looked instead
        result_display = formatted(shell, result) if shell is not None else None
        result = None
    value = {"outputs": outputs, "result": result, "stdout": reply["stdout"],
             "stderr": reply["stderr"], "duration": reply["duration"],
             "displays": reply.get("displays") or [], "result_display": result_display}
    record = {
        "func": "%%pylearn", "label": label, "func_digest": plan.source_digest,
        "version": plan.source_digest[:12],
        "params": {n: summarise_param(v) for n, v in plan.inputs.items()},
        "func_parts": {"source": plan.source_digest,
                       **{f"input:{n}": h for n, h in plan.input_hashes.items()}},
        "summary": summarise_value(outputs), "duration": reply["duration"],
        "created": time.time(), "host": reply["host"], "pid": reply["pid"],
        "engine": reply.get("engine", ""),
    }
    cache.save(plan.key, value, record)


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


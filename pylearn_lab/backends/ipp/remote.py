"""What runs *on* an ipyparallel engine: small functions the client sends by name.

This module imports nothing heavy (no ipyparallel, no zmq), so an engine
imports it in milliseconds. The client pickles each task itself with
cloudpickle and the engine unpickles it here: functions defined in a notebook
or a test module then travel by value, independent of how ipyparallel is
configured to serialise.

Examples
--------
>>> import cloudpickle
>>> out = call_pickled(cloudpickle.dumps((pow, (2, 5), {})), ["k" * 32])
>>> cloudpickle.loads(out)
32
>>> read_probe("/no/such/dir/probe")[0]
''
>>> probe_store("/no/such/dir", "tmp/probe", "token")
(False, 'no directory /no/such/dir here')
"""

from __future__ import annotations

import os
import socket
import traceback
import types
from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle

__all__ = [
    "CALL_PICKLED",
    "PickledCall",
    "call_pickled",
    "code_files",
    "engine_pid",
    "machine_id",
    "probe_store",
    "read_probe",
    "set_engine_id",
]

_DYNAMIC = "<dynamic-code>"  # cloudpickle's file name for code it pickles by value

#: Cache directories this engine process proved it sees (:func:`probe_store`). Tasks
#: write blobs only into these: an engine decides from its own evidence, not from an id
#: that may not have reached it yet.
SEEN_ROOTS: set[str] = set()


def user_functions(objs: list[Any], follow: Callable[[types.FunctionType], bool] | None = None
                   ) -> Iterator[types.FunctionType]:
    """The functions of VM tasks among ``objs`` and the same-module functions they call.

    ``follow(fn)`` says whether to look at the functions ``fn`` calls (default:
    always); a function of an installed library calls no user code of its module,
    so its callees need not be walked.
    """
    stack: list[Any] = list(objs)
    seen: set[int] = set()
    while stack:
        o = stack.pop()
        if isinstance(o, (list, tuple)):  # tuples: tasks on the wire (blobs.to_wire)
            stack.extend(o)
        elif hasattr(o, "call") and hasattr(o.call, "func"):  # a Task (duck-typed: no vm import)
            stack.append(o.call.func)
        elif isinstance(o, types.FunctionType) and id(o) not in seen:
            seen.add(id(o))
            yield o
            if follow is not None and not follow(o):
                continue
            g = o.__globals__
            stack.extend(v for n in o.__code__.co_names if isinstance(v := g.get(n), types.FunctionType)
                         and v.__module__ == o.__module__)


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _codes(c)


def code_files(objs: list[Any], by_value: Callable[[str], bool] | None = None) -> dict[str, str]:
    """``"name:first line" -> source file`` of the user code in a payload.

    cloudpickle replaces file names with ``<dynamic-code>``; sending them along
    lets engines put them back, so remote tracebacks name the user's file and line.
    ``by_value(module name)`` says which modules travel by value (default: all):
    only their functions lose their file names.
    """
    if by_value is None:
        fns: Iterator[types.FunctionType] = user_functions(objs)
    else:
        fns = (fn for fn in user_functions(objs, lambda f: by_value(f.__module__))
               if by_value(fn.__module__))
    return {f"{c.co_name}:{c.co_firstlineno}": c.co_filename
            for fn in fns for c in _codes(fn.__code__)}


def _refile(code: types.CodeType, files: dict[str, str]) -> types.CodeType:
    consts = tuple(_refile(c, files) if isinstance(c, types.CodeType) else c
                   for c in code.co_consts)
    name = files.get(f"{code.co_name}:{code.co_firstlineno}", code.co_filename)
    return code.replace(co_filename=name, co_consts=consts)


def restore_files(objs: list[Any], files: dict[str, str]) -> None:
    """Put the original file names back into unpickled user functions (see :func:`code_files`)."""
    if not files:
        return
    # only code cloudpickle rebuilt lost its file name, and only such code calls more of it
    dynamic = lambda f: f.__code__.co_filename == _DYNAMIC  # noqa: E731
    for fn in list(user_functions(objs, dynamic)):
        if dynamic(fn):
            try:
                fn.__code__ = _refile(fn.__code__, files)
            except (ValueError, TypeError):  # an exotic code object: keep cloudpickle's name
                pass


def call_pickled(payload: bytes, keys: list[str]) -> bytes:
    """Unpickle ``(fn, args, files[, scanned])``, call ``fn(*args)``, return the pickled result.

    When the payload cannot even be unpickled here (a module the engine cannot
    import, a library version mismatch), the result is one failed
    :class:`~pylearn_lab.vm.task.Receipt` per node key: that is the nodes'
    error, reported with this engine's traceback -- not a lost engine, so it is
    not retried.
    """
    try:
        fn, args, files, *scanned = cloudpickle.loads(payload)
        # where the client looked for user code (its functions: walking every one of
        # thousands of literal arguments cost more than running tiny nodes)
        restore_files(scanned[0] if scanned else [fn, *args], files)
    except Exception as exc:
        if not keys:
            raise
        from ...vm.task import Receipt, worker_name

        tb = traceback.format_exc()
        etype = f"{type(exc).__module__}.{type(exc).__qualname__}"
        msg = (f"the task could not be unpickled on the engine ({exc}). Engines need the "
               "client's installed packages (same versions); code outside installed packages "
               "travels by value. Install the missing package in the engines' environment.")
        receipts = [Receipt(k, ok=False, host=socket.gethostname(), pid=os.getpid(),
                            engine=worker_name(), error_type=etype, error_msg=msg, traceback=tb)
                    for k in keys]
        return cloudpickle.dumps(receipts, protocol=5)
    return cloudpickle.dumps(fn(*args), protocol=5)


class PickledCall:
    """:func:`call_pickled` as an object ipyparallel pickles by reference (65 bytes).

    ipyparallel cans a *function* by value: its code object, 2.6 kB for
    ``call_pickled``, unmarshalled by the engine for every task and copied by
    the controller's hub into its task records. An instance of a class of an
    installed module is pickled by name instead, and engines import
    pylearn_lab anyway.

    >>> import pickle
    >>> pickle.loads(pickle.dumps(CALL_PICKLED)) is CALL_PICKLED
    True
    """

    def __call__(self, payload: bytes, keys: list[str]) -> bytes:
        return call_pickled(payload, keys)

    def __reduce__(self) -> str:
        return "CALL_PICKLED"  # the module's one instance, by name

    def __repr__(self) -> str:
        return "CALL_PICKLED"


#: What ipyparallel tasks call: :func:`call_pickled`, pickled by reference.
CALL_PICKLED = PickledCall()


def set_engine_id(engine_id: int) -> int:
    """Remember this engine's id so receipts say ``engine N``; returns the pid."""
    os.environ["PYLEARN_ENGINE_ID"] = str(engine_id)
    return os.getpid()


def engine_pid() -> int:
    """This engine's process id."""
    return os.getpid()


def machine_id() -> str:
    """Which kernel this process runs on: Linux's boot id, else the host name.

    Processes with the same id share memory-mapped files coherently, which the
    cache index (SQLite in WAL mode) needs from everyone who writes it.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return socket.gethostname()


def read_probe(path: str) -> tuple[str, str]:
    """``(text of the probe file, machine id)``; the text is ``""`` unless this engine
    can read the file *and* write beside it (it must be able to store results there)."""
    try:
        with open(path, encoding="ascii") as f:
            text = f.read()
    except OSError:
        text = ""
    if text and not os.access(os.path.dirname(path), os.W_OK):
        text = ""
    return text, machine_id()


def probe_store(root: str, probe: str, token: str) -> tuple[bool, str]:
    """``(sees, why not)``: does this engine see the cache directory ``root``?

    Yes only if ``root/probe`` holds ``token`` (the very directory the client
    wrote it into), ``blobs/`` and ``tmp/`` are writable here. (Whether this
    engine holds the cache's key is checked where it reads or writes: an
    engine without it ships values, see :mod:`.blobs`.)
    Reads and checks only: nothing is created, even where ``root`` is missing.
    """
    SEEN_ROOTS.discard(root)
    if not os.path.isdir(root):
        return False, f"no directory {root} here"
    try:
        with open(os.path.join(root, probe), encoding="ascii") as f:
            text = f.read()
    except OSError as exc:
        return False, f"cannot read the probe in {root} ({exc.strerror}): another directory"
    if text != token:
        return False, f"{root} here is another directory (its probe differs)"
    for sub in ("blobs", "tmp"):
        if not os.access(os.path.join(root, sub), os.W_OK):
            return False, f"{root}/{sub} is not writable here (read-only mount?)"
    SEEN_ROOTS.add(root)
    return True, ""

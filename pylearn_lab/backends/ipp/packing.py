"""How a task travels to an engine: one cloudpickle payload, user code by value.

Node keys come from the *client's* source code, so engines must run the
client's code too: functions and classes of modules that are not installed
libraries (``__main__`` of a notebook, a test module, a script beside the
notebook) are pickled by value; the standard library, installed packages and
pylearn_lab itself go by reference. cloudpickle drops source file names from
code it pickles by value, so the payload carries them
(:func:`~pylearn_lab.backends.ipp.remote.code_files`) and remote tracebacks
still name the user's file and line.

Examples
--------
>>> import cloudpickle, math
>>> fn, args, files, scanned = cloudpickle.loads(pack(math.floor, (2.5,)))
>>> fn(*args)
2
>>> is_installed(math)
True
"""

from __future__ import annotations

import functools
import sys
import threading
import types
from typing import Any

import cloudpickle

from ...hashing.library import is_library_module
from .remote import code_files

__all__ = ["is_installed", "modules_of", "pack", "user_modules"]

_USER: dict[str, bool] = {}  # module name -> "is user code" (examined once)
_LOCK = threading.Lock()


def pack(fn: Any, args: tuple[Any, ...], scan: list[Any] | None = None) -> bytes:
    """The payload ``(fn, args, file names, scanned)`` an engine runs with ``call_pickled``.

    User modules are registered for by-value pickling only while this payload
    is pickled: a process-wide registration would also change how the cache
    pickles those modules' objects on the client. ``scan`` (default: ``fn``
    and ``args``) is where to look for user code -- a caller that knows the
    few functions among thousands of arguments says so.
    """
    objs = [fn, *args] if scan is None else scan
    users = user_modules(objs)
    with _LOCK:
        # read the registry under the lock: outside it, another thread's temporary
        # registration would count as the user's own, and once that thread unregistered
        # the module this payload would carry it by reference (engines cannot import it)
        registered = set(cloudpickle.list_registry_pickle_by_value())
        mods = [sys.modules[m] for m in users if m not in registered]
        for m in mods:
            cloudpickle.register_pickle_by_value(m)
        try:
            # the scanned objects travel too (the same objects: pickled once, referenced
            # again), so the engine restores file names walking them, not every argument
            # file names only for code that travels by value (not pylearn_lab's, nor a
            # library's: walking those cost more per task than a tiny node)
            return cloudpickle.dumps(
                (fn, args, code_files(objs, lambda m: m in registered or travels_by_value(m)),
                 objs), protocol=5)
        finally:
            for m in mods:
                cloudpickle.unregister_pickle_by_value(m)


def user_modules(objs: list[Any]) -> list[str]:
    """Loaded modules of ``objs``' functions that are neither the standard library nor
    installed packages (engines cannot be trusted to import the client's version)."""
    out = []
    for mod in modules_of(objs):
        if mod not in _USER:
            module = sys.modules.get(mod)
            _USER[mod] = module is not None and not is_installed(module)
        if _USER[mod]:
            out.append(mod)
    return out


def travels_by_value(mod: str) -> bool:
    """True when functions of module ``mod`` are pickled by value in a payload: user
    modules (:func:`user_modules`), ``__main__`` and modules that cannot be imported."""
    if mod.partition(".")[0] in ("pylearn_lab", "builtins"):
        return False
    module = sys.modules.get(mod)
    if module is None or mod == "__main__":
        return True
    known = _USER.get(mod)
    if known is None:
        known = _USER[mod] = not is_installed(module)
    return known


def modules_of(objs: list[Any]) -> set[str]:
    """Modules of the user functions and classes in VM tasks or plain arguments."""
    from ...vm.task import Task

    found: set[str] = set()
    stack = list(objs)
    while stack:
        o = stack.pop()
        if isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, Task):
            stack.extend([o.call.func, *o.call.args, *o.call.kwargs.values()])
        elif isinstance(o, functools.partial):
            stack.extend([o.func, *o.args, *o.keywords.values()])
        elif isinstance(o, (types.FunctionType, type)):
            mod = getattr(o, "__module__", None) or ""
            top = mod.partition(".")[0]
            if mod and mod != "__main__" and top not in ("pylearn_lab", "builtins") and \
                    top not in sys.stdlib_module_names:
                found.add(mod)
    return found


def is_installed(module: types.ModuleType) -> bool:
    """True for the standard library and installed packages (engines import those)."""
    return is_library_module(module)  # the one rule hashing uses too (realpath)

"""Modules a function imports in its own body (``import helpers`` inside a component).

A module imported at the top of a file is a global: its attributes are followed
by :func:`~pylearn_lab.hashing.functions.function_identity` like any other.
An import *inside* a function body binds a local name, so the module is in no
namespace the identity scans -- and a component shipped to workers often
imports its helpers so. Before this module, such a helper's code counted
nowhere: editing it (and reloading it, or starting a new session) kept the key
and the cache served the old code's result.

:func:`imported_modules` lists the modules a code object (and the functions
nested in it) imports, resolved to absolute names; :func:`classify` says, with
the same answer whether or not the module has been imported yet, whether it is
library code (keyed by its package version, never imported here) or user code
(imported now, if it is not yet, so that its code can be followed: the function
would import it when it runs).

Examples
--------
>>> def f(x):
...     import json
...     from os import path as p
...     return json.dumps(x)
>>> imported_modules(f.__code__, None)
['json', 'os']
>>> classify("json")
'library'
"""

from __future__ import annotations

import dis
import importlib
import importlib.util
import os
import sys
import types

from .library import is_library_file, is_library_module

__all__ = ["classify", "imported_modules"]

_IMPORT_NAME = dis.opmap["IMPORT_NAME"]


def imported_modules(code: types.CodeType, package: str | None) -> list[str]:
    """Absolute names of the modules ``code`` imports (nested functions too), in order.

    ``package`` is the function's ``__package__`` (for relative imports); an
    import that cannot be resolved is listed as written (``".sub"``).
    """
    out: list[str] = []
    _collect(code, package, out)
    return list(dict.fromkeys(out))


def _collect(code: types.CodeType, package: str | None, out: list[str]) -> None:
    if _IMPORT_NAME in code.co_code[::2]:  # opcodes sit at even offsets: a cheap pre-check
        ins = list(dis.get_instructions(code))
        for i, op in enumerate(ins):
            if op.opname != "IMPORT_NAME":
                continue
            # ``import a.b`` is LOAD_CONST level, LOAD_CONST fromlist, IMPORT_NAME a.b
            level = ins[i - 2].argval if i >= 2 and ins[i - 2].opname == "LOAD_CONST" else 0
            name = op.argval
            if isinstance(level, int) and level > 0:
                try:
                    name = importlib.util.resolve_name("." * level + name, package)
                except (ImportError, ValueError):
                    name = "." * level + name
            out.append(name)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _collect(const, package, out)


def classify(name: str) -> str:
    """``"library"``, ``"user"`` or ``"missing"`` (not importable in this process).

    Library modules are recognised without importing them (their top-level
    package's spec lives under the standard library or site-packages), so the
    answer is the same before and after the function first ran.
    """
    if name.startswith("."):
        return "missing"
    mod = sys.modules.get(name)
    if mod is not None:
        return "library" if is_library_module(mod) else "user"
    top = name.split(".")[0]
    if top in sys.builtin_module_names or top in getattr(sys, "stdlib_module_names", ()):
        return "library"
    loaded = sys.modules.get(top)
    if loaded is not None:
        path = getattr(loaded, "__file__", None)
        if path and is_library_file(path):
            return "library"
    elif _spec_is_library(top):
        return "library"
    try:  # user code (or a package of our own): import it, as the function will
        mod = importlib.import_module(name)
    except Exception:  # noqa: BLE001 -- any failure: this process cannot import it
        return "missing"
    return "library" if is_library_module(mod) else "user"


def _spec_is_library(top: str) -> bool:
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if spec.origin and spec.origin not in ("built-in", "frozen", "namespace"):
        return is_library_file(spec.origin)
    dirs = list(spec.submodule_search_locations or [])
    if spec.origin in ("built-in", "frozen"):
        return True
    return bool(dirs) and all(is_library_file(os.path.join(d, "__init__.py")) for d in dirs)

"""The one answer to "is this library code?" -- for hashing, shipping and cells.

Library code (the standard library, installed packages, pylearn_lab's own
machinery) counts in a key by its package version and travels to an engine by
reference; user code (a notebook, a script, a module beside it) counts by its
source and travels by value. The three places that ask -- function identity
(:mod:`.functions`), the ipyparallel payload (:mod:`pylearn_lab.backends.ipp.packing`)
and ``%%pylearn`` module inputs -- ask this module, so a function can never be
keyed from one source and shipped from another.

Paths are compared after :func:`os.path.realpath` on both sides: a module
reached through a symlinked directory (a ``site-packages`` that is a link, a
checkout linked into a project) is classified by where its file really lives,
whichever path it was imported by.

Examples
--------
>>> import json
>>> is_library_module("json"), is_library_module(json), is_library_module("__main__")
(True, True, False)
>>> is_library_module("pylearn_lab.vm.loop")  # the package's own machinery
True
>>> is_library_file(json.__file__)
True
"""

from __future__ import annotations

import os
import sys
import sysconfig
import types

__all__ = ["is_library_file", "is_library_module", "library_roots"]

_OWN_COMPONENTS = ("pylearn_lab.components", "pylearn_lab.sklearn")
_CACHE: dict[str, bool] = {}


def library_roots() -> tuple[str, ...]:
    """The real paths of this interpreter's stdlib and site-packages directories."""
    paths = sysconfig.get_paths()
    return tuple(sorted({os.path.realpath(p) for key in ("stdlib", "platstdlib", "purelib",
                                                           "platlib") if (p := paths.get(key))}))


_ROOTS = library_roots()


def is_library_file(path: str, roots: tuple[str, ...] | None = None) -> bool:
    """True when the file ``path`` really lives (symlinks resolved) under a library root."""
    real = os.path.realpath(path)
    return any(real.startswith(root + os.sep) for root in (roots or _ROOTS))


def is_library_module(module: str | types.ModuleType | None) -> bool:
    """True when ``module`` (a name or a module) is library code, not user code.

    The answer is memoised per module name for the session.

    Examples
    --------
    >>> is_library_module("os"), is_library_module(None), is_library_module("no_such_mod")
    (True, False, False)
    """
    if isinstance(module, types.ModuleType):
        mod: types.ModuleType | None = module
        name = module.__name__
    else:
        name = module or ""
        mod = sys.modules.get(name)
    if not name or name == "__main__":
        return False
    hit = _CACHE.get(name)
    if hit is None:
        hit = _CACHE[name] = _classify(name, mod)
    return hit


def _classify(name: str, mod: types.ModuleType | None) -> bool:
    if _is_own_machinery(name):
        # pylearn_lab's own machinery (cache, VM, training loop, ...) is library code however
        # it is installed: its version stands for it. Followed as user code (an editable
        # install), its runtime state -- open caches, memo tables -- would leak into the keys
        # of every component that calls it. Shipped components stay keyed by their code when
        # they are not installed from a wheel.
        return True
    if mod is None:
        return False
    path = getattr(mod, "__file__", None)
    if path:
        return is_library_file(path)
    top = name.split(".")[0]
    if name in sys.builtin_module_names or top in sys.builtin_module_names:
        return True
    # a namespace package has no file: it is library code when all its directories are
    dirs = [str(p) for p in getattr(mod, "__path__", [])]
    return bool(dirs) and all(is_library_file(os.path.join(d, "__init__.py")) for d in dirs)


def _is_own_machinery(module: str) -> bool:
    return (module == "pylearn_lab" or module.startswith("pylearn_lab.")) and not any(
        module == c or module.startswith(c + ".") for c in _OWN_COMPONENTS)

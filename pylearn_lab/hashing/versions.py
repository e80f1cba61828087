"""Which modules are library code, and which package version stands for them.

Library code (the standard library, site-packages) counts in a key by the
name and version of the distribution that installed it: its code changes when
the package does. Versions are looked up once per top-level package and
memoised for the session, so the first key of a fresh session costs
milliseconds (no rescan of the installed distributions per library module).

Examples
--------
>>> is_library_module("os"), is_library_module("__main__")
(True, False)
>>> is_library_module("pylearn_lab.training.loop")  # the package's own machinery
True
>>> package_version("os").startswith("python==")
True
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import sysconfig

__all__ = ["is_library_module", "package_version"]


# --------------------------------------------------------------------------- library test

_LIB_ROOTS: tuple[str, ...] = tuple(
    sorted(
        {
            os.path.realpath(p)
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (p := sysconfig.get_paths().get(key))
        }
    )
)
_LIB_CACHE: dict[str, bool] = {}


def is_library_module(module: str | None) -> bool:
    """True when ``module`` is installed code (stdlib or site-packages), not user code.

    Examples
    --------
    >>> is_library_module("os"), is_library_module("__main__")
    (True, False)
    """
    if not module or module == "__main__":
        return False
    hit = _LIB_CACHE.get(module)
    if hit is not None:
        return hit
    mod = sys.modules.get(module)
    path = getattr(mod, "__file__", None) if mod is not None else None
    if _is_own_machinery(module):
        # pylearn_lab's own machinery (cache, VM, training loop, ...) is library code however
        # it is installed: its version stands for it. Followed as user code (an editable
        # install), its runtime state -- open caches, memo tables -- would leak into the keys
        # of every component that calls it. Shipped components stay keyed by their code when
        # they are not installed from a wheel.
        result = True
    elif mod is None:
        result = False
    elif path is None:
        result = module in sys.builtin_module_names or module.split(".")[0] in sys.builtin_module_names
    else:
        real = os.path.realpath(path)
        result = any(real.startswith(root + os.sep) for root in _LIB_ROOTS)
    _LIB_CACHE[module] = result
    return result


_OWN_COMPONENTS = ("pylearn_lab.components", "pylearn_lab.sklearn")


def _is_own_machinery(module: str) -> bool:
    return (module == "pylearn_lab" or module.startswith("pylearn_lab.")) and not any(
        module == c or module.startswith(c + ".") for c in _OWN_COMPONENTS)


_VERSIONS: dict[str, str] = {}
_DISTS: dict[str, list[str]] | None = None


def package_version(module: str) -> str:
    """``dist==version`` of the package that installed ``module``'s top-level package.

    Looked up once per top-level name: first the distribution of that very name
    (``numpy``, ``pandas``: a single metadata read), then the package's
    ``__version__``, and only for the rest (``sklearn`` is installed by
    ``scikit-learn``) one scan of the installed distributions, memoised for the
    session. A fresh session's first key so costs milliseconds, not a rescan of
    site-packages per library module.
    """
    top = module.split(".")[0]
    hit = _VERSIONS.get(top)
    if hit is None:
        hit = _VERSIONS[top] = _lookup_version(top)
    return hit


def _lookup_version(top: str) -> str:
    global _DISTS
    if top in sys.builtin_module_names or top in getattr(sys, "stdlib_module_names", ()):
        return f"python=={sys.version_info.major}.{sys.version_info.minor}"
    for name in dict.fromkeys((top, top.replace("_", "-"))):
        try:
            return f"{name}=={importlib.metadata.version(name)}"
        except (importlib.metadata.PackageNotFoundError, ValueError):
            pass
    version = getattr(sys.modules.get(top), "__version__", None)
    if isinstance(version, str):
        return f"{top}=={version}"
    if _DISTS is None:
        _DISTS = dict(importlib.metadata.packages_distributions())
    for dist in _DISTS.get(top, []):
        try:
            return f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return f"{top}==unknown"

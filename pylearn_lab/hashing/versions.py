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
import sys

from .library import is_library_module

__all__ = ["is_library_module", "package_version"]


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

"""One rule for "library code": hashing, shipping to engines and ``%%pylearn`` agree.

The old split (``realpath`` for keys, ``abspath`` for shipping) disagreed on a
module reached through a symlinked directory: it was keyed as a library (by
version) and shipped as user code (by value), or the other way round. Each test
builds a real package directory in its temp dir, links to it, and imports a
module through the link.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

import pytest

from pylearn_lab.backends.ipp import packing as ipp_pickle
from pylearn_lab.hashing import library, versions
from pylearn_lab.hashing.functions import function_identity


def _linked_module(tmp_path: Path, name: str, real_dir: str = "site") -> types.ModuleType:
    real = tmp_path / real_dir
    real.mkdir()
    (real / f"{name}.py").write_text("def helper(x):\n    return x + 1\n")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    sys.path.insert(0, str(link))
    importlib.invalidate_caches()
    return importlib.import_module(name)


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(library, "_CACHE", {})
    saved_path = list(sys.path)
    yield monkeypatch
    sys.path[:] = saved_path
    for name in [m for m in sys.modules if m.startswith("pl_librarytest_")]:
        del sys.modules[name]


def _old_shipping_rule(module: types.ModuleType, roots: tuple[str, ...]) -> bool:
    # what ipp_pickle.is_installed used to do (abspath on both sides)
    path = module.__file__
    assert path is not None
    return any(os.path.abspath(path).startswith(os.path.abspath(r) + os.sep) for r in roots)


def test_a_library_reached_through_a_symlink_is_a_library_for_keys_and_shipping(tmp_path, fresh):
    site = os.path.realpath(tmp_path / "site")
    fresh.setattr(library, "_ROOTS", (site,))
    mod = _linked_module(tmp_path, "pl_librarytest_a")
    assert mod.__file__ is not None
    assert os.path.abspath(mod.__file__) != os.path.realpath(mod.__file__)
    assert not _old_shipping_rule(mod, (site,))  # the old split: keyed as library, shipped as user

    assert versions.is_library_module(mod.__name__)       # keys
    assert ipp_pickle.is_installed(mod)                   # shipping
    assert library.is_library_module(mod)                 # cells (module inputs)
    assert function_identity(mod.helper).kind == "library"
    assert ipp_pickle.user_modules([mod.helper]) == []    # so it goes to engines by reference


def test_user_code_reached_through_a_symlink_is_user_code_everywhere(tmp_path, fresh):
    # the link lies inside a "library root"; the file it reaches really does not
    root = tmp_path / "root"
    root.mkdir()
    fresh.setattr(library, "_ROOTS", (os.path.realpath(root),))
    user = tmp_path / "user"
    user.mkdir()
    (user / "pl_librarytest_b.py").write_text("def helper(x):\n    return x - 1\n")
    (root / "link").symlink_to(user, target_is_directory=True)
    sys.path.insert(0, str(root / "link"))
    importlib.invalidate_caches()
    mod = importlib.import_module("pl_librarytest_b")
    assert _old_shipping_rule(mod, (os.path.realpath(root),))  # the old, wrong answer
    assert not versions.is_library_module(mod.__name__)
    assert not ipp_pickle.is_installed(mod)
    assert function_identity(mod.helper).kind != "library"
    assert ipp_pickle.user_modules([mod.helper]) == ["pl_librarytest_b"]


@pytest.mark.parametrize("name, expected", [
    ("json", True), ("os.path", True), ("pylearn_lab.vm.loop", True), ("__main__", False),
    ("", False), ("pl_librarytest_missing", False),
])
def test_plain_modules(name, expected, fresh):
    if name:
        importlib.import_module(name) if name != "pl_librarytest_missing" else None
    assert library.is_library_module(name or None) is expected
    assert versions.is_library_module(name or None) is expected


def test_builtin_modules_and_the_package_components_are_classified(fresh):
    assert library.is_library_module(sys) and library.is_library_module("builtins")
    from pylearn_lab.components import models

    # shipped components are keyed by their code unless installed from a wheel
    assert library.is_library_module(models) == library.is_library_file(models.__file__)

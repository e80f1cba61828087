"""Function identity: source-based, formatting-blind, transitive over helpers."""

from __future__ import annotations

import importlib
import math
import sys
import textwrap

import numpy as np

from pylearn_lab import function_identity


def _load(tmp_path, name, source):
    """Write ``source`` as module ``name`` and import it fresh."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    if str(tmp_path) not in sys.path:
        sys.path.insert(0, str(tmp_path))
    return importlib.import_module(name)


BASE = """
SCALE = 3

def helper(x):
    return x * 2

def other(x):
    return x - 1

def f(x, y=1):
    '''Docstring.'''
    return helper(x) + SCALE + y
"""


def test_comment_docstring_and_formatting_do_not_change_identity(tmp_path):
    a = function_identity(_load(tmp_path, "mod_fmt_a", BASE).f).digest
    edited = BASE.replace("    '''Docstring.'''\n", "    # a comment\n\n    '''Another doc.'''\n").replace(
        "return helper(x) + SCALE + y", "return (helper(x)\n            + SCALE  +  y)  # why")
    b = function_identity(_load(tmp_path, "mod_fmt_a", edited).f).digest
    assert a == b


def test_code_edit_changes_identity(tmp_path):
    a = function_identity(_load(tmp_path, "mod_code", BASE).f).digest
    b = function_identity(_load(tmp_path, "mod_code", BASE.replace("+ y", "- y")).f).digest
    assert a != b


def test_helper_edit_changes_caller_but_unrelated_edit_does_not(tmp_path):
    base = function_identity(_load(tmp_path, "mod_helper", BASE).f)
    changed_helper = _load(tmp_path, "mod_helper", BASE.replace("return x * 2", "return x * 4"))
    assert function_identity(changed_helper.f).digest != base.digest
    unrelated = _load(tmp_path, "mod_helper", BASE.replace("return x - 1", "return x - 7"))
    assert function_identity(unrelated.f).digest == base.digest
    assert any(k.startswith("function:mod_helper.helper") for k in base.parts)


def test_module_constant_change_changes_identity(tmp_path):
    a = function_identity(_load(tmp_path, "mod_const", BASE).f).digest
    b = function_identity(_load(tmp_path, "mod_const", BASE.replace("SCALE = 3", "SCALE = 4")).f).digest
    assert a != b


def test_closure_value_and_default_change_identity():
    def make(k):
        def g(x):
            return x + k
        return g

    assert function_identity(make(1)).digest == function_identity(make(1)).digest
    assert function_identity(make(1)).digest != function_identity(make(2)).digest

    def h(x, y=1):
        return x + y

    before = function_identity(h).digest
    h.__defaults__ = (2,)
    assert function_identity(h).digest != before


def test_redefined_helper_in_same_namespace_invalidates_memo(tmp_path):
    mod = _load(tmp_path, "mod_memo", BASE)
    before = function_identity(mod.f).digest
    mod.helper = lambda x: x * 10  # a notebook re-running the helper's cell
    assert function_identity(mod.f).digest != before


def test_library_functions_count_by_package_version():
    ident = function_identity(np.mean)
    assert ident.kind == "library"
    assert f"numpy=={np.__version__}" in ident.parts["library"]
    assert function_identity(math.sqrt).kind == "library"


def test_version_label_overrides_source(tmp_path):
    a = function_identity(_load(tmp_path, "mod_ver", BASE).f, version="1").digest
    b = function_identity(_load(tmp_path, "mod_ver", BASE.replace("+ y", "- y")).f, version="1").digest
    c = function_identity(_load(tmp_path, "mod_ver", BASE).f, version="2").digest
    assert a == b != c


def test_recursive_functions_are_fine(tmp_path):
    mod = _load(tmp_path, "mod_rec", """
        def even(n):
            return True if n == 0 else odd(n - 1)

        def odd(n):
            return False if n == 0 else even(n - 1)
    """)
    assert function_identity(mod.even).digest == function_identity(mod.even).digest
    assert function_identity(mod.even).digest != function_identity(mod.odd).digest


def test_notebook_cell_functions_have_stable_identity_across_reexecution():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False
    ip = InteractiveShell.instance(config=cfg)
    try:
        cell = "def nb_f(x):\n    return x + 41\n"
        ip.run_cell(cell)
        first = function_identity(ip.user_ns["nb_f"]).digest
        ip.run_cell(cell)  # re-execution makes a new function object
        assert function_identity(ip.user_ns["nb_f"]).digest == first
        ip.run_cell("def nb_f(x):\n    # just a comment\n    return x + 41\n")
        assert function_identity(ip.user_ns["nb_f"]).digest == first
        ip.run_cell("def nb_f(x):\n    return x + 42\n")
        assert function_identity(ip.user_ns["nb_f"]).digest != first
        assert function_identity(ip.user_ns["nb_f"]).kind == "source"
    finally:
        InteractiveShell.clear_instance()

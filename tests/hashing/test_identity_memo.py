"""The memo of function identities never serves a stale identity.

``function_identity`` memoises a function's whole identity; these tests change
each thing that went into it *in place* (same function objects) after a first
call, and check that the identity follows.
"""

from __future__ import annotations

import gc
import weakref

from pylearn_lab import function_identity


def test_helper_defaults_changed_in_place_change_the_caller():
    def helper(x, k=1):
        return x * k

    def f(x):
        return helper(x)

    before = function_identity(f).digest
    assert function_identity(f).digest == before  # served by the memo
    helper.__defaults__ = (2,)
    assert function_identity(f).digest != before


def test_closure_cell_rebound_changes_identity():
    k = 1

    def g(x):
        return x + k

    before = function_identity(g).digest
    k = 2
    assert function_identity(g).digest != before


def test_helper_code_replaced_in_place_changes_the_caller():
    def helper(x):
        return x + 1

    def other(x):
        return x + 2

    def f(x):
        return helper(x)

    before = function_identity(f).digest
    helper.__code__ = other.__code__
    assert function_identity(f).digest != before


def test_renamed_function_changes_identity():
    def f(x):
        return x

    before = function_identity(f)
    f.__qualname__ = "renamed"
    after = function_identity(f)
    assert after.name.endswith("renamed") and after.digest != before.digest


def test_memo_does_not_keep_functions_alive():
    def make():
        def helper(x):
            return x

        def f(x):
            return helper(x)

        return f

    f = make()
    function_identity(f)
    ref = weakref.ref(f)
    del f
    gc.collect()
    assert ref() is None

"""Each shortcut taken to make a small key cheap still follows what it skips.

* ``qualified_name`` of a plain function reads ``__module__``/``__qualname__``
  directly: it must equal the general answer in its odd cases (empty qualname,
  no module, a function carrying a component's attributes).
* The identity memo re-validates each member's *own* memo in place instead of
  asking ``_local`` for the current one: a change, a change back, and a memo
  replaced in between must all give the identity a recomputation gives.
* The binder lives on the component: a component built from a ``functools.wraps``
  copy of another (which copies its attributes, the binder included) must key
  by its own signature.
* ``new_call`` builds the same frozen, picklable Call as the dataclass.
"""

from __future__ import annotations

import functools
import pickle
import types

import pytest

import pylearn_lab as pl
from pylearn_lab import function_identity
from pylearn_lab.graph.nodes import Call, Ref, new_call
from pylearn_lab.hashing import functions as F


def _slow_qualified_name(obj):
    obj = F.unwrap_component(obj)
    mod = getattr(obj, "__module__", None) or type(obj).__module__
    qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(qual, str):
        qual = type(obj).__qualname__
    if not isinstance(mod, str):
        mod = type(obj).__module__
    return f"{mod}.{qual}"


def _fresh():
    def g(x):
        return x

    return g


@pytest.mark.parametrize("edit", ["none", "empty_qualname", "module_none", "module_empty",
                                  "module_int", "component_attr", "renamed"])
def test_qualified_name_fast_path_agrees_with_the_general_rule(edit):
    g = _fresh()
    if edit == "empty_qualname":
        g.__qualname__ = ""
    elif edit == "module_none":
        g.__module__ = None
    elif edit == "module_empty":
        g.__module__ = ""
    elif edit == "module_int":
        g.__module__ = 5
    elif edit == "component_attr":
        g.__pylearn_component_fn__ = len  # what functools.wraps(a component) copies
    elif edit == "renamed":
        g.__qualname__ = "elsewhere.h"
    assert F.qualified_name(g) == _slow_qualified_name(g)


def test_identity_follows_a_change_and_a_change_back_with_memos_replaced_between():
    def helper(x):
        return x + 1

    def other(x):
        return x + 2

    def f(x):
        return helper(x)

    original = helper.__code__
    first = function_identity(f).digest
    helper.__code__ = other.__code__
    changed = function_identity(helper).digest  # replaces helper's local memo
    assert function_identity(f).digest != first
    helper.__code__ = original
    assert function_identity(f).digest == first  # back to what it was: same identity
    assert function_identity(helper).digest != changed
    helper.__code__ = other.__code__
    assert function_identity(f).digest != first


def test_identity_follows_a_rebound_global_of_a_dependency():
    ns: dict = {"__name__": "__main__"}
    source = "K = 1\ndef helper(x):\n    return x + K\ndef f(x):\n    return helper(x)\n"
    exec(source, ns)  # noqa: S102 -- a namespace rebound as a notebook's is
    f = ns["f"]
    first = function_identity(f).digest
    assert function_identity(f).digest == first
    ns["K"] = 2
    second = function_identity(f).digest
    assert second != first
    ns["K"] = 1
    assert function_identity(f).digest == first


def test_a_component_of_a_wraps_copy_keys_by_its_own_binder():
    @pl.component
    def one(x, y=1):
        return x

    one(1)  # builds one's binder

    @functools.wraps(one)
    def two(x, y=5):
        return x + y

    assert vars(two)["_key_binder"] is one._key_binder  # wraps copied the binder along
    comp = pl.component(two)
    e = comp(1)
    assert comp._key_binder is not one._key_binder  # not trusted: rebuilt for comp
    clean = dict(vars(two))
    del clean["_key_binder"]
    bare = types.FunctionType(two.__code__, two.__globals__, "two", two.__defaults__)
    bare.__dict__.update(clean)
    assert pl.component(bare)(1).key == e.key  # what the component gives without the copy


def test_a_binder_is_rebuilt_when_the_signature_is_replaced():
    @pl.component
    def h(x, y=1):
        return x + y

    before = h(1)
    assert before.call.args == (1, 1)

    def h2(x, y=2):
        return x + y

    import inspect

    h.signature = inspect.signature(h2)
    h._specs = None
    assert h(1).call.args == (1, 2)


def test_new_call_is_the_dataclass_call():
    a = new_call(abs, (-2, Ref("r" * 32)), {"k": 1}, "k" * 32, "abs", False, ("r" * 32,))
    b = Call(abs, (-2, Ref("r" * 32)), {"k": 1}, "k" * 32, "abs", False, ("r" * 32,))
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b)
    assert (a.func, a.args, a.kwargs, a.key, a.label, a.cache, a.inputs) == (
        b.func, b.args, b.kwargs, b.key, b.label, b.cache, b.inputs)
    with pytest.raises(AttributeError):
        a.key = "other"  # still frozen
    c = pickle.loads(pickle.dumps(a))
    assert type(c) is Call and c.args == a.args and c.cache is False


def test_function_type_check_is_exact():
    # a FunctionType subclass cannot exist; a callable object with function-like names
    # takes the general rule
    class Fake:
        __module__ = "m"
        __qualname__ = "Fake"

        def __call__(self):
            return 1

    obj = Fake()
    assert not isinstance(obj, types.FunctionType)
    assert F.qualified_name(obj) == _slow_qualified_name(obj)


@pytest.mark.parametrize("n", [0, 1, 31, 32, 64, 1023, 1024, 1025, 4096, 70_000])
def test_digest_small_is_digest_bytes(n):
    from pylearn_lab.hashing.digest import digest_bytes, digest_small, new_digest

    data = bytes(range(256)) * (n // 256) + bytes(n % 256)
    d = new_digest()
    d.update(data)
    assert digest_small(data) == digest_bytes(data) == d.hexdigest()
    assert len(digest_small(data)) == 32

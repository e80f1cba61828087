"""Issue 11, "Wrong results to make impossible": each case through a real Cache.

Every test runs two calls that must not share an entry through one ``Cache``,
counts what really computed (``keyed.TALLY``) and compares each result with a
fresh computation.
"""

from __future__ import annotations

import functools
import importlib
import sys
import textwrap

import numpy as np
import pytest
from keyed import TALLY, assert_kept_apart, through_cache

import pylearn_lab as pl
from pylearn_lab import function_identity
from pylearn_lab.errors import StaleKeyError


@pl.component
def apply(op, x):
    TALLY.tick()
    return op(x)


def _apply_fresh(op_x):
    op, x = op_x
    return op(x)


def _pair(op):
    return (op, [1, 2, 3])


@pytest.fixture
def cache(tmp_path):
    return pl.Cache(tmp_path / "cache")


def _load(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    if str(tmp_path) not in sys.path:
        sys.path.insert(0, str(tmp_path))
    return importlib.import_module(name)


# --------------------------------------------------------------------------- function identity


@pytest.mark.parametrize("a, b, x", [
    ("-".join, "+".join, ["a", "b"]),
    ({"k": 1}.get, {"k": 2}.get, "k"),
    (np.maximum.reduce, np.minimum.reduce, np.array([3, 1, 2])),
    ((2).__mul__, (3).__mul__, 7),
    (np.frompyfunc(lambda v: v + 1, 1, 1), np.frompyfunc(lambda v: v - 1, 1, 1), np.array([1, 2], dtype=object)),
])
def test_builtin_bound_methods_keep_their_self(cache, a, b, x):
    assert_kept_apart(cache, lambda op: apply(op, x), lambda op: op(x), a, b)


def _base(x):
    return x + 1


def _deco_double(f):
    @functools.wraps(f)
    def wrapper(x):
        return 2 * f(x)
    return wrapper


def _deco_negate(f):
    @functools.wraps(f)
    def wrapper(x):
        return -f(x)
    return wrapper


def test_wraps_wrappers_bodies_count(cache):
    a, b = _deco_double(_base), _deco_negate(_base)
    assert function_identity(a).digest != function_identity(b).digest
    assert_kept_apart(cache, lambda f: apply(f, 3), lambda f: f(3), a, b)


def test_lru_cache_helpers_are_followed(tmp_path, cache):
    src = """
        import functools
        @functools.lru_cache(maxsize=None)
        def helper(x):
            return x * K

        K = 2

        def f(x):
            return helper(x)
    """
    m1 = _load(tmp_path, "mod_lru", src)
    d1 = function_identity(m1.f).digest
    m2 = _load(tmp_path, "mod_lru", src.replace("x * K", "x + K"))
    assert function_identity(m2.f).digest != d1
    assert function_identity(m2.helper).digest != function_identity(m1.helper).digest
    assert_kept_apart(cache, lambda f: apply(f, 5), lambda f: f(5), m1.f, m2.f)


class Scaler:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return x * self.k


class Shifter:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return x + self.k


def test_callable_instances_by_class_and_state(cache):
    assert_kept_apart(cache, lambda op: apply(op, 10), lambda op: op(10), Scaler(2), Scaler(3))
    assert_kept_apart(cache, lambda op: apply(op, 11), lambda op: op(11), Scaler(2), Shifter(2))
    comp_a, comp_b = pl.component(Scaler(4)), pl.component(Shifter(4))
    assert comp_a(1).key != comp_b(1).key
    assert pl.run(comp_a(1), cache=cache) == 4 and pl.run(comp_b(1), cache=cache) == 5

    class Hashed(Scaler):
        def __pylearn_hash__(self):
            return ("scale", self.k)

    assert function_identity(Hashed(2)).digest != function_identity(Hashed(3)).digest


def test_same_qualname_dependencies_are_kept_apart(tmp_path, cache):
    m = _load(tmp_path, "mod_lambdas", """
        first = lambda x: x + 1
        second = lambda x: x * 100

        def make(k):
            def inner(x):
                return x + k
            return inner

        add1, add2 = make(1), make(2)

        def f(x):
            return first(x) + second(x)

        def g(x):
            return add1(x) * 10 + add2(x)
    """)
    d_f, d_g = function_identity(m.f).digest, function_identity(m.g).digest
    m.second = lambda x: x * 200  # same qualname as before, other code
    assert function_identity(m.f).digest != d_f
    m.add2 = m.make(3)  # same qualname, same code, other closure
    assert function_identity(m.g).digest != d_g
    m.add1, m.add2 = m.add2, m.add1  # swapped: g computes otherwise
    assert function_identity(m.g).digest not in (d_g,)
    out, n = through_cache(cache, apply(m.g, 1))
    assert n == 1 and out == m.g(1)


def test_class_dependencies_bring_methods_bases_and_inherited_code(tmp_path, cache):
    src_base = """
        def helper(x):
            return x + 1

        class Base:
            def step(self, x):
                return helper(x)
    """
    src = """
        from mod_cls_base import Base

        class Model(Base):
            def run(self, x):
                return self.step(x) * 2

        def f(x):
            return Model().run(x)
    """
    _load(tmp_path, "mod_cls_base", src_base)
    m = _load(tmp_path, "mod_cls", src)
    d = function_identity(m.f).digest
    _load(tmp_path, "mod_cls_base", src_base.replace("x + 1", "x + 5"))  # a global helper of a base method
    m2 = _load(tmp_path, "mod_cls", src)
    assert function_identity(m2.f).digest != d
    assert_kept_apart(cache, lambda f: apply(f, 1), lambda f: f(1), m.f, m2.f)


def test_helpers_reached_through_attribute_chains(tmp_path, cache):
    pkg = tmp_path / "chainpkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import sub\n")
    (pkg / "sub" / "__init__.py").write_text("def helper(x):\n    return x + 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        for name in [n for n in sys.modules if n.startswith("chainpkg")]:
            del sys.modules[name]
        chainpkg = importlib.import_module("chainpkg")

        def f(x):
            return chainpkg.sub.helper(x)

        d = function_identity(f).digest
        out, n = through_cache(cache, apply(f, 1))
        assert out == 2 and n == 1
        chainpkg.sub.helper = lambda x: x + 100  # the helper redefined (a notebook re-run)
        assert function_identity(f).digest != d
        out, n = through_cache(cache, apply(f, 1))
        assert n == 1 and out == f(1) == 101
    finally:
        sys.path.remove(str(tmp_path))


def test_module_edited_on_disk_after_import_keys_the_live_code(tmp_path, cache):
    m = _load(tmp_path, "mod_disk", "def f(x):\n    return x + 1\n")
    first = function_identity(m.f).digest
    (tmp_path / "mod_disk.py").write_text("def f(x):\n    return x + 2\n")  # not re-imported
    import linecache

    linecache.checkcache()
    assert function_identity(m.f).digest == first  # the code that runs did not change
    fresh = _load(tmp_path, "mod_disk", "def f(x):\n    return x + 2\n")
    assert function_identity(fresh.f).digest != first
    assert_kept_apart(cache, lambda f: apply(f, 1), lambda f: f(1), m.f, fresh.f)


def test_helper_redefined_between_build_and_run_is_never_stored_stale(cache):
    ns: dict = {}
    exec(textwrap.dedent("""
        def helper(x):
            return x + 1

        def f(x):
            return helper(x)
    """), ns)
    comp = pl.component(ns["f"])
    e = comp(1)
    exec("def helper(x):\n    return x + 50\n", ns)  # redefined after the Expr was built
    with pytest.raises(StaleKeyError, match="changed after the expression was built"):
        pl.run(e, cache=cache)
    assert not cache.contains_many([e.key])
    fresh = comp(1)
    assert pl.run(fresh, cache=cache) == 51 and fresh.key != e.key


def test_execd_code_and_file_code_share_one_identity(tmp_path):
    src = "def f(x):\n    return [v * 2 for v in x if v in {1, 2, 3}]\n"
    m = _load(tmp_path, "mod_exec_same", src)
    ns: dict = {"__name__": "mod_exec_same"}
    exec(compile(src, "<string>", "exec"), ns)
    a, b = function_identity(m.f), function_identity(ns["f"])
    assert a.kind == "source" and b.kind == "code"
    assert a.digest == b.digest


def test_cloudpickled_dynamic_code_keeps_its_identity():
    import cloudpickle

    ns: dict = {"__name__": "__main__"}
    exec("def dyn(x):\n    return x * 3 + len({'a', 'b'})\n", ns)
    clone = cloudpickle.loads(cloudpickle.dumps(ns["dyn"]))
    assert clone is not ns["dyn"]
    assert function_identity(clone).digest == function_identity(ns["dyn"]).digest


# --------------------------------------------------------------------------- values


@pl.component
def total(x):
    TALLY.tick()
    return float(np.asarray(x, dtype=float).sum())


def test_array_mutated_after_build_is_never_stored_under_the_stale_key(cache):
    a = np.ones(1000)
    e = total(a)
    a[0] = 99.0
    with pytest.raises(StaleKeyError):
        pl.run(e, cache=cache)
    assert not cache.contains_many([e.key])
    out, n = through_cache(cache, total(a))
    assert n == 1 and out == total.fn(a)
    b = np.ones(1000)
    out, n = through_cache(cache, total(b))  # the original content was never stored
    assert n == 1 and out == 1000.0


@pl.component
def describe(x):
    TALLY.tick()
    return _describe(x)


def _describe(x):
    if isinstance(x, memoryview):  # its repr is its address: in-process nodes get a read-only one
        return (type(x).__name__, x.format, x.shape, x.tobytes())
    return (type(x).__name__, repr(x))


class MyList(list):
    pass


class MyStr(str):
    pass


class MyInt(int):
    pass


class MyFloat(float):
    pass


class MyDict(dict):
    pass


def _types_cases():
    import collections
    import datetime
    import enum
    import pathlib
    import zoneinfo

    class Flag(enum.IntFlag):
        A = 1
        B = 2

    paris = zoneinfo.ZoneInfo("Europe/Paris")
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    return [
        (collections.OrderedDict(a=1, b=2), collections.OrderedDict(b=2, a=1)),
        ({"a": 1}, collections.OrderedDict(a=1)),
        (collections.defaultdict(int, a=1), collections.defaultdict(list, a=1)),
        (collections.Counter(a=1), {"a": 1}),
        (np.matrix([[1, 2]]), np.array([[1, 2]])),
        (np.ma.array([1, 2], mask=[0, 1]), np.ma.array([1, 2], mask=[1, 0])),
        (np.ma.array([1, 2], mask=[0, 1], fill_value=7), np.ma.array([1, 2], mask=[0, 1], fill_value=8)),
        (np.ma.array([1, 2]), np.array([1, 2])),
        (np.rec.array([(1, 2.0)], dtype=[("a", "i8"), ("b", "f8")]),
         np.array([(1, 2.0)], dtype=[("a", "i8"), ("b", "f8")])),
        (b"ab", bytearray(b"ab")),
        (b"ab", memoryview(b"ab")),
        (memoryview(np.arange(4, dtype=np.int16)), memoryview(np.arange(4, dtype=np.int16).view(np.uint8))),
        (memoryview(b"abcd").cast("B", (2, 2)), memoryview(b"abcd")),
        (MyStr("x"), "x"), (MyInt(1), 1), (MyFloat(1.5), 1.5), (MyList([1]), [1]), (MyDict(a=1), {"a": 1}),
        (Flag.A | Flag.B, Flag.A), (Flag(3), Flag(1)),
        (pathlib.PurePosixPath("a/b"), pathlib.PureWindowsPath("a/b")),
        (datetime.datetime(2024, 7, 1, 12, tzinfo=paris), datetime.datetime(2024, 7, 1, 12, tzinfo=berlin)),
        (range(2**70), range(2**70 + 1)),
    ]


@pytest.mark.parametrize("a, b", _types_cases())
def test_types_are_kept_apart(cache, a, b):
    assert pl.hash_value(a) != pl.hash_value(b)
    assert_kept_apart(cache, describe, _describe, a, b)


def test_a_subclass_argument_reaches_the_function_as_itself(cache):
    out = pl.run(describe(MyList([1, 2])), cache=cache)
    assert out == ("MyList", "[1, 2]")


def test_enum_and_dataclass_redefined_under_one_name(cache):
    import dataclasses
    import enum

    def make_enum(v):
        class Color(enum.Enum):
            RED = v
        return Color

    def make_dc(default, double):
        @dataclasses.dataclass
        class Cfg:
            k: int = default

            def value(self):
                return self.k * (2 if double else 1)
        return Cfg

    assert pl.hash_value(make_enum(1).RED) != pl.hash_value(make_enum(2).RED)
    a, b = make_dc(1, True)(), make_dc(1, False)()
    assert pl.hash_value(a) != pl.hash_value(b)
    assert_kept_apart(cache, lambda c: apply(lambda v: v.value(), c), lambda c: c.value(), a, b)


def test_equal_values_hash_equal_despite_padding():
    ld = np.array([1.5, 2.25], dtype=np.longdouble)
    raw = ld.view(np.uint8).copy()
    if ld.dtype.itemsize == 16:
        raw.reshape(2, 16)[:, 10:] = 0xAB  # garbage in the padding bytes
        assert pl.hash_value(raw.view(np.longdouble)) == pl.hash_value(ld)
    aligned = np.dtype([("a", "u1"), ("b", "f8")], align=True)
    x = np.zeros(3, dtype=aligned)
    y = np.frombuffer(bytes(b"\xff" * (3 * aligned.itemsize)), dtype=aligned).copy()
    y["a"], y["b"] = x["a"], x["b"]
    assert pl.hash_value(x) == pl.hash_value(y)
    packed = np.zeros(3, dtype=[("a", "u1"), ("b", "f8")])
    assert pl.hash_value(packed) == pl.hash_value(x)  # same fields, other layout: one value
    ooo = np.dtype({"names": ["a", "b"], "formats": ["i4", "i4"], "offsets": [4, 0]})
    z = np.zeros(2, dtype=ooo)
    z["a"], z["b"] = [1, 2], [3, 4]
    assert pl.hash_value(z) != pl.hash_value(np.zeros(2, dtype=ooo))
    assert pl.hash_value(z) == pl.hash_value(z.copy())


def test_crafted_collision_class_is_closed():
    # The digest is BLAKE3 (see test_digest.py); the float pair trick of xxh3 long inputs
    # (lanes that cancel in the accumulator) cannot make two arrays share a key.
    a = np.random.default_rng(3).random(512)
    b = a.copy()
    b.view(np.uint64)[[0, 1]] = b.view(np.uint64)[[1, 0]]
    assert pl.hash_value(a) != pl.hash_value(b)


def _dtypes():
    out = []
    for code in np.typecodes["All"]:
        try:
            out.append(np.dtype(code))
        except TypeError:
            pass
    out += [np.dtype("M8[ns]"), np.dtype("m8[s]"), np.dtype("U3"), np.dtype("S3"), np.dtype("V4"),
            np.dtype([("a", "i4"), ("b", ("f8", (2,)))]), np.dtype(object)]
    return out


@pytest.mark.parametrize("dt", _dtypes(), ids=str)
def test_every_numpy_dtype_hashes(dt):
    a = np.zeros(3, dtype=dt)
    assert pl.hash_value(a) == pl.hash_value(a.copy())
    assert pl.hash_value(a[0]) == pl.hash_value(a.copy()[0])


def test_recursive_containers_and_deep_nesting():
    from pylearn_lab.errors import UnhashableError

    a: list = [1]
    a.append(a)
    b: list = [1]
    b.append(b)
    assert pl.hash_value(a) == pl.hash_value(b)
    c: list = [2]
    c.append(c)
    assert pl.hash_value(a) != pl.hash_value(c)
    d: dict = {}
    d["self"] = d
    pl.hash_value(d)
    deep: list = []
    cur = deep
    for _ in range(10_000):
        nxt: list = []
        cur.append(nxt)
        cur = nxt
    with pytest.raises(UnhashableError, match="nested too deeply"):
        pl.hash_value(deep)
    with pytest.raises(UnhashableError, match="nested too deeply"):
        total(deep)

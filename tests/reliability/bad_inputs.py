"""The catalogue of bad inputs: what a user may get wrong, the exact error, what it says to do.

Each :class:`Case` is one row of ``docs/bad_inputs.md`` (a test checks the
table and this catalogue agree). ``trigger(ctx)`` performs the bad call;
``todo`` is a regular expression for the part of the message that tells the
user what to do next.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np

import pylearn_lab as pl
from pylearn_lab import errors as E
from pylearn_lab.graph import Bounds, Graph
from pylearn_lab.graph.nodes import Call, Ref
from pylearn_lab.graph.registry import lookup


@dataclass(frozen=True)
class Case:
    id: str
    area: str  # "API", "magic", "builder"
    bad_input: str  # as the docs table shows it
    error: type[BaseException]
    todo: str  # regex: the message says what to do
    trigger: Callable[[Any], Any]


# -- components the cases call -------------------------------------------------------------
@pl.component
def rel_scale(x, factor: float = 2.0):
    """``x * factor``."""
    return x * factor


@pl.component
def rel_pick(n: Annotated[int, Bounds(1, 10)] = 3, kind: Literal["a", "b"] = "a"):
    """A bounded int and a choice."""
    return n


@pl.component
def rel_fails(x):
    """Raises on purpose, like a component handed data it cannot use."""
    raise E.DataError(f"expected a 2-D array, received shape {np.shape(x)}")


def _twin(module: str) -> None:
    def rel_twin(x):
        return x

    rel_twin.__module__ = module
    rel_twin.__qualname__ = "rel_twin"
    pl.component(rel_twin)


_twin("reliability_twin_a")
_twin("reliability_twin_b")


def plain_function(x):
    """A plain function (not a @component): in a pipeline it gets the Expr itself."""
    return [x]


# -- helpers -------------------------------------------------------------------------------
def _spec(nodes: list[dict[str, Any]]) -> str:
    return json.dumps({"pylearn_graph": 1, "nodes": nodes})


def _cyclic_calls() -> dict[str, Call]:
    a, b = "a" * 32, "b" * 32
    return {a: Call(abs, (Ref(b),), {}, a, "first", True, (b,)),
            b: Call(abs, (Ref(a),), {}, b, "second", True, (a,))}


def _no_cluster_run(ctx: Any) -> Any:
    from pylearn_lab.backends import registry

    ctx.monkeypatch.setattr(registry, "_CLUSTER", None)
    return pl.run(rel_scale(1), backend="ipyparallel", cache=False, progress=False)


def _altered_secret(ctx: Any) -> Any:
    from pylearn_lab.cache.keyring import user_key_path

    # a data directory of this test's own: the session's real key stays untouched
    ctx.monkeypatch.setenv("XDG_DATA_HOME", str(ctx.tmp_path / "data"))
    path = ctx.tmp_path / "cache"
    pl.Cache(path).close()
    user_key_path().write_bytes(b"12345")
    return pl.Cache(path)


def _readable_key(ctx: Any) -> Any:
    import os

    from pylearn_lab.cache.keyring import user_key_path

    ctx.monkeypatch.setenv("XDG_DATA_HOME", str(ctx.tmp_path / "data"))
    pl.Cache(ctx.tmp_path / "cache").close()
    os.chmod(user_key_path(), 0o644)
    return pl.Cache(ctx.tmp_path / "cache")


def _planted_row(ctx: Any) -> Any:
    import sqlite3

    cache = pl.Cache(ctx.tmp_path / "cache")
    cache.save("1" * 32, [1, 2, 3])
    with sqlite3.connect(ctx.tmp_path / "cache" / "index.sqlite") as db:
        db.execute("UPDATE entries SET mac = ?", ("0" * 32,))
    db.close()
    return cache.store.get("1" * 32)


def _file(ctx: Any) -> Path:
    f = ctx.tmp_path / "a-file"
    f.write_text("x")
    return f


API_CASES = [
    Case("api-cycle-graph", "API", "a graph whose nodes feed each other (`Graph({...})`)",
         E.CycleError, r"break the loop", lambda ctx: Graph(_cyclic_calls())),
    Case("api-cycle-spec", "API", "a JSON graph spec with a loop (`Graph.from_json`)",
         E.CycleError, r"Remove one of these edges",
         lambda ctx: Graph.from_json(_spec([
             {"id": "a", "component": "rel_scale", "args": [{"$ref": "b"}]},
             {"id": "b", "component": "rel_scale", "args": [{"$ref": "a"}]}]))),
    Case("api-unresolved-ref", "API", "a node referring to a node that is not in the graph",
         E.UnresolvedRefError, r"Include the upstream node",
         lambda ctx: Graph({"a" * 32: Call(abs, (Ref("c" * 32),), {}, "a" * 32, "a", True,
                                           ("c" * 32,))})),
    Case("api-output-not-in-graph", "API", "`Graph(nodes, outputs=[unknown key])`",
         E.UnresolvedRefError, r"Ask only for keys the graph contains",
         lambda ctx: Graph({}, outputs=["d" * 32])),
    Case("api-unknown-component", "API", "an unknown component name (`lookup('rel_scael')`)",
         E.UnknownComponentError, r"Did you mean 'rel_scale'.*define it with @pylearn_lab.component",
         lambda ctx: lookup("rel_scael")),
    Case("api-unknown-component-spec", "API", "a graph spec naming an unregistered component",
         E.UnknownComponentError, r"import the module that defines it",
         lambda ctx: Graph.from_json(_spec([{"id": "a", "component": "no_such.component"}]))),
    Case("api-ambiguous-component", "API", "a short name two components share",
         E.UnknownComponentError, r"Use the qualified name", lambda ctx: lookup("rel_twin")),
    Case("api-unpicklable-arg", "API", "an unpicklable argument (`call(f, (threading.Lock(),))`)",
         E.UnpicklableError, r"Fix: pass the data the object is built from",
         lambda ctx: pl.call(rel_scale, (threading.Lock(),), cache=False)),
    Case("api-unhashable-arg", "API", "an argument with no canonical hash (`rel_scale(object())`)",
         E.UnhashableError, r"register_hash\(type, fn\)", lambda ctx: rel_scale(object())),
    Case("api-missing-param", "API", "a missing required parameter (`rel_scale()`)",
         E.SignatureError, r"Expected rel_scale\(x, factor.*Fix the call's arguments",
         lambda ctx: rel_scale()),
    Case("api-extra-param", "API", "an unknown keyword (`rel_scale(1, fctor=3)`)",
         E.SignatureError, r"Fix the call's arguments", lambda ctx: rel_scale(1, fctor=3)),
    Case("api-wrong-type", "API", "a literal of the wrong type (`rel_pick(n='three')`)",
         E.ParameterTypeError, r"Pass a int", lambda ctx: rel_pick(n="three")),
    Case("api-out-of-bounds", "API", "a value outside `Annotated[int, Bounds(1, 10)]`",
         E.ParameterTypeError, r"inside the annotated bounds", lambda ctx: rel_pick(n=99)),
    Case("api-bad-choice", "API", "a value not in `Literal['a', 'b']`",
         E.ParameterTypeError, r"Pick one of the listed values", lambda ctx: rel_pick(kind="c")),
    Case("api-non-json-spec", "API", "a graph file that is not JSON",
         E.SpecError, r"Load a file written by Graph.to_json",
         lambda ctx: Graph.from_json("this is not { json")),
    Case("api-json-not-a-spec", "API", "JSON that is not a graph spec",
         E.SpecError, r"Load a file written by Graph.to_json", lambda ctx: Graph.from_json('{"a": 1}')),
    Case("api-spec-unserialisable", "API", "saving a graph with an array literal as JSON",
         E.SpecError, r"Make the value a component's output",
         lambda ctx: rel_scale(np.arange(3)).graph.to_json()),
    Case("api-run-not-expr", "API", "running something that is not an expression (`run([3])`)",
         TypeError, r"call a @component to make one", lambda ctx: pl.run([3])),
    Case("api-run-bare-value", "API", "running a bare value that is not an expression (`run(3)`)",
         TypeError, r"expected an Expr or a list of Expr.*received int 3", lambda ctx: pl.run(3)),
    Case("api-unknown-backend", "API", "an unknown backend name (`backend='gpu'`)",
         E.BackendError, r"expected one of 'serial', 'threads', 'processes', 'ipyparallel'",
         lambda ctx: pl.run(rel_scale(1), backend="gpu", cache=False, progress=False)),
    Case("api-no-cluster", "API", "`backend='ipyparallel'` with no cluster started",
         E.BackendError, r"Start one with pylearn_lab.IPyParallelBackend.start", _no_cluster_run),
    Case("api-unreachable-cache", "API", "a cache directory that cannot be created",
         E.CacheError, r"Pass a writable path to Cache\(path=...\).*cache=False",
         lambda ctx: pl.run(rel_scale(1), cache=str(_file(ctx) / "cache"), progress=False)),
    Case("api-cache-is-a-file", "API", "a cache path that is a file",
         E.CacheError, r"pass another path or set PYLEARN_CACHE", lambda ctx: pl.Cache(_file(ctx))),
    Case("api-bad-cache-arg", "API", "`run(..., cache=3)`",
         TypeError, r"expected a Cache, a directory path, None .* or False",
         lambda ctx: pl.run(rel_scale(1), cache=3, progress=False)),
    Case("api-bad-size", "API", "`Cache(max_bytes='2 parsecs')`",
         ValueError, r"Units: B, KB, MB, GB, TB",
         lambda ctx: pl.Cache(ctx.tmp_path / "c", max_bytes="2 parsecs")),
    Case("api-call-args-not-a-tuple", "API", "`call(f, 5)` (args not a tuple)",
         TypeError, r"Wrap a single argument: call\(fn, \(x,\)\)", lambda ctx: pl.call(rel_scale, 5)),
    Case("api-iterate-expr", "API", "iterating a lazy expression (`for v in expr`)",
         TypeError, r"call .compute\(\)", lambda ctx: list(rel_scale(1))),
    Case("api-empty-pipeline", "API", "`pipeline([])`",
         ValueError, r"Pass e.g. \[load_iris, standardize, pca\]", lambda ctx: pl.pipeline([])),
    Case("api-pipeline-plain-function", "API", "a pipeline step that is not a component",
         TypeError, r"decorate it with @component",
         lambda ctx: pl.pipeline([rel_scale(1), plain_function])),
    Case("api-component-not-callable", "API", "`component(3)`",
         TypeError, r"Decorate a def", lambda ctx: pl.component(3)),
    Case("api-replace-non-expr", "API", "`expr.replace({old: 3})`",
         TypeError, r"Build both sides by calling components",
         lambda ctx: rel_scale(rel_pick()).replace({rel_pick(): 3})),
    Case("api-node-raises", "API", "a component handed data it cannot use",
         E.NodeError, r"fix the cause and run again",
         lambda ctx: pl.run(rel_fails([1, 2]), cache=False, progress=False)),
    Case("api-altered-secret", "API", "a personal key file (`secret.key` in the user's data dir) that was altered",
         E.CacheError, r"Delete secret.key \(a new key is made", _altered_secret),
    Case("api-planted-entry", "API", "an index row not signed by this cache (planted/altered)",
         E.IntegrityError, r"refused unread and removed; it will be recomputed", _planted_row),
    Case("api-not-a-cache", "API", "`Cache(dir)` on a non-empty folder that is not a cache",
         E.CacheError, r"is not a pylearn_lab cache .*Nothing in it was touched; pass another",
         lambda ctx: pl.Cache(_file(ctx).parent)),
    Case("api-system-dir", "API", "`Cache('/etc')` (a system directory)",
         E.CacheError, r"system directory or your home directory itself.*force=True",
         lambda ctx: pl.Cache("/etc")),
    Case("api-key-readable", "API", "a personal key file others can read (mode 0644)",
         E.CacheError, r"expected 0600 .*Run `chmod 600", _readable_key),
    Case("api-bad-trust", "API", "`Cache(path, trust=3)`",
         TypeError, r"trust= expected None, True, 'reset' or the path of a team key file",
         lambda ctx: pl.Cache(ctx.tmp_path / "c", trust=3)),
    Case("api-nul-path", "API", "a cache path with a NUL byte",
         E.CacheError, r"it contains a NUL character\. Expected a plain directory path",
         lambda ctx: pl.Cache("a\0b")),
    Case("api-deep-spec", "API", "a graph file nested 100,000 levels deep",
         E.SpecError, r"nested too deeply .*Load a file written by Graph.to_json",
         lambda ctx: Graph.from_json('{"pylearn_graph": 1, "nodes": ' + "[" * 100_000 + "]" * 100_000 + "}")),
    Case("api-spec-bad-ref", "API", "a graph file whose `$ref` is not a node id",
         E.SpecError, r"must name a node id",
         lambda ctx: Graph.from_json('{"pylearn_graph": 1, "nodes": [{"id": "a", "component": '
                                     '"x", "args": [{"$ref": 3}]}]}')),
    Case("api-bad-node-timeout", "API", "`run(..., node_timeout=-1)`",
         E.OptionError, r"run\(node_timeout=\) expected a number of seconds > 0 .* Pass e.g.",
         lambda ctx: pl.run(rel_scale(1), node_timeout=-1, cache=False, progress=False)),
    Case("api-bad-component-timeout", "API", "`component(timeout='5s')`",
         E.OptionError, r"component\(timeout=\) expected a number of seconds > 0 .* Pass e.g.",
         lambda ctx: pl.component(timeout="5s")(plain_function)),
]

#: Needs a cluster of its own (test_bad_inputs.py, marked ``cluster``).
NO_ENGINES = Case("api-no-engines", "API", "a cluster with no engines (`IPyParallelBackend.start(n=0)`)",
                  E.NoEnginesError, r"Start engines \(e.g. `ipcluster engines", lambda ctx: None)

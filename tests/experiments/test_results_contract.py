"""The results table as an API: fixed column names, preserved types, honest ``current``.

The column rule (documented in ``pylearn_lab.experiments.results``): a component's own
parameters by bare name, each Expr-valued input by its parameter name holding
the label of the component that made it, every upstream parameter as
``label.param`` -- whatever else is in the cache.
"""

from __future__ import annotations

import pylearn_lab as pl

CALLS: dict[str, int] = pl.untracked({})  # a counter the code writes to: not part of any key


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


@pl.component
def source(n: int = 6, seed: int = 0) -> list:
    _count("source")
    return [(i * 3 + seed) % 7 for i in range(n)]


@pl.component
def reduce_dims(data: list, n_components: int | None = None) -> list:
    _count("reduce_dims")
    return data if n_components is None else data[:n_components]


@pl.component
def model(data: list, C: float = 1.0, seed: int = 0) -> dict:
    _count("model")
    return {"acc": round(1.0 / (1.0 + abs(C - 1.0)) + 0.01 * len(data), 6), "n": len(data)}


def _columns_and_cells(t):
    return list(t.columns), {c: list(t[c]) for c in t.columns if c not in ("created", "duration",
                                                                            "host", "engine")}


def test_columns_do_not_depend_on_what_else_is_cached(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    exprs = [model(reduce_dims(source(), n_components=k), C=c) for k in (None, 2) for c in (0.5, 1)]
    sw = pl.sweep(model(reduce_dims(source(), n_components=None)),
                  grid={"n_components": [None, 2], "C": [0.5, 1]}, cache=cache)
    assert sw.keys == [e.key for e in exprs]
    before = pl.results(model, cache=cache)
    sw_before = sw.results()
    # code written against the table: by column name
    pick = before[(before["reduce_dims.n_components"].map(lambda v: v is None)) & (before["C"] == 1)]
    assert len(pick) == 1 and pick["acc"].iloc[0] == 1.06 and pick["data"].iloc[0] == "reduce_dims"
    # other results enter the cache: another component with a clashing parameter name,
    # another source seed, and a different upstream graph
    pl.run([reduce_dims(source(seed=1), n_components=3),
            model(source(n=4), C=2.0, seed=7)], cache=cache)
    after = pl.results(model, cache=cache)
    same = after[after["key"].isin(sw.keys)]
    for col in before.columns:  # every column kept its name and its cells
        if col in ("created", "duration", "host", "engine"):
            continue
        assert col in after.columns
        assert list(same[col]) == list(before[col]), col
    assert list(sw.results().columns) == list(sw_before.columns)
    assert set(sw_before.columns) <= set(after.columns)
    # the column names are the same in the sweep's table and in pl.results()
    assert list(sw_before.columns) == list(before.columns)
    new = after[after["seed"] == 7].iloc[0]
    assert new["data"] == "source" and new["source.n"] == 4


def test_types_are_preserved(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    sw = pl.sweep(model(reduce_dims(source(), n_components=None)),
                  grid={"n_components": [None, 2, 10]}, cache=cache)
    t = sw.results()  # in the sweep's order
    ks = list(t["reduce_dims.n_components"])
    assert ks == [None, 2, 10] and [type(k) for k in ks] == [type(None), int, int]
    assert t["n"].dtype.kind == "i" and t["source.n"].dtype.kind == "i"  # ints stay ints
    assert t["C"].dtype.kind == "f"
    plain = sw.results(pandas=False)
    assert plain["reduce_dims.n_components"] == [None, 2, 10]


def test_current_follows_upstream_and_helper_code(modules, tmp_path):
    cache = pl.Cache(tmp_path / "c")
    src = """
        from pylearn_lab import component

        def helper(x):
            return x + 1

        @component
        def prep(x: float) -> float:
            return helper(x)

        @component
        def score(v: float, scale: float = 1.0) -> float:
            return v * scale
        """
    mod = modules.write(src)
    pl.run([mod.score(mod.prep(1.0), scale=s) for s in (1.0, 2.0)], cache=cache)
    mod = modules.rewrite(mod, src.replace("x + 1", "x + 100"))  # only the helper changes
    pl.run(mod.score(mod.prep(1.0), scale=1.0), cache=cache)
    fresh = pl.results(mod.score, cache=cache, pandas=False)
    assert [r["value"] for r in fresh] == [101.0] and fresh["current"] == [True]
    every = pl.results(mod.score, cache=cache, pandas=False, include_stale=True)
    assert sorted(every["value"]) == [2.0, 4.0, 101.0]
    assert {r["value"]: r["current"] for r in every} == {2.0: False, 4.0: False, 101.0: True}
    # the stale 4.0 is the largest value: best() still never returns it unless asked
    assert every.best("value")["value"] == 101.0
    assert every.best("value", include_stale=True)["value"] == 101.0
    frame = pl.results(mod.score, cache=cache, include_stale=True)
    assert frame.best("value", mode="min")["value"] == 101.0
    assert frame.best("value", mode="min", include_stale=True)["value"] == 2.0

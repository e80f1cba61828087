"""results(): the experiment table read from the cache index matches what ran."""

from __future__ import annotations

import datetime as dt

import pytest

import pylearn_lab as pl
from pylearn_lab.experiments.table import Table


@pl.component
def make(n: int = 10, seed: int = 0) -> list:
    return [(i * 7 + seed) % 5 for i in range(n)]


@pl.component
def fit(data: list, lr: float = 0.1, l2: float = 0.0, seed: int = 0) -> dict:
    return {"acc": round(1 - abs(lr - 0.2) - l2, 6), "loss": round(sum(data) * lr + seed, 6)}


@pl.component
def report(scores: dict) -> float:
    return scores["acc"]


GRID = {"lr": [0.1, 0.2], "l2": [0.0, 0.5]}


@pytest.fixture
def swept(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    sw = pl.sweep(fit(make(n=12)), grid=GRID, cache=cache)
    return sw, cache


def test_table_matches_what_ran(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    start = dt.datetime.now()
    sw = pl.sweep(fit(make(n=12)), grid=GRID, cache=cache)
    end = dt.datetime.now()
    t = pl.results(fit, cache=cache)
    assert len(t) == 4
    got = {(r["lr"], r["l2"]): r for r in t.to_dict("records")}
    assert set(got) == {(p["lr"], p["l2"]) for p in sw.points}
    for p, v, k in zip(sw.points, sw.values, sw.keys):
        row = got[(p["lr"], p["l2"])]
        assert row["acc"] == v["acc"] and row["loss"] == v["loss"] and row["key"] == k
        assert row["make.seed"] == 0 and row["n"] == 12  # upstream parameters, joined
        assert row["seed"] == 0  # fit's own seed keeps the bare name
        assert row["duration"] >= 0 and row["host"] and row["engine"]
        assert isinstance(row["created"], dt.datetime)
        assert start <= row["created"] <= end
        assert row["version"] and bool(row["current"]) is True
    assert {"lr", "l2", "n", "make.seed"} <= set(t.attrs["params"])
    assert t.attrs["metrics"] == ["acc", "loss"]


def test_light_table_without_pandas_has_the_same_rows(swept):
    _, cache = swept
    frame = pl.results(fit, cache=cache)
    table = pl.results(fit, cache=cache, pandas=False)
    assert isinstance(table, Table) and table.columns == list(frame.columns)
    assert table["key"] == list(frame["key"]) and table["acc"] == list(frame["acc"])
    assert "lr" in repr(table) and "<table>" in table._repr_html_()


def test_best_in_both_kinds_of_table(swept):
    sw, cache = swept
    frame = pl.results(fit, cache=cache)
    table = pl.results(fit, cache=cache, pandas=False)
    best = max(zip(sw.values, sw.points), key=lambda t: t[0]["acc"])[1]
    for t in (frame, table):
        assert (t.best("acc")["lr"], t.best("acc")["l2"]) == (best["lr"], best["l2"])
        lowest = t.best("loss", mode="min")
        assert lowest["loss"] == min(v["loss"] for v in sw.values)
        with pytest.raises(KeyError):
            t.best("nope")
    assert sw.best("acc").params == best
    assert sw.best("loss", mode="min").value["loss"] == min(v["loss"] for v in sw.values)


def test_sweep_results_are_exactly_its_points(swept):
    sw, cache = swept
    pl.run(fit(make(n=12), lr=0.9), cache=cache)  # another result of fit, not in the sweep
    assert len(pl.results(fit, cache=cache)) == 5
    t = sw.results()
    assert list(t["key"]) == sw.keys


def test_where_filters_rows(swept):
    _, cache = swept
    assert set(pl.results(fit, where={"lr": 0.1}, cache=cache)["l2"]) == {0.0, 0.5}
    assert len(pl.results(fit, where={"l2": {0.5}, "acc": lambda a: a > 0.4}, cache=cache)) == 1
    assert len(pl.results(fit, where=lambda row: row["lr"] > 0.15, cache=cache)) == 2
    assert len(pl.results("fit", cache=cache)) == 4


def test_downstream_results_show_the_parameters_upstream(swept):
    sw, cache = swept
    pl.run([report(e) for e in sw.exprs], cache=cache)
    t = pl.results(report, cache=cache, pandas=False)
    assert sorted((r["lr"], r["l2"], r["value"]) for r in t) == sorted(
        (p["lr"], p["l2"], v["acc"]) for p, v in zip(sw.points, sw.values))
    # two upstream seeds (fit's and make's): both prefixed
    assert "fit.seed" in t.columns and "make.seed" in t.columns and "seed" not in t.columns


def test_results_of_changed_code_are_kept_and_labelled(modules, tmp_path):
    cache = pl.Cache(tmp_path / "c")
    src = """
        from pylearn_lab import component

        @component
        def score(x: float) -> float:
            return x * 2
        """
    mod = modules.write(src)
    pl.run(mod.score(1.0), cache=cache)
    mod = modules.rewrite(mod, src.replace("x * 2", "x * 3 + 0"))
    pl.run(mod.score(1.0), cache=cache)
    t = pl.results(mod.score, cache=cache, pandas=False)
    assert [r["value"] for r in t] == [2.0, 3.0]
    assert len(set(t["version"])) == 2 and t["current"] == [False, True]


def test_sweep_without_cache_tabulates_values():
    sw = pl.sweep(fit, grid={"lr": [0.1, 0.3]}, cache=False, data=[1, 2])
    t = sw.results()
    assert list(t["lr"]) == [0.1, 0.3] and list(t["acc"]) == [v["acc"] for v in sw.values]


def test_results_needs_a_cache():
    with pytest.raises(ValueError, match="cache=False"):
        pl.results(fit, cache=False)

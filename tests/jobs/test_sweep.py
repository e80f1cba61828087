"""Sweeps: one cached run per sweep; resumed sweeps compute only the missing points.

Every node below appends a line to a file in the test's tmp_path each time its
body actually runs, so the counts are what ran, not what was planned.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

import pytest

import pylearn_lab as pl
from pylearn_lab.backends import ThreadBackend
from pylearn_lab.errors import NodeError, RunCancelledError
from pylearn_lab.jobs import (
    SweepResult,
    choice,
    kfold_sweep,
    loguniform,
    random_search,
    repeat,
    sweep,
)
from pylearn_lab.jobs.rebind import rebind


class Gates:
    """Per-test gates, kept on a class: its source is part of ``train``'s identity, the
    events it holds are not (so registering a gate does not change any key)."""

    by_log: ClassVar[dict[str, tuple[threading.Event, threading.Event]]] = {}


def _mark(log: str, what: str) -> None:
    with open(Path(log) / "calls.txt", "a") as f:
        f.write(what + "\n")


def calls(log: Path) -> list[str]:
    path = log / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


@pl.component
def load(log: str, n: int = 20) -> list:
    _mark(log, "load")
    return list(range(n))


@pl.component
def prep(xs: list, log: str) -> list:
    _mark(log, "prep")
    return [x / 10 for x in xs]


@pl.component
def train(xs: list, log: str, lr: float = 0.1, l2: float = 0.0) -> dict:
    if (Path(log) / "fail").exists() and lr == 0.3:
        raise RuntimeError("simulated crash for lr=0.3")
    gate = Gates.by_log.get(log)
    if gate is not None and lr == 0.3:
        gate[0].set()  # reached: the test cancels the run now
        gate[1].wait(30)
    _mark(log, f"train lr={lr} l2={l2}")
    return {"acc": round(1 - abs(lr - 0.2) - l2, 6), "loss": round(sum(xs) * lr, 6)}


def graph(log: Path) -> pl.Expr:
    return train(prep(load(str(log)), str(log)), str(log))


GRID = {"lr": [0.1, 0.2, 0.3], "l2": [0.0, 0.01]}


def test_grid_points_and_values(tmp_path):
    sw = sweep(graph(tmp_path), grid=GRID, cache=pl.Cache(tmp_path / "c"))
    assert isinstance(sw, SweepResult) and len(sw) == 6
    assert sw.points == [{"lr": lr, "l2": l2} for lr in GRID["lr"] for l2 in GRID["l2"]]
    for p, v in zip(sw.points, sw.values):
        assert v["acc"] == round(1 - abs(p["lr"] - 0.2) - p["l2"], 6)
    assert len(set(sw.keys)) == 6


def test_shared_upstream_nodes_run_once(tmp_path):
    sw = sweep(graph(tmp_path), grid=GRID, cache=pl.Cache(tmp_path / "c"), backend="threads")
    ran = calls(tmp_path)
    assert ran.count("load") == 1 and ran.count("prep") == 1
    assert sorted(r for r in ran if r.startswith("train")) == sorted(
        f"train lr={p['lr']} l2={p['l2']}" for p in sw.points)
    # every point's upstream is the very same node
    assert len({e.inputs[0].key for e in sw.exprs}) == 1


def test_interrupted_sweep_resumes_with_only_the_missing_points(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    (tmp_path / "fail").touch()
    with pytest.raises(NodeError):
        sweep(graph(tmp_path), grid=GRID, cache=cache)
    first = calls(tmp_path)
    assert first.count("load") == 1 and first.count("prep") == 1
    assert len([r for r in first if r.startswith("train")]) == 4  # lr=0.3 crashed twice
    (tmp_path / "fail").unlink()
    sw = sweep(graph(tmp_path), grid=GRID, cache=cache)
    second = calls(tmp_path)[len(first):]
    assert sorted(second) == ["train lr=0.3 l2=0.0", "train lr=0.3 l2=0.01"]
    assert all(v is not None for v in sw.values)
    # a third run computes nothing at all
    sweep(graph(tmp_path), grid=GRID, cache=cache)
    assert len(calls(tmp_path)) == len(first) + 2


def test_errors_keep_returns_the_points_that_worked(tmp_path):
    (tmp_path / "fail").touch()
    sw = sweep(graph(tmp_path), grid=GRID, cache=pl.Cache(tmp_path / "c"), errors="keep")
    assert sw.failed == [4, 5]
    assert sw.values[4] is None and sw.values[5] is None
    assert all(v is not None for v in sw.values[:4])


def test_cancelled_sweep_resumes_with_only_the_missing_points(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    reached, release = threading.Event(), threading.Event()
    Gates.by_log[str(tmp_path)] = (reached, release)
    backend = ThreadBackend(max_workers=1)  # points run one by one, in grid order
    try:
        sw = sweep(graph(tmp_path), grid=GRID, cache=cache, backend=backend, wait=False)
        assert reached.wait(30), "the sweep never reached the lr=0.3 points"
        sw.handle.cancel()
        with pytest.raises(RunCancelledError):
            sw.handle.result(timeout=30)
        release.set()  # only now: the points still queued were cancelled with the run
        backend.submit(lambda: None).result(timeout=30)  # the worker is idle: nothing in flight
    finally:
        release.set()
        del Gates.by_log[str(tmp_path)]
    stored = [cache.contains(e) for e in sw.exprs]
    assert any(stored) and not all(stored)
    before = len(calls(tmp_path))
    again = sweep(graph(tmp_path), grid=GRID, cache=cache)
    recomputed = calls(tmp_path)[before:]
    missing = [p for p, s in zip(again.points, stored) if not s]
    assert sorted(recomputed) == sorted(f"train lr={p['lr']} l2={p['l2']}" for p in missing)
    backend.close()


def test_sweep_a_component_with_fixed_arguments(tmp_path):
    data = prep(load(str(tmp_path)), str(tmp_path))
    sw = sweep(train, grid={"lr": [0.1, 0.2]}, cache=False, xs=data, log=str(tmp_path), l2=0.5)
    assert [v["acc"] for v in sw.values] == [0.4, 0.5]
    assert calls(tmp_path).count("load") == 1


def test_upstream_parameters_are_rebound_and_shared_below_them(tmp_path):
    sw = sweep(graph(tmp_path), grid={"load.n": [10, 20], "lr": [0.1, 0.2]},
               cache=pl.Cache(tmp_path / "c"))
    ran = calls(tmp_path)
    assert ran.count("load") == 2 and ran.count("prep") == 2
    assert [v["loss"] for v in sw.values] == [0.45, 0.9, 1.9, 3.8]


@pl.component
def pair(a: list, b: list) -> int:
    return len(a) + len(b)


def test_rebind_picks_the_nearest_node_and_names_the_options(tmp_path):
    with pytest.raises(KeyError, match="train.lr"):
        rebind(graph(tmp_path), {"nope": 1})
    with pytest.raises(KeyError, match="ambiguous.*'load.n'"):
        rebind(pair(load("a"), load("b")), {"n": 3})
    # prep (the output) has `log` too: the nearest node wins, load stays shared
    e = rebind(prep(load("a"), "b"), {"log": "c"})
    assert e.inputs[0].key == load("a").key and e.key == prep(load("a"), "c").key
    assert rebind(prep(load("a"), "b"), {"load.log": "c"}).key == prep(load("c"), "b").key


def test_random_search_is_seeded_and_deterministic(tmp_path):
    space = {"lr": loguniform(1e-3, 1.0), "l2": choice([0.0, 0.01])}
    cache = pl.Cache(tmp_path / "c")
    a = random_search(graph(tmp_path), space=space, n=5, seed=3, cache=cache)
    b = random_search(graph(tmp_path), space=space, n=5, seed=3, cache=cache)
    c = random_search(graph(tmp_path), space=space, n=5, seed=4, cache=cache)
    assert a.points == b.points and a.keys == b.keys
    assert a.keys != c.keys
    assert all(1e-3 <= p["lr"] < 1.0 and p["l2"] in (0.0, 0.01) for p in a.points)
    ran = calls(tmp_path)
    assert ran.count("load") == 1  # three searches, one dataset
    assert len([r for r in ran if r.startswith("train")]) == len(set(a.keys) | set(c.keys))


def test_repeat_and_kfold_sweep():
    from pylearn_lab.components import evaluate, kfold, load_iris, logistic_regression

    @pl.component
    def noisy(seed: int = 0) -> float:
        return float(seed * 2)

    assert repeat(noisy(), seeds=range(3), cache=False).values == [0.0, 2.0, 4.0]
    folds = kfold(load_iris(), k=3)
    cv = kfold_sweep(evaluate(logistic_regression(folds, epochs=5), folds),
                     grid={"lr": [0.1, 0.5]}, cache=False)
    assert [p["kfold.fold"] for p in cv.points] == [0, 1, 2, 0, 1, 2]
    assert all(0 <= v["accuracy"] <= 1 for v in cv.values)
    with pytest.raises(ValueError, match="kfold"):
        kfold_sweep(noisy(), grid={"seed": [1]})


def test_bad_grids_say_what_was_expected(tmp_path):
    with pytest.raises(TypeError, match=r"lr=\[0.1\]"):
        sweep(graph(tmp_path), grid={"lr": 0.1}, cache=False)
    with pytest.raises(ValueError, match="errors="):
        sweep(graph(tmp_path), grid=GRID, cache=False, errors="ignore")


@pytest.mark.parametrize("cache_kind", ["disk", "off"])
def test_errors_keep_computes_each_good_point_once_and_honours_cache_false(tmp_path, cache_kind,
                                                                            monkeypatch):
    (tmp_path / "fail").touch()
    if cache_kind == "off":
        default = pl.Cache(tmp_path / "default")
        monkeypatch.setattr("pylearn_lab.cache.cache._DEFAULT", default)
    cache = pl.Cache(tmp_path / "c") if cache_kind == "disk" else False
    sw = sweep(graph(tmp_path), grid=GRID, cache=cache, errors="keep")
    assert sw.failed == [4, 5]
    assert [v["acc"] for v in sw.values[:4]] == [0.9, 0.89, 1.0, 0.99]
    trains = [c for c in calls(tmp_path) if c.startswith("train")]
    assert len(trains) == 4 and len(set(trains)) == 4  # each good point ran exactly once
    assert calls(tmp_path).count("load") == 1
    if cache_kind == "off":
        assert default.info().entries == 0  # cache=False never fell back to the default

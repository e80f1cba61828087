"""Components in real runs: a cross-validation graph on worker processes, through a cache."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

import pylearn_lab as pl
from pylearn_lab.components import (
    Model,
    evaluate,
    kfold,
    kfold_splits,
    load_iris,
    logistic_regression,
    plot_history,
    standardize,
)


def test_cross_validation_runs_on_processes_and_is_cached(tmp_path: Path) -> None:
    cache = pl.Cache(tmp_path / "cache")
    folds = [standardize(f) for f in kfold_splits(load_iris(), k=3, seed=0)]
    scores = [evaluate(logistic_regression(f, epochs=30), f) for f in folds]
    events: list[pl.Event] = []
    first = pl.run(scores, backend="processes", cache=cache, callbacks=[events.append])
    # 1 dataset + 3 folds + 3 standardize + 3 models + 3 evaluations, each computed once
    assert sum(e.kind == "done" for e in events) == 13
    expected = []
    for fold in range(3):  # the same computation in process, through the plain functions
        split = standardize.fn(kfold.fn(load_iris.fn(), k=3, fold=fold, seed=0))
        expected.append(evaluate.fn(logistic_regression.fn(split, epochs=30), split))
    assert first == expected
    again: list[pl.Event] = []
    assert pl.run(scores, backend="processes", cache=cache, callbacks=[again.append]) == first
    assert not [e for e in again if e.kind == "done"]  # everything came from the cache


def test_model_and_figure_values_round_trip_through_the_cache(tmp_path: Path) -> None:
    cache = pl.Cache(tmp_path / "cache")
    model = logistic_regression(load_iris(), epochs=3)
    fig = plot_history(model)
    m, f = pl.run([model, fig], cache=cache)
    assert isinstance(m, Model) and isinstance(f, Figure)
    stored = cache.load(model.key)
    assert isinstance(stored, Model) and stored.history == m.history
    assert isinstance(cache.load(fig.key), Figure)

"""plot_marginal and plot_history: what they draw, and that they render to a PNG file."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

import pylearn_lab as pl
from pylearn_lab.experiments.plots import marginal, plot_history, plot_marginal


@pl.component
def fit(lr: float, hidden: int, seed: int = 0) -> dict:
    return {"acc": round(0.5 + lr + hidden / 100 + seed / 1000, 6)}


def saved(fig: Figure, path) -> np.ndarray:
    fig.savefig(path)
    assert path.stat().st_size > 0
    return imread(path)


def test_marginal_plot_of_a_sweep_renders_to_png(tmp_path):
    sw = pl.sweep(fit, grid={"lr": [0.01, 0.1, 1.0], "hidden": [8, 32]}, seed=0,
                  cache=pl.Cache(tmp_path / "c"))
    t = sw.results()
    fig = plot_marginal(t, "acc")
    assert [ax.get_xlabel() for ax in fig.axes] == ["lr", "hidden"]  # seed is constant
    assert fig.axes[0].get_xscale() == "log"  # lr spans two decades
    # the line is the mean over the other parameter
    line = fig.axes[0].get_lines()[0]
    expected = [np.mean([0.5 + lr + h / 100 for h in (8, 32)]) for lr in (0.01, 0.1, 1.0)]
    assert np.allclose(line.get_xdata(), [0.01, 0.1, 1.0])
    assert np.allclose(line.get_ydata(), expected)
    image = saved(fig, tmp_path / "marginal.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 200
    # the same from the light table and from the sweep itself
    light = plot_marginal(pl.results(fit, cache=sw.cache, pandas=False), "acc", params=["hidden"])
    assert np.allclose(light.axes[0].get_lines()[0].get_ydata(),
                       [np.mean([0.5 + lr + h / 100 for lr in (0.01, 0.1, 1.0)]) for h in (8, 32)])
    assert len(plot_marginal(sw, "acc").axes) == 2


def test_marginal_statistics_and_categories(tmp_path):
    rows = [{"act": a, "lr": lr, "acc": acc} for a, lr, acc in
            [("tanh", 0.1, 0.8), ("tanh", 0.2, 0.6), ("relu", 0.1, 0.9), ("relu", 0.2, None)]]
    assert marginal(rows, "acc", "act") == [("relu", 0.9, 0.0, 1), ("tanh", 0.7, pytest.approx(0.1), 2)]
    fig = plot_marginal(rows, "acc", params=["act"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["relu", "tanh"]
    saved(fig, tmp_path / "categories.png")
    with pytest.raises(ValueError, match="params="):
        plot_marginal([{"lr": 0.1, "acc": 1.0}], "acc")
    with pytest.raises(KeyError, match="no column 'nope'"):
        plot_marginal(rows, "nope")


def test_training_curves_from_a_model_a_key_and_several_runs(tmp_path):
    from pylearn_lab.components import load_iris, logistic_regression, standardize

    cache = pl.Cache(tmp_path / "c")
    model_expr = logistic_regression(standardize(load_iris()), epochs=6)
    model = pl.run(model_expr, cache=cache)
    fig = plot_history(model)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert np.allclose(fig.axes[0].get_lines()[0].get_ydata(), model.history["loss"])
    image = saved(fig, tmp_path / "history.png")
    assert image.shape[0] > 100
    from_key = plot_history(model_expr.key, cache=cache)
    assert np.allclose(from_key.axes[1].get_lines()[0].get_ydata(), model.history["accuracy"])
    assert len(plot_history(cache.record(model_expr), cache=cache).axes) == 2
    other = logistic_regression(standardize(load_iris()), epochs=6, lr=0.5)
    both = plot_history({"lr=0.1": model_expr, "lr=0.5": other}, cache=cache)
    assert [line.get_label() for line in both.axes[0].get_lines()] == ["lr=0.1", "lr=0.5"]
    saved(both, tmp_path / "both.png")
    with pytest.raises(TypeError, match="history"):
        plot_history(3.0)

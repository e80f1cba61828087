"""Plots render to PNG files without pyplot state, and pickle into the cache."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from pylearn_lab.components import (
    Dataset,
    kmeans,
    load_iris,
    logistic_regression,
    make_blobs,
    make_moons,
    mlp,
    plot_decision_map,
    plot_history,
    plot_scatter,
    train_test_split,
)
from pylearn_lab.errors import DataError


def png(fig: Figure, path: Path) -> int:
    fig.savefig(path, format="png", dpi=60)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path.stat().st_size


def test_plot_history_one_panel_per_curve(tmp_path: Path) -> None:
    m = logistic_regression.fn(make_blobs.fn(n_samples=60), epochs=7)
    fig = plot_history.fn(m)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert np.allclose(fig.axes[0].lines[0].get_ydata(), m.history["loss"])
    assert fig.axes[0].get_xlabel() == "epoch"
    assert png(fig, tmp_path / "history.png") > 0
    km = plot_history.fn(kmeans.fn(make_blobs.fn(n_samples=60)))
    assert [ax.get_ylabel() for ax in km.axes] == ["inertia"]
    assert km.axes[0].get_xlabel() == "iteration"


def test_plot_scatter_dataset_and_split(tmp_path: Path) -> None:
    fig = plot_scatter.fn(load_iris.fn())
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("sepal_length_cm", "sepal_width_cm")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["setosa", "versicolor",
                                                                   "virginica"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 150
    assert png(fig, tmp_path / "iris.png") > 0
    split = train_test_split.fn(make_moons.fn(n_samples=40))
    texts = [t.get_text() for t in plot_scatter.fn(split).axes[0].get_legend().get_texts()]
    assert texts == ["upper (train)", "lower (train)", "upper (test)", "lower (test)"]
    plain = Dataset(np.zeros((3, 2)), None, ("a", "b"), (), "u")
    assert png(plot_scatter.fn(plain), tmp_path / "plain.png") > 0


def test_plot_decision_map(tmp_path: Path) -> None:
    moons = make_moons.fn(n_samples=60)
    fig = plot_decision_map.fn(mlp.fn(moons, epochs=5), moons, resolution=25)
    assert fig.axes[0].get_title() == "mlp on moons"
    assert png(fig, tmp_path / "map.png") > 0
    with pytest.raises(DataError, match="exactly 2 features"):
        iris = load_iris.fn()
        plot_decision_map.fn(logistic_regression.fn(iris, epochs=1), iris)


def test_plot_errors_and_pickling(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="at least 2 features"):
        plot_scatter.fn(Dataset(np.zeros((3, 1)), None, ("a",), (), "u"))
    with pytest.raises(DataError, match="expected a Model"):
        plot_history.fn(load_iris.fn())
    back = pickle.loads(pickle.dumps(plot_scatter.fn(make_blobs.fn(n_samples=30))))
    assert isinstance(back, Figure) and png(back, tmp_path / "back.png") > 0

"""Plot components: training curves, a 2-D scatter of a dataset, a decision map.

Each returns a :class:`matplotlib.figure.Figure` built directly (no
``pyplot``): no global figure state, no GUI backend, so plots render the same
on a headless worker or cluster engine, and the figure pickles into the cache.
Save one with ``fig.savefig("out.png")``; a notebook displays it as an output.

Examples
--------
>>> from pylearn_lab.components import make_blobs
>>> fig = plot_scatter(make_blobs()).compute(cache=False)
>>> type(fig).__name__, len(fig.axes)
('Figure', 1)
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import DataError
from ..graph.component import component
from ..graph.params import Bounds
from .data import Dataset, Model, Split, check_model, eval_part, train_part
from .inference import labels

__all__ = ["plot_history", "plot_scatter", "plot_decision_map"]


def _check_model(model: Any, who: str) -> Model:
    if not isinstance(model, Model):
        raise DataError(
            f"{who}: expected a Model, received {type(model).__name__}. Feed it the output of "
            "a model component (logistic_regression, mlp, kmeans)."
        )
    return model


@component(category="plots")
def plot_history(model: Model) -> Figure:
    """Training curves: one panel per quantity in the model's history (loss, accuracy).

    Parameters
    ----------
    model : Model
        A trained model; its ``history`` lists one value per epoch or iteration.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from pylearn_lab.components import make_blobs, logistic_regression
    >>> fig = plot_history(logistic_regression(make_blobs(), epochs=5)).compute(cache=False)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['loss', 'accuracy']
    """
    m = _check_model(model, "plot_history")
    curves = {k: v for k, v in m.history.items() if len(v)}
    fig = Figure(figsize=(4.0 * max(len(curves), 1), 3.2), layout="constrained")
    if not curves:
        fig.text(0.5, 0.5, f"{m.kind}: no training history", ha="center", va="center")
        return fig
    step = "iteration" if m.kind == "kmeans" else "epoch"
    for ax, (name, values) in zip(fig.subplots(1, len(curves), squeeze=False)[0], curves.items()):
        ax.plot(np.arange(1, len(values) + 1), values, marker="." if len(values) < 30 else None)
        ax.set_xlabel(step)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    fig.suptitle(m.kind)
    return fig


def _scatter(ax: Any, ds: Dataset, marker: str, label: str) -> None:
    if ds.y is None:
        ax.scatter(ds.X[:, 0], ds.X[:, 1], s=14, marker=marker, color="C0", label=label or None)
        return
    for code in np.unique(ds.y):
        pts = ds.X[ds.y == code]
        name = ds.target_names[code] if code < len(ds.target_names) else str(code)
        ax.scatter(pts[:, 0], pts[:, 1], s=14, marker=marker, color=f"C{code % 10}",
                   label=f"{name}{label}")


def _two_features(ds: Dataset, who: str) -> None:
    if ds.n_features < 2:
        raise DataError(
            f"{who}: expected at least 2 features to plot, received {ds!r}. Plot a dataset "
            "with two or more features, or reduce one with pca(data, n_components=2)."
        )


@component(category="plots")
def plot_scatter(data: Dataset | Split) -> Figure:
    """Scatter plot of the first two features, coloured by class.

    For a Split, train samples are dots and test samples crosses.

    Parameters
    ----------
    data : Dataset or Split
        Samples with at least two features (``pca(data)`` reduces more).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from pylearn_lab.components import load_iris
    >>> fig = plot_scatter(load_iris()).compute(cache=False)
    >>> fig.axes[0].get_xlabel()
    'sepal_length_cm'
    """
    ds = train_part(data, "plot_scatter")
    _two_features(ds, "plot_scatter")
    fig = Figure(figsize=(5.0, 4.0), layout="constrained")
    ax = fig.subplots()
    if isinstance(data, Split):
        _scatter(ax, data.train, "o", " (train)")
        _scatter(ax, data.test, "x", " (test)")
    else:
        _scatter(ax, ds, "o", "")
    ax.set_xlabel(ds.feature_names[0])
    ax.set_ylabel(ds.feature_names[1])
    ax.set_title(ds.name)
    if ds.y is not None or isinstance(data, Split):
        ax.legend(fontsize="small")
    return fig


@component(category="plots")
def plot_decision_map(
    model: Model, data: Dataset | Split, resolution: Annotated[int, Bounds(10, 500)] = 150,
) -> Figure:
    """The model's predicted class over the plane of a 2-feature dataset, with the samples.

    Parameters
    ----------
    model : Model
        A model trained on exactly two features.
    data : Dataset or Split
        Samples drawn on top (``split.test`` for a Split).
    resolution : int
        Grid points per axis.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from pylearn_lab.components import make_moons, mlp
    >>> moons = make_moons(n_samples=60)
    >>> fig = plot_decision_map(mlp(moons, epochs=5), moons, resolution=20).compute(cache=False)
    >>> fig.axes[0].get_title()
    'mlp on moons'
    """
    ds = eval_part(data, "plot_decision_map")
    m = check_model(model, ds, "plot_decision_map")
    if ds.n_features != 2:
        raise DataError(
            f"plot_decision_map: expected a model and data with exactly 2 features, received "
            f"{ds!r}. Reduce the data first, e.g. pca(data, n_components=2)."
        )
    lo, hi = ds.X.min(axis=0), ds.X.max(axis=0)
    pad = 0.1 * np.where(hi > lo, hi - lo, 1.0)
    gx, gy = np.meshgrid(*(np.linspace(lo[i] - pad[i], hi[i] + pad[i], resolution) for i in (0, 1)))
    zone = labels(m, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    fig = Figure(figsize=(5.0, 4.0), layout="constrained")
    ax = fig.subplots()
    n_colors = int(max(zone.max(), 0 if ds.y is None else ds.y.max())) + 1
    levels = np.arange(n_colors + 1) - 0.5
    ax.contourf(gx, gy, zone, levels=levels, colors=[f"C{c % 10}" for c in range(n_colors)],
                alpha=0.25)
    _scatter(ax, ds, "o", "")
    ax.set_xlabel(ds.feature_names[0])
    ax.set_ylabel(ds.feature_names[1])
    ax.set_title(f"{m.kind} on {ds.name}")
    return fig

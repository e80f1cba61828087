"""Plots of experiment results: a metric against each hyper-parameter, and training curves.

Both return a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no
global figure state, no GUI backend): display it in a notebook or save it
with ``fig.savefig("marginal.png")``.

Examples
--------
>>> rows = [{"lr": lr, "l2": l2, "acc": 0.5 + lr - l2} for lr in (0.1, 0.2) for l2 in (0, 0.1)]
>>> fig = plot_marginal(rows, "acc", params=["lr", "l2"])
>>> [ax.get_xlabel() for ax in fig.axes]
['lr', 'l2']
>>> value, mean, std, n = marginal(rows, "acc", "lr")[0]
>>> value, round(mean, 3), round(std, 3), n
(0.1, 0.55, 0.05, 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .table import table_rows

__all__ = ["plot_marginal", "plot_history", "marginal"]


def _number(v: Any) -> float | None:
    if isinstance(v, (bool, np.bool_)) or v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _hashable(v: Any) -> Any:
    return repr(v) if isinstance(v, (list, dict, set)) else v


def _groups(rows: Sequence[Mapping[str, Any]], metric: str, param: str) -> dict[Any, list[float]]:
    """The numeric ``metric`` values of the runs, grouped by their value of ``param``."""
    groups: dict[Any, list[float]] = {}
    for r in rows:
        y = _number(r.get(metric))
        if y is not None and param in r:
            groups.setdefault(_hashable(r[param]), []).append(y)
    if all(_number(v) is not None for v in groups):
        return dict(sorted(groups.items(), key=lambda kv: float(kv[0])))
    return dict(sorted(groups.items(), key=lambda kv: str(kv[0])))


def marginal(rows: Sequence[Mapping[str, Any]], metric: str,
             param: str) -> list[tuple[Any, float, float, int]]:
    """``(value, mean, std, n)`` of ``metric`` for each value of ``param``, over all other columns."""
    return [(v, float(np.mean(ys)), float(np.std(ys)), len(ys))
            for v, ys in _groups(rows, metric, param).items()]


def _varying(rows: Sequence[Mapping[str, Any]], params: Sequence[str]) -> list[str]:
    return [p for p in params if len({_hashable(r.get(p)) for r in rows}) > 1]


def plot_marginal(results: Any, metric: str, params: Sequence[str] | None = None) -> Figure:
    """One panel per hyper-parameter: ``metric``'s mean and spread at each of its values.

    Every run with that value counts, whatever the other parameters were (the
    marginal over them): the line is the mean, the band mean ± one standard
    deviation, and the thin bar the range from worst to best run.

    Parameters
    ----------
    results : DataFrame, Table, SweepResult or list of dicts
        A results table (:func:`pylearn_lab.results`, ``sweep.results()``).
    metric : str
        The column to plot, e.g. ``"accuracy"``.
    params : list of str, optional
        Which parameters (default: every parameter column with more than one value).

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows, columns, known_params, metrics = table_rows(results)
    if metric not in columns:
        raise KeyError(f"no column {metric!r} to plot; columns are {', '.join(columns)}.")
    if params is None:
        candidates = known_params or [c for c in columns if c != metric and c not in metrics]
        params = _varying(rows, candidates)
    if not params:
        raise ValueError(
            "plot_marginal() found no parameter that takes more than one value in these "
            "results; pass params=[...] naming the columns to plot against."
        )
    fig = Figure(figsize=(3.4 * len(params), 3.0), layout="constrained")
    axes = fig.subplots(1, len(params), squeeze=False, sharey=True)[0]
    for ax, p in zip(axes, params):
        groups = _groups(rows, metric, p)
        if not groups:
            ax.text(0.5, 0.5, f"no numeric {metric}", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_xlabel(p)
            continue
        values = list(groups)
        numeric = all(_number(v) is not None for v in values)
        xs = np.array([float(v) for v in values]) if numeric else np.arange(len(values))
        mean = np.array([np.mean(ys) for ys in groups.values()])
        std = np.array([np.std(ys) for ys in groups.values()])
        lo = np.array([min(ys) for ys in groups.values()])
        hi = np.array([max(ys) for ys in groups.values()])
        ax.vlines(xs, lo, hi, color="C0", alpha=0.35, linewidth=1)
        ax.fill_between(xs, mean - std, mean + std, color="C0", alpha=0.2, linewidth=0)
        ax.plot(xs, mean, marker="o", color="C0")
        if numeric and xs.min() > 0 and xs.max() / xs.min() >= 20:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in values])
        ax.set_xlabel(p)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(metric)
    fig.suptitle(f"{metric}: mean ± std over the other parameters ({len(rows)} runs)",
                 fontsize="medium")
    return fig


def _is_curve(v: Any) -> bool:
    return isinstance(v, (list, tuple, np.ndarray)) and all(_number(x) is not None for x in v)


def _history_of(obj: Any, cache: Any) -> dict[str, Sequence[float]]:
    if isinstance(obj, str) or hasattr(obj, "func_digest"):  # a key or a Record
        from ..cache.cache import resolve_cache

        store = resolve_cache(cache)
        if store is None:
            raise ValueError("plot_history(key) loads from the cache; cache=False cannot.")
        obj = store.load(getattr(obj, "key", obj))
    elif hasattr(obj, "call") and hasattr(obj, "compute"):  # an Expr: a cache hit when stored
        obj = obj.compute(cache=cache, progress=False)
    history = getattr(obj, "history", obj)
    if isinstance(history, Mapping) and "history" in history and not _is_curve(history["history"]):
        history = history["history"]
    if not isinstance(history, Mapping) or not any(_is_curve(v) for v in history.values()):
        raise TypeError(
            f"plot_history() expected a model with a .history dict of per-epoch lists (or that "
            f"dict, a key, a Record or an Expr of one), received {type(obj).__name__}."
        )
    return {k: v for k, v in history.items() if _is_curve(v) and len(v)}


def plot_history(source: Any, cache: Any = None) -> Figure:
    """Training curves: one panel per tracked quantity (loss, accuracy...).

    Parameters
    ----------
    source : model, history dict, key, Record or Expr; or a dict/list of those
        One training run, or several to overlay (a dict gives each curve its label).
    cache : Cache or path, optional
        Where keys and Records are loaded from (default: the session's).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_history({"loss": [1.0, 0.5, 0.3], "accuracy": [0.5, 0.8, 0.9]})
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['loss', 'accuracy']
    """
    if isinstance(source, Mapping) and not any(_is_curve(v) for v in source.values()) \
            and "history" not in source:
        runs = {str(k): _history_of(v, cache) for k, v in source.items()}
    elif isinstance(source, (list, tuple)):
        runs = {f"run {i}": _history_of(v, cache) for i, v in enumerate(source)}
    else:
        runs = {"": _history_of(source, cache)}
    names = list(dict.fromkeys(k for h in runs.values() for k in h))
    fig = Figure(figsize=(4.0 * max(len(names), 1), 3.2), layout="constrained")
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for i, (label, h) in enumerate(runs.items()):
            if name in h:
                ys = np.asarray(h[name], dtype=float)
                ax.plot(np.arange(1, len(ys) + 1), ys, color=f"C{i % 10}", label=label or None)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    if len(runs) > 1:
        axes[0].legend(fontsize="small")
    return fig

"""Training curves from the experiment database: per-step tables, sweep plots, marginals.

A trained model's result carries its per-step history (``model.history``, or
a :class:`~pylearn_lab.training.loop.TrainResult`; a dict with ``"history"``
and ``"logged"`` entries works too), so every stored training is a curve;
curves that plugins logged every few steps fill their steps only. :func:`curves` turns the results of a component into one row per
(run, step) -- the run's hyper-parameters, ``step`` and one column per metric
-- ready for pandas; :func:`plot_curves` draws a sweep's curves coloured by a
hyper-parameter; :func:`at_step` and :func:`plot_marginals` read the sweep at
one chosen step (an early-stopped run counts with its last step).

Examples
--------
>>> import tempfile
>>> from pylearn_lab import Cache, run
>>> from pylearn_lab.components import load_iris, logistic_regression, standardize
>>> c = Cache(tempfile.mkdtemp())
>>> data = standardize(load_iris())
>>> _ = run([logistic_regression(data, lr=lr, epochs=5) for lr in (0.05, 0.5)], cache=c)
>>> t = curves(logistic_regression, cache=c, pandas=False)
>>> len(t), sorted(set(t["step"]))
(10, [1, 2, 3, 4, 5])
>>> [round(m, 3) for _, m, _, _ in marginals(logistic_regression, "accuracy", step=5, over="lr", cache=c)]
[0.827, 0.913]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import TrainingError

__all__ = ["at_step", "curves", "history_of", "marginals", "plot_curves", "plot_marginals"]

_DROP = ("duration", "host", "engine", "created", "version", "current")


def history_of(value: Any) -> dict[str, list[float]]:
    """The per-step metrics of a stored training result (``{}`` when it has none).

    Examples
    --------
    >>> history_of({"history": {"loss": [0.5, 0.2]}})
    {'loss': [0.5, 0.2]}
    """
    hist = getattr(value, "history", None)
    if hist is None and isinstance(value, Mapping):
        hist = value.get("history")
    if not isinstance(hist, Mapping):
        return {}
    return {str(k): [float(x) for x in v] for k, v in hist.items()
            if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float)) for x in v)}


def logged_of(value: Any) -> dict[str, dict[int, float]]:
    """The sparse curves plugins logged (``log_metric``): ``name -> {step: value}``.

    Examples
    --------
    >>> logged_of({"logged": {"val": [[10, 0.8], [20, 0.9]]}})
    {'val': {10: 0.8, 20: 0.9}}
    """
    logged = getattr(value, "logged", None)
    if logged is None and isinstance(value, Mapping):
        logged = value.get("logged")
    if not isinstance(logged, Mapping):
        return {}
    out: dict[str, dict[int, float]] = {}
    for k, pairs in logged.items():
        try:
            out[str(k)] = {int(t): float(v) for t, v in pairs}
        except (TypeError, ValueError):
            continue
    return out


def curves(component: Any = None, where: Mapping[str, Any] | Callable[..., bool] | None = None,
           *, cache: Any = None, metrics: Sequence[str] | None = None,
           pandas: bool | None = None) -> Any:
    """One row per (stored run, step): hyper-parameters, ``step``, metrics, ``key``.

    Parameters
    ----------
    component, where, cache
        As in :func:`pylearn_lab.results` (which selects the runs).
    metrics : list of str, optional
        Which curves (default: every metric of the histories).
    pandas : bool, optional
        A DataFrame (default when pandas imports) or a light Table.
    """
    from ..cache.cache import resolve_cache
    from ..experiments.results import results
    from ..experiments.table import Table, make_table, table_rows

    store = resolve_cache(cache)
    if store is None:
        raise TrainingError("curves() reads the cache, so cache=False has no curves; pass a Cache.")
    runs, _columns, params, _metrics = table_rows(results(component, where, cache=store,
                                                          pandas=False))
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    for run in runs:
        hit, value = store.lookup(run["key"], count_miss=False)
        hist = history_of(value) if hit else {}
        sparse = logged_of(value) if hit else {}
        keep = [m for m in (metrics or hist) if m in hist]
        keep_sparse = [m for m in (metrics or sparse) if m in sparse and m not in hist]
        names.extend(m for m in [*keep, *keep_sparse] if m not in names)
        base = {p: run.get(p) for p in params}
        last = max([len(hist[m]) for m in keep] + [max(sparse[m], default=0) for m in keep_sparse],
                   default=0)
        for i in range(last):
            row = {**base, "step": i + 1, **{m: hist[m][i] for m in keep if i < len(hist[m])},
                   **{m: sparse[m][i + 1] for m in keep_sparse if i + 1 in sparse[m]}}
            if len(row) > len(base) + 1:  # steps with no value at all are left out
                rows.append({**row, "key": run["key"]})
    columns = [*params, "step", *names, "key"]
    if pandas is False:
        return Table(rows, columns, [*params], names)
    return make_table(rows, columns, [*params], names, force_pandas=bool(pandas))


def at_step(table: Any, step: int) -> list[dict[str, Any]]:
    """Each run's row at ``step`` (or its last step before, for runs that stopped early)."""
    from ..experiments.table import table_rows

    rows = table_rows(table)[0]
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["step"] <= step and (r["key"] not in best or r["step"] > best[r["key"]]["step"]):
            best[r["key"]] = r
    return list(best.values())


def marginals(component: Any, metric: str, step: int, over: str, *, cache: Any = None,
              where: Any = None) -> list[tuple[Any, float, float, int]]:
    """``(value of over, mean, std, runs)`` of ``metric`` at ``step``, over the other parameters."""
    from ..experiments.plots import marginal

    rows = at_step(curves(component, where, cache=cache, metrics=[metric], pandas=False), step)
    if rows and over not in rows[0]:
        raise TrainingError(f"marginals(over={over!r}): not a parameter of these runs; "
                            f"they have {[c for c in rows[0] if c not in ('step', 'key', metric)]}.")
    return marginal(rows, metric, over)


def plot_curves(table: Any, metric: str, hue: str | None = None) -> Any:
    """``metric`` against ``step`` for every run of a :func:`curves` table, coloured by ``hue``."""
    from matplotlib.figure import Figure

    from ..experiments.table import table_rows

    rows, columns, _params, _ = table_rows(table)
    if metric not in columns:
        raise TrainingError(f"plot_curves(): no metric {metric!r}; the table has {columns}.")
    by_run: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_run.setdefault(r["key"], []).append(r)
    values = sorted({repr(rs[0].get(hue)) for rs in by_run.values()}) if hue else []
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.subplots()
    for rs in by_run.values():
        rs.sort(key=lambda r: r["step"])
        colour = f"C{values.index(repr(rs[0].get(hue))) % 10}" if hue else None
        ax.plot([r["step"] for r in rs], [_float(r.get(metric)) for r in rs], color=colour, alpha=0.8,
                linewidth=1.2)
    if hue:
        from matplotlib.lines import Line2D

        ax.legend([Line2D([], [], color=f"C{i % 10}") for i in range(len(values))],
                  [f"{hue}={v}" for v in values], fontsize="small")
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.set_title(f"{metric} per step ({len(by_run)} runs)", fontsize="medium")
    return fig


def _float(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) else float("nan")


def plot_marginals(table: Any, metric: str, step: int, params: Sequence[str] | None = None) -> Any:
    """The marginal plot of ``metric`` at ``step`` against each hyper-parameter of a curves table."""
    from ..experiments.plots import plot_marginal
    from ..experiments.table import table_rows

    rows, _c, known, _m = table_rows(table)
    chosen = [{k: v for k, v in r.items() if k not in ("step", "key")} for r in at_step(table, step)]
    fig = plot_marginal(chosen, metric, params or [p for p in known
                                                  if len({repr(r.get(p)) for r in rows}) > 1])
    fig.suptitle(f"{metric} at step {step}: mean ± std over the other parameters "
                 f"({len(chosen)} runs)", fontsize="medium")
    return fig

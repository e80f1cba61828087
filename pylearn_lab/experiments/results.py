"""``results(component)``: the experiment table, straight from the cache index.

Each stored result of the component is a row: its own literal parameters,
the parameters of the nodes upstream of it (so the scores of ``evaluate``
show the ``lr`` of the model they scored), the metrics it returned (a scalar
as ``value``, a dict of scalars as one column each), and where, when, how
long and with which version of the code it ran. Nothing is loaded from the
blob files: the table is built from the index alone.

Upstream parameters keep their bare name (``lr``) unless two components
share it; then they are prefixed with the component label (``mlp.seed``,
``train_test_split.seed``). Results of code that has changed since are kept,
labelled by ``version`` and ``current=False``.

Examples
--------
>>> import tempfile
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.vm.loop import run
>>> from pylearn_lab.cache.cache import Cache
>>> @component
... def fit(lr: float) -> dict:
...     return {"acc": 1 - abs(lr - 0.1)}
>>> c = Cache(tempfile.mkdtemp())
>>> _ = run([fit(0.1), fit(0.5)], cache=c)
>>> t = results(fit, cache=c, pandas=False)
>>> t.columns[:2], sorted(t["lr"])
(['lr', 'acc'], [0.1, 0.5])
>>> t.best("acc")["lr"]
0.1
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..cache.cache import resolve_cache
from ..cache.records import Record, summarise_value
from ..errors import PylearnError, UnknownComponentError
from ..graph import registry
from ..hashing.functions import qualified_name
from .table import Table, best_row, make_table

__all__ = ["results", "table_from_values", "best_row", "metric_values"]

_META = ["duration", "host", "engine", "created", "version", "current", "key"]


def metric_values(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The metric columns of a value summary (nothing for arrays and objects).

    Examples
    --------
    >>> metric_values({"acc": 0.9}), metric_values({"type": "numpy.ndarray", "shape": [2]})
    ({'acc': 0.9}, {})
    """
    if "type" in summary and set(summary) <= {"type", "shape", "dtype"}:
        return {}
    return dict(summary)


def _input_keys(rec: Record) -> list[str]:
    keys: list[str] = []
    for v in rec.inputs.values():
        keys.extend(v if isinstance(v, list) else [v])
    return keys


def _fetch_upstream(store: Any, recs: list[Record]) -> dict[str, Record]:
    known = {r.key: r for r in recs}
    frontier = {k for r in recs for k in _input_keys(r)} - set(known)
    while frontier:  # one index query per level of the graph
        found = store.records(keys=sorted(frontier))
        known.update((r.key, r) for r in found)
        frontier = {k for r in found for k in _input_keys(r)} - set(known)
    return known


def _ancestor_params(rec: Record, known: Mapping[str, Record]) -> dict[tuple[str, str], Any]:
    """``(label, param) -> value`` upstream of ``rec``, the nearest node winning."""
    out: dict[tuple[str, str], Any] = {}
    seen = {rec.key}
    level = [rec]
    while level:
        nxt: list[Record] = []
        for r in level:
            for k in _input_keys(r):
                up = known.get(k)
                if up is None or k in seen:
                    continue
                seen.add(k)
                nxt.append(up)
                for p, v in up.params.items():
                    out.setdefault((up.label, p), v)
        level = nxt
    return out


def _current_digests(funcs: Iterable[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for f in funcs:
        try:
            out[f] = registry.lookup(f).identity().digest
        except PylearnError:  # not defined in this session: unknown, not "outdated"
            out[f] = None
    return out


def _select(store: Any, component: Any, keys: Sequence[str] | None) -> list[Record]:
    if keys is not None:
        order = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        recs = store.records(keys=list(order))
        return sorted(recs, key=lambda r: order[r.key])
    if component is None:
        recs = store.records()
    elif isinstance(component, str):
        try:
            recs = store.records(func=registry.lookup(component).qualname)
        except UnknownComponentError:  # not defined in this session: match stored names
            recs = [r for r in store.records() if component in (r.label, r.func)]
    else:
        recs = store.records(func=qualified_name(component))
    return sorted(recs, key=lambda r: r.created)


def _rows(recs: list[Record], known: Mapping[str, Record], upstream: bool,
          with_label: bool) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    own_names = list(dict.fromkeys(p for r in recs for p in r.params))
    anc = [_ancestor_params(r, known) if upstream else {} for r in recs]
    labels_of: dict[str, set[str]] = {}
    for a in anc:
        for label, p in a:
            labels_of.setdefault(p, set()).add(label)

    def column(label: str, p: str) -> str:
        clash = p in own_names or len(labels_of[p]) > 1
        return f"{label}.{p}" if clash else p

    up_names = list(dict.fromkeys(column(lb, p) for a in anc for lb, p in a))
    metric_names = list(dict.fromkeys(m for r in recs for m in metric_values(r.summary)))
    metric_names = [m for m in metric_names if m not in own_names and m not in up_names]
    digests = _current_digests({r.func for r in recs})
    rows = []
    for r, a in zip(recs, anc):
        row: dict[str, Any] = {"component": r.label} if with_label else {}
        row.update(r.params)
        row.update({column(lb, p): v for (lb, p), v in a.items()})
        row.update({m: v for m, v in metric_values(r.summary).items() if m in metric_names})
        current = digests.get(r.func)
        row.update(duration=r.duration, host=r.host, engine=r.engine,
                   created=_dt.datetime.fromtimestamp(r.created) if r.created else None,
                   version=r.version, current=None if current is None else current == r.func_digest,
                   key=r.key)
        rows.append(row)
    return rows, own_names + up_names, metric_names


def _matches(row: Mapping[str, Any], where: Any) -> bool:
    if where is None:
        return True
    if callable(where):
        return bool(where(row))
    for col, want in where.items():
        have = row.get(col)
        if callable(want):
            if not want(have):
                return False
        elif isinstance(want, (set, frozenset)):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


def results(component: Any = None, where: Mapping[str, Any] | Callable[..., bool] | None = None,
            *, cache: Any = None, keys: Sequence[str] | None = None, upstream: bool = True,
            pandas: bool | None = None, steps: bool = False) -> Any:
    """The experiment table of ``component`` (or of every stored result, or of ``keys``).

    Parameters
    ----------
    component : Component, function or str, optional
        Whose results (a name is looked up in the registry, or matched as a label).
    where : dict or callable, optional
        Keep rows whose columns match: ``{"lr": 0.1, "hidden": {8, 16}, "acc": lambda v: v > .9}``
        (a value, a set of values or a predicate), or ``where(row) -> bool``.
    cache : Cache or path, optional
        Which cache (default: the session's).
    keys : list of str, optional
        Exactly these results, in this order (what a sweep uses).
    upstream : bool
        Include the parameters of the nodes upstream of each result.
    pandas : bool, optional
        Force (True) or avoid (False) a DataFrame; default: a DataFrame when pandas imports.
    steps : bool
        One row per (run, training step) with the per-step metrics instead
        (:func:`pylearn_lab.training.curves`).

    Returns
    -------
    ResultsFrame (pandas) or Table
        Rows sorted by creation time; both have ``best(metric, mode="max")``.
    """
    if steps:  # training curves live in their own module (pylearn_lab.training.curves)
        from ..training.curves import curves

        return curves(component, where, cache=cache, pandas=pandas)
    store = resolve_cache(cache)
    if store is None:
        raise ValueError("results() reads the cache, so cache=False has no results; pass a Cache.")
    recs = _select(store, component, keys)
    known = _fetch_upstream(store, recs) if upstream else {}
    with_label = component is None and len({r.func for r in recs}) > 1
    rows, params, metrics = _rows(recs, known, upstream, with_label)
    rows = [r for r in rows if _matches(r, where)]
    columns = (["component"] if with_label else []) + params + metrics + _META
    if pandas is False:
        return Table(rows, columns, params, metrics)
    return make_table(rows, columns, params, metrics, force_pandas=bool(pandas))


def table_from_values(points: Sequence[Mapping[str, Any]], values: Sequence[Any],
                      keys: Sequence[str], pandas: bool | None = None) -> Any:
    """A results table built from values in memory (a sweep run without a cache)."""
    params = list(dict.fromkeys(k for p in points for k in p))
    summaries = [metric_values(summarise_value(v)) if v is not None else {} for v in values]
    metrics = [m for m in dict.fromkeys(m for s in summaries for m in s) if m not in params]
    rows = [{**p, **{m: s.get(m) for m in metrics}, "key": k}
            for p, s, k in zip(points, summaries, keys)]
    columns = params + metrics + ["key"]
    if pandas is False:
        return Table(rows, columns, params, metrics)
    return make_table(rows, columns, params, metrics, force_pandas=bool(pandas))

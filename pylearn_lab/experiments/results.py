"""``results(component)``: the experiment table, straight from the cache index.

Each stored result of the component is a row: its own literal parameters,
the parameters of the nodes upstream of it (so the scores of ``evaluate``
show the ``lr`` of the model they scored), the metrics it returned (a scalar
as ``value``, a dict of scalars as one column each), and where, when, how
long and with which version of the code it ran. Nothing is loaded from the
blob files: the table is built from the index alone.

The column rule -- one rule, fixed by the components' signatures, never by
what else is in the cache:

- the component's own parameters by bare name (``lr``; defaults included);
- each Expr-valued input by its parameter name, holding the label of the
  component that made it (``data`` -> ``"standardize"``);
- every parameter or input of a node upstream as ``label.param``
  (``mlp.seed``, ``train_test_split.seed``) -- always prefixed; nodes of one
  label that disagree (the folds of a cross-validation) give a list;
- an estimator argument ``p`` (anything with ``get_params``) as its class name,
  plus ``p__name`` for each of its parameters (scikit-learn's naming);
- the metrics: a scalar result as ``value``, a dict of scalars one column per key
  (a key that clashes with a parameter column is left out).

Values keep their types (None stays None, ints stay ints). ``current`` is
False when the component's code, or any code upstream (helpers included),
changed since the row was computed; None when that code is not defined in this
session. Such stale rows are left out unless ``include_stale=True``, and
``best()`` never returns one unless asked.

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
from ..cache.records import ESTIMATOR_TAG, Record, summarise_value
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


def _expand(col: str, value: Any) -> list[tuple[str, Any]]:
    """A parameter as cells: an estimator is its class name plus ``col__param`` cells."""
    if isinstance(value, dict) and ESTIMATOR_TAG in value:
        return [(col, value[ESTIMATOR_TAG])] + [
            (f"{col}__{k}", v) for k, v in value.items() if k != ESTIMATOR_TAG]
    return [(col, value)]


def _producers(keys: Any, known: Mapping[str, Record]) -> Any:
    """The label of the component that made an input (labels, joined, for a list)."""
    labels = [known[k].label if k in known else None
              for k in (keys if isinstance(keys, list) else [keys])]
    distinct = list(dict.fromkeys(lb for lb in labels if lb is not None))
    return ", ".join(distinct) if distinct else None


def _own_cells(rec: Record, known: Mapping[str, Record]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for p, v in rec.params.items():
        row.update(_expand(p, v))
    for p, keys in rec.inputs.items():
        row[p] = _producers(keys, known)
    return row


def _upstream_cells(rec: Record, known: Mapping[str, Record]) -> dict[str, Any]:
    """``label.param -> value`` over every node upstream of ``rec``.

    Nodes of one label that disagree (the folds of a cross-validation) give the
    list of their distinct values, in graph order.
    """
    values: dict[str, list[Any]] = {}
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
                for col, v in _own_cells(up, known).items():
                    got = values.setdefault(f"{up.label}.{col}", [])
                    if v not in got:
                        got.append(v)
        level = nxt
    return {c: v[0] if len(v) == 1 else v for c, v in values.items()}


def _current_digests(funcs: Iterable[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for f in funcs:
        try:
            out[f] = registry.lookup(f).identity().digest
        except PylearnError:  # not defined in this session: unknown, not "outdated"
            out[f] = None
    return out


def _currency(known: Mapping[str, Record]) -> dict[str, bool | None]:
    """Whether each record is what its call computes today: its code and all code upstream.

    ``False`` when its component's code, or that of any node upstream (helpers
    included: they are part of each function identity), changed; ``None`` when
    some of it is not defined in this session (or an upstream entry is gone).
    """
    digests = _current_digests({r.func for r in known.values()})
    memo: dict[str, bool | None] = {}

    def cur(key: str, depth: int = 0) -> bool | None:
        if key in memo:
            return memo[key]
        r = known.get(key)
        if r is None or depth > 500:
            return None
        d = digests.get(r.func)
        state: bool | None = None if d is None else d == r.func_digest
        if state is not False:
            for k in _input_keys(r):
                up = cur(k, depth + 1)
                if up is False:
                    state = False
                    break
                if up is None:
                    state = None
        memo[key] = state
        return state

    return {k: cur(k) for k in known}


def _signature_columns(func: str) -> list[str]:
    try:
        sig = registry.lookup(func).signature
    except PylearnError:
        return []
    return [p for p, v in sig.parameters.items()
            if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)] if sig is not None else []


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
    own = [_own_cells(r, known) for r in recs]
    anc = [_upstream_cells(r, known) if upstream else {} for r in recs]
    own_names = list(dict.fromkeys(
        [c for f in dict.fromkeys(r.func for r in recs) for c in _signature_columns(f)]
        + [c for o in own for c in o]))
    up_names = list(dict.fromkeys(c for a in anc for c in a))
    metric_names = list(dict.fromkeys(m for r in recs for m in metric_values(r.summary)))
    metric_names = [m for m in metric_names if m not in own_names and m not in up_names]
    currency = _currency(known)
    rows = []
    for r, o, a in zip(recs, own, anc):
        row: dict[str, Any] = {"component": r.label} if with_label else {}
        row.update(o)
        row.update(a)
        row.update({m: v for m, v in metric_values(r.summary).items() if m in metric_names})
        row.update(duration=r.duration, host=r.host, engine=r.engine,
                   created=_dt.datetime.fromtimestamp(r.created) if r.created else None,
                   version=r.version, current=currency.get(r.key), key=r.key)
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
            include_stale: bool = False, pandas: bool | None = None,
            steps: bool = False) -> Any:
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
    include_stale : bool
        Also show results whose code, or code upstream of them, has changed since
        (``current=False``); left out by default.
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
    rows = [r for r in rows if _matches(r, where) and (include_stale or r["current"] is not False)]
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

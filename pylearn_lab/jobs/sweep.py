"""Sweeps: grid search, random search, seed repetition and k-fold, as one cached run.

Every point of a sweep is an ordinary graph node, built before anything runs,
and all points go to *one* :func:`~pylearn_lab.vm.loop.run` call: the loop
dedupes shared upstream nodes (the dataset and preprocessing run once), skips
points already in the cache, and runs the rest in parallel on the backend. So
an interrupted sweep, run again, computes only the missing points; and the
finished sweep is a table (:meth:`SweepResult.results`) straight from the cache.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component
... def score(lr: float, l2: float = 0.0) -> dict:
...     return {"acc": 1.0 - abs(lr - 0.1) - l2}
>>> sw = sweep(score, grid={"lr": [0.01, 0.1], "l2": [0.0, 0.5]}, cache=False)
>>> [p["lr"] for p in sw.points], sw.values[1]
([0.01, 0.01, 0.1, 0.1], {'acc': 0.41000000000000003})
>>> sw.best("acc").params
{'lr': 0.1, 'l2': 0.0}
>>> len(random_search(score, space={"lr": loguniform(1e-3, 1)}, n=3, cache=False))
3
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..cache.cache import resolve_cache
from ..errors import NodeError
from ..graph.component import Component, as_component
from ..graph.expr import Expr
from ..vm.loop import run
from ..vm.progress import ProgressBar
from .rebind import bound_arguments, rebind
from .space import choice, grid_points, loguniform, randint, sample_points, uniform

__all__ = [
    "sweep",
    "random_search",
    "repeat",
    "kfold_sweep",
    "SweepResult",
    "SweepPoint",
    "loguniform",
    "uniform",
    "randint",
    "choice",
]


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: its parameter values, its expression and its value."""

    params: dict[str, Any]
    expr: Expr
    value: Any


class SweepResult:
    """The points of a sweep, their expressions and (once run) their values.

    Attributes
    ----------
    points : list of dict
        The parameter values of each point, in order.
    exprs : list of Expr
        One expression per point (same order).
    cache : Cache or None
        Where the results are stored.
    handle : RunHandle or None
        The run, for ``wait=False`` sweeps (``.progress``, ``.cancel()``).
    failed : list of int
        Indices of points whose run failed (with ``errors="keep"``).
    """

    def __init__(self, points: list[dict[str, Any]], exprs: list[Expr], cache: Any,
                 backend: Any, errors: str) -> None:
        self.points, self.exprs, self.cache = points, exprs, cache
        self.handle: Any = None
        self.failed: list[int] = []
        self._backend, self._errors = backend, errors
        self._values: list[Any] | None = None

    @property
    def keys(self) -> list[str]:
        """The node key of each point."""
        return [e.key for e in self.exprs]

    @property
    def values(self) -> list[Any]:
        """The value of each point (None for failed ones); waits for a running sweep."""
        if self._values is None:
            assert self.handle is not None
            self._collect(self.handle)
        assert self._values is not None
        return self._values

    def _collect(self, handle: Any) -> None:
        try:
            self._values = list(handle.result())
        except NodeError as err:
            if self._errors != "keep":
                raise
            # the run kept every output that finished: nothing runs a second time
            # (which also honours cache=False: no second run, so no default cache)
            done = err.partial
            self.failed = [i for i, e in enumerate(self.exprs) if e.key not in done]
            self._values = [done.get(e.key) for e in self.exprs]

    def wait(self, timeout: float | None = None) -> SweepResult:
        """Block until a ``wait=False`` sweep has finished; return ``self``."""
        if self._values is None and self.handle is not None:
            self.handle.exception(timeout)  # waits; errors surface in .values
            self._collect(self.handle)
        return self

    def results(self, **options: Any) -> Any:
        """The results table of exactly these points (see :func:`pylearn_lab.results`)."""
        from ..experiments.results import results, table_from_values

        if self.cache is None:
            return table_from_values(self.points, self.values, self.keys)
        self.wait()
        return results(keys=self.keys, cache=self.cache, **options)

    def best(self, metric: str, mode: str = "max") -> SweepPoint:
        """The point with the highest (``mode="max"``) or lowest metric value."""
        if mode not in ("max", "min"):
            raise ValueError(f"best() expected mode='max' or 'min', received {mode!r}.")
        scored = []
        for p in self:
            v = p.value.get(metric) if isinstance(p.value, Mapping) else (
                p.value if metric == "value" else getattr(p.value, metric, None))
            if isinstance(v, (int, float)) and not math.isnan(v):  # skips None and NaN
                scored.append((v, p))
        if not scored:
            raise KeyError(
                f"no point of this sweep has a numeric {metric!r}; its values look like "
                f"{self.values[0]!r:.80}. Pass a key of the returned dict."
            )
        pick = max if mode == "max" else min
        return pick(scored, key=lambda t: t[0])[1]

    def __len__(self) -> int:
        return len(self.exprs)

    def __iter__(self) -> Iterator[SweepPoint]:
        for p, e, v in zip(self.points, self.exprs, self.values):
            yield SweepPoint(p, e, v)

    def __repr__(self) -> str:
        state = ("running" if self._values is None and self.handle is not None
                 and not self.handle.done() else f"{len(self.failed)} failed")
        names = sorted({k for p in self.points for k in p})
        return f"<SweepResult {len(self)} points over {', '.join(names)}; {state}>"


def _build(target: Component | Expr, points: list[dict[str, Any]],
           fixed: Mapping[str, Any]) -> list[Expr]:
    if isinstance(target, Expr):
        base = rebind(target, fixed) if fixed else target
        return [rebind(base, p) for p in points]
    comp = target if isinstance(target, Component) else as_component(target)
    exprs = []
    for p in points:
        own = {k: v for k, v in p.items() if "." not in k}
        dotted = {k: v for k, v in p.items() if "." in k}
        e = comp(**{**fixed, **own})
        exprs.append(rebind(e, dotted) if dotted else e)
    return exprs


def _run_points(target: Any, points: list[dict[str, Any]], fixed: Mapping[str, Any],
                backend: Any, cache: Any, wait: bool, errors: str,
                callbacks: Iterable[Callable[..., Any]], progress: bool | None) -> SweepResult:
    if errors not in ("raise", "keep"):
        raise ValueError(f"errors= expected 'raise' or 'keep', received {errors!r}.")
    exprs = _build(target, points, fixed)
    store = resolve_cache(cache)
    result = SweepResult(points, exprs, store, backend, errors)
    # cache=False must stay False for run() (None would mean the default cache)
    cbs = list(callbacks)
    if progress is None and wait:
        # run(wait=False) draws no bar by default; a blocking sweep wants the delayed one
        cbs.append(ProgressBar(delay=1.0))
    handle = run(exprs, backend=backend, cache=False if store is None else store,
                 callbacks=cbs, wait=False, progress=bool(progress))
    result.handle = handle
    if wait:
        result.wait()
    return result


def sweep(component_or_expr: Any, grid: Mapping[str, Any] | Sequence[Mapping[str, Any]],
          backend: Any = None, cache: Any = None, wait: bool = True, *,
          errors: str = "raise", callbacks: Iterable[Callable[..., Any]] = (),
          progress: bool | None = None, **fixed: Any) -> SweepResult:
    """Run every point of a grid as one cached, parallel run.

    Parameters
    ----------
    component_or_expr : Component, function or Expr
        A component is called with ``fixed`` and each point's values. For an
        Expr, each named parameter is re-bound on the nearest node that has it
        (``"mlp.lr"`` picks the node by label); upstream nodes are shared.
    grid : dict of lists, or list of dicts
        Every combination of the lists (first name slowest), or explicit points.
    backend, cache :
        As for :func:`~pylearn_lab.vm.loop.run`.
    wait : bool
        False returns at once; ``.values`` / ``.results()`` wait, ``.handle`` shows progress.
    errors : {"raise", "keep"}
        Whether a failing point raises :class:`~pylearn_lab.errors.NodeError` (after
        every other point finished and was stored) or is kept as ``None`` in ``.values``.
    callbacks, progress :
        Run observers and the progress bar (shown for runs longer than a second).
    **fixed :
        Parameter values shared by every point.

    Returns
    -------
    SweepResult
    """
    return _run_points(component_or_expr, grid_points(grid), fixed, backend, cache, wait,
                       errors, callbacks, progress)


def random_search(component_or_expr: Any, space: Mapping[str, Any], n: int = 20, seed: int = 0,
                  backend: Any = None, cache: Any = None, wait: bool = True, *,
                  errors: str = "raise", callbacks: Iterable[Callable[..., Any]] = (),
                  progress: bool | None = None, **fixed: Any) -> SweepResult:
    """Run ``n`` points drawn from ``space`` (seeded: same seed, same points, same keys).

    ``space`` maps names to :func:`loguniform`, :func:`uniform`, :func:`randint`,
    :func:`choice` or plain lists; everything else is as in :func:`sweep`.
    """
    return _run_points(component_or_expr, sample_points(space, n, seed), fixed, backend, cache,
                       wait, errors, callbacks, progress)


def repeat(expr: Any, seeds: Iterable[int] = range(5), param: str = "seed",
           **options: Any) -> SweepResult:
    """The same experiment under several seeds (bagging, or the spread due to chance).

    ``param`` names the seed parameter (nearest node first, ``"mlp.seed"`` to choose).

    Examples
    --------
    >>> from pylearn_lab.graph import component
    >>> @component
    ... def noisy(seed: int = 0) -> float:
    ...     return float(seed % 3)
    >>> repeat(noisy(), seeds=range(4), cache=False).values
    [0.0, 1.0, 2.0, 0.0]
    """
    return sweep(expr, grid={param: list(seeds)}, **options)


def kfold_sweep(expr: Expr, grid: Mapping[str, Any] | None = None, k: int | None = None,
                **options: Any) -> SweepResult:
    """Cross-validate: every fold of the graph's ``kfold`` node, crossed with ``grid``.

    ``expr`` must be built on ``kfold(data, k=..., fold=...)``; ``k`` defaults to that
    node's own ``k``. Results get a ``fold`` column to average over.
    """
    folds = [e for e in expr.walk() if e.label == "kfold" and "fold" in bound_arguments(e)]
    if len(folds) != 1:
        raise ValueError(
            f"kfold_sweep() expected an expression built on exactly one kfold(data, k=..., "
            f"fold=...) node, found {len(folds)} in {expr!r:.80}. Split the data with "
            "pylearn_lab.components.kfold instead of train_test_split."
        )
    n = int(k if k is not None else bound_arguments(folds[0])["k"])
    return sweep(expr, grid={**(grid or {}), "kfold.fold": list(range(n))}, **options)

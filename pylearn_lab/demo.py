"""The demo experiment: ``python -m pylearn_lab.demo`` (what ``./lab demo`` runs).

A small graph on real data -- Fisher's Iris: split, standardise, PCA, a
logistic-regression classifier trained with SGD, evaluated on the test part --
run twice against the persistent cache. The first run computes what the cache
does not hold yet; the second is served from the cache entirely.

Examples
--------
>>> import tempfile
>>> report = main(["--cache", tempfile.mkdtemp(), "--quiet"])
>>> report["second"]["done"], report["second"]["cached"] == report["nodes"]
(0, True)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from .cache import Cache, default_cache_path
from .components import evaluate, load_iris, logistic_regression, pca, standardize, train_test_split
from .graph import Expr
from .vm import Recorder, run

__all__ = ["build_experiment", "main"]


def build_experiment(n_components: int = 3, lr: float = 0.1, epochs: int = 100) -> Expr:
    """The demo graph: iris -> split -> standardize -> pca -> logistic regression -> scores."""
    split = pca(standardize(train_test_split(load_iris(), test_size=0.25, seed=0)),
                n_components=n_components)
    model = logistic_regression(split, lr=lr, epochs=epochs, seed=0)
    return evaluate(model, split)


def _timed_run(expr: Expr, cache: Cache, backend: str) -> tuple[Any, dict[str, int], float]:
    rec = Recorder()
    t0 = time.perf_counter()
    value = run(expr, backend=backend, cache=cache, callbacks=[rec], progress=False)
    return value, {k: rec.count(k) for k in ("done", "cached", "failed")}, time.perf_counter() - t0


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the demo twice and print what the cache did; returns the figures."""
    parser = argparse.ArgumentParser(prog="python -m pylearn_lab.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default=None, help="cache directory (default: $PYLEARN_CACHE or ./.pylearn)")
    parser.add_argument("--backend", default="processes", help="serial, threads or processes")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)
    say = (lambda *a: None) if args.quiet else print
    cache = Cache(args.cache if args.cache else default_cache_path())
    expr = build_experiment()
    nodes = len(expr.graph)
    say(f"pylearn_lab demo: {expr!r}")
    say(f"  {nodes} nodes, cache at {cache.location}, backend {args.backend!r}")
    scores, first, t1 = _timed_run(expr, cache, args.backend)
    say(f"run 1: {first['done']} computed, {first['cached']} from cache, {t1:.2f} s "
        f"-> accuracy {scores['accuracy']:.3f}, log-loss {scores['log_loss']:.3f}")
    again, second, t2 = _timed_run(expr, cache, args.backend)
    assert again == scores
    served = "served entirely from the cache" if second["done"] == 0 else "partly recomputed"
    say(f"run 2: {second['done']} computed, {second['cached']} from cache, {t2 * 1000:.1f} ms "
        f"-> {served} ({t1 / max(t2, 1e-9):.0f}x faster)")
    say(f"cache now: {cache.info()}")
    cache.close()
    return {"nodes": nodes, "first": first, "second": second, "scores": scores,
            "seconds": (t1, t2)}


if __name__ == "__main__":
    main()

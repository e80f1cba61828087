"""Search spaces: the points of a grid, and seeded samples of a random search.

A grid is a mapping ``name -> list of values`` (every combination is a point)
or an explicit list of points (dicts). A random-search space maps names to
distributions -- :func:`loguniform`, :func:`uniform`, :func:`randint`,
:func:`choice` (a plain list means ``choice``). Sampling is driven by one
``numpy.random.default_rng(seed)``: the same space, ``n`` and seed give the
same points, hence the same node keys, hence cache hits when re-run.

Examples
--------
>>> grid_points({"lr": [0.1, 1.0], "l2": [0, 1]})
[{'lr': 0.1, 'l2': 0}, {'lr': 0.1, 'l2': 1}, {'lr': 1.0, 'l2': 0}, {'lr': 1.0, 'l2': 1}]
>>> pts = sample_points({"lr": loguniform(1e-3, 1), "hidden": choice([8, 16])}, n=2, seed=0)
>>> pts == sample_points({"lr": loguniform(1e-3, 1), "hidden": choice([8, 16])}, n=2, seed=0)
True
>>> sorted(pts[0])
['hidden', 'lr']
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Distribution",
    "loguniform",
    "uniform",
    "randint",
    "choice",
    "grid_points",
    "sample_points",
    "plain",
]

_DIGITS = 6  # sampled floats are rounded to 6 significant digits: readable tables, same keys


def plain(value: Any) -> Any:
    """``value`` with numpy scalars turned into Python ones (stable keys, clean tables).

    Examples
    --------
    >>> type(plain(np.float64(0.5))).__name__
    'float'
    """
    if isinstance(value, np.generic) and value.ndim == 0:
        return value.item()
    return value


def _round(x: float) -> float:
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{_DIGITS}g}")


@dataclass(frozen=True)
class Distribution:
    """A one-dimensional distribution to sample a hyper-parameter from.

    Attributes
    ----------
    kind : str
        ``"loguniform"``, ``"uniform"``, ``"randint"`` or ``"choice"``.
    args : tuple
        ``(low, high)`` or ``(options,)``.
    """

    kind: str
    args: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn with ``rng``."""
        if self.kind == "loguniform":
            lo, hi = self.args
            return _round(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        if self.kind == "uniform":
            return _round(float(rng.uniform(*self.args)))
        if self.kind == "randint":
            return int(rng.integers(*self.args))
        options = self.args[0]
        return plain(options[int(rng.integers(len(options)))])

    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(repr(a) for a in self.args)})"


def _bounds(kind: str, low: float, high: float, positive: bool = False) -> None:
    if not (low < high) or (positive and low <= 0):
        need = "0 < low < high" if positive else "low < high"
        raise ValueError(f"{kind}(low, high) expected {need}, received low={low}, high={high}.")


def loguniform(low: float, high: float) -> Distribution:
    """Values whose logarithm is uniform in ``[log low, log high)`` (learning rates, decays).

    Examples
    --------
    >>> v = loguniform(1e-3, 1).sample(np.random.default_rng(0))
    >>> 1e-3 <= v < 1
    True
    """
    _bounds("loguniform", low, high, positive=True)
    return Distribution("loguniform", (float(low), float(high)))


def uniform(low: float, high: float) -> Distribution:
    """Floats uniform in ``[low, high)``."""
    _bounds("uniform", low, high)
    return Distribution("uniform", (float(low), float(high)))


def randint(low: int, high: int) -> Distribution:
    """Integers uniform in ``low .. high - 1`` (numpy's convention: ``high`` excluded)."""
    _bounds("randint", low, high)
    return Distribution("randint", (int(low), int(high)))


def choice(options: Sequence[Any]) -> Distribution:
    """One of ``options``, each equally likely.

    Examples
    --------
    >>> choice([8, 16, 32])
    choice((8, 16, 32))
    """
    opts = tuple(options)
    if not opts:
        raise ValueError("choice(options) expected at least one option, received none.")
    return Distribution("choice", (opts,))


def _values(name: str, values: Any) -> list[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(
            f"grid entry {name!r} expected a list of values to try, received "
            f"{type(values).__name__} {values!r:.60}. Write {name}=[{values!r:.40}] for one value, "
            "or pass it as a fixed keyword argument."
        )
    out = [plain(v) for v in values]
    if not out:
        raise ValueError(f"grid entry {name!r} has no values: give at least one.")
    return out


def grid_points(grid: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every combination of a grid (first name varies slowest), or the given list of points."""
    if isinstance(grid, Mapping):
        names = list(grid)
        columns = [_values(n, grid[n]) for n in names]
        return [dict(zip(names, combo)) for combo in itertools.product(*columns)]
    points = [dict(p) for p in grid]
    if not all(isinstance(p, dict) for p in points):
        raise TypeError("grid= expected a dict of lists or a list of dicts (one per point).")
    return [{k: plain(v) for k, v in p.items()} for p in points]


def sample_points(space: Mapping[str, Any], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` points drawn from ``space`` with ``default_rng(seed)`` (plain lists mean choice)."""
    if n < 1:
        raise ValueError(f"random search expected n >= 1 points, received n={n}.")
    dists: dict[str, Distribution] = {}
    for name, d in space.items():
        if isinstance(d, Distribution):
            dists[name] = d
        elif isinstance(d, Iterable) and not isinstance(d, (str, bytes)):
            dists[name] = choice(list(d))
        else:
            raise TypeError(
                f"space entry {name!r} expected a distribution (loguniform, uniform, randint, "
                f"choice) or a list of options, received {type(d).__name__} {d!r:.60}."
            )
    rng = np.random.default_rng(seed)
    return [{name: dist.sample(rng) for name, dist in dists.items()} for _ in range(n)]

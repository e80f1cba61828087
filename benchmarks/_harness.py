"""Shared pieces of the benchmarks: timing, result rows, the printed table.

Every benchmark measures an *anchor* (what a user would otherwise pick:
joblib, raw ipyparallel, dask.distributed, a read-only pass over memory) and
pylearn_lab side by side in the same process and run, and reports the ratio
``anchor time / our time`` (> 1 means we are faster) against a target from
``PERFORMANCE.md``. Absolute figures drift on a shared machine; ratios taken
side by side are what count.

Benchmarks are never tests: nothing here asserts a time.

Examples
--------
>>> r = Row("P0", "demo", "anchor", 2.0, 1.0, "s", target=2.0)
>>> r.ratio, r.status
(2.0, 'PASS')
>>> Row("P0", "demo", "anchor", 1.0, 1.0, "s").status
'info'
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Config", "Row", "fmt_rate", "fmt_time", "format_table", "median_time", "per_call"]


@dataclass
class Config:
    """How big and how often: ``quick`` shrinks every size for a smoke run.

    Attributes
    ----------
    quick : bool
        Small sizes and few repeats (the smoke test); figures then mean little.
    repeats : int
        Repeats per measurement; the median is reported.
    """

    quick: bool = False
    repeats: int = 7

    @property
    def big_bytes(self) -> int:
        """The "100 MiB array" of PERFORMANCE.md (4 MiB in quick mode)."""
        return (4 if self.quick else 100) * 2**20

    def pick(self, full: Any, quick: Any) -> Any:
        """``full`` normally, ``quick`` in quick mode."""
        return quick if self.quick else full


@dataclass
class Row:
    """One line of the table.

    ``ratio`` is ``anchor / ours`` for times (``higher_is_better=False``) and
    ``ours / anchor`` for rates (``higher_is_better=True``). A row without a
    ``target`` is information only (status ``info``) unless it carries a yes/no
    ``verdict``; ``error`` marks a benchmark that could not run (status
    ``ERROR``/``SKIP``).
    """

    id: str
    measure: str
    anchor_name: str
    anchor: float | None
    ours: float | None
    unit: str
    target: float | None = None
    higher_is_better: bool = False
    target_text: str = ""
    note: str = ""
    error: str = ""
    skipped: bool = False
    verdict: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """``anchor / ours`` (times) or ``ours / anchor`` (rates); None when missing."""
        if self.anchor is None or self.ours is None or self.anchor <= 0 or self.ours <= 0:
            return None
        return self.ours / self.anchor if self.higher_is_better else self.anchor / self.ours

    @property
    def status(self) -> str:
        """``PASS``, ``FAIL``, ``info``, ``SKIP`` or ``ERROR``."""
        if self.skipped:
            return "SKIP"
        if self.error:
            return "ERROR"
        if self.verdict is not None:  # a yes/no target (e.g. "zero tasks sent")
            return "PASS" if self.verdict else "FAIL"
        if self.target is None:
            return "info"
        r = self.ratio
        return "PASS" if r is not None and r >= self.target else "FAIL"

    def describe_target(self) -> str:
        """``>= 20x`` style text (or the row's own wording)."""
        if self.target_text:
            return self.target_text
        return "-" if self.target is None else f">= {self.target:g}x"


def median_time(fn: Callable[[], Any], repeats: int, setup: Callable[[], Any] | None = None) -> float:
    """Median wall time (s) of ``fn()`` over ``repeats`` runs (``setup()`` untimed before each)."""
    times = []
    for _ in range(max(1, repeats)):
        if setup is not None:
            setup()
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_times(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median wall time (s) of each ``fns`` entry, timed in alternation.

    Each round runs every function once, and the order rotates from round to
    round, so load that drifts during a benchmark (the engines' and the
    controller's own processes share the machine's cores) falls on anchor and
    ours alike instead of on whichever ran second.
    """
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(max(1, repeats)):
        for n in names[r % len(names):] + names[:r % len(names)]:
            gc.collect()
            t0 = time.perf_counter()
            fns[n]()
            times[n].append(time.perf_counter() - t0)
    return {n: statistics.median(t) for n, t in times.items()}


def per_call(fn: Callable[[], Any], repeats: int, min_time: float = 0.2) -> float:
    """Median time (s) of one ``fn()`` call, from ``repeats`` loops of about ``min_time`` s."""
    fn()  # warm up (first-use memos, statement caches)
    n, elapsed = 1, 0.0
    while True:  # calibrate: enough calls per loop that timer resolution is irrelevant
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time / 4 or n >= 1 << 20:
            break
        n *= 4
    loops = max(1, int(n * min_time / max(elapsed, 1e-9)))
    samples = []
    for _ in range(max(1, repeats)):
        gc_was = gc.isenabled()
        gc.disable()
        try:
            t0 = time.perf_counter()
            for _ in range(loops):
                fn()
            samples.append((time.perf_counter() - t0) / loops)
        finally:
            if gc_was:
                gc.enable()
    return statistics.median(samples)


def fmt_time(seconds: float | None) -> str:
    """``1.2 us``, ``3.4 ms``, ``5.6 s``."""
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale or unit == "us":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{seconds} s"


def fmt_rate(value: float | None, unit: str) -> str:
    """``1.23e+05 nodes/s`` style, for rates."""
    if value is None:
        return "-"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"


def _fmt_value(row: Row, value: float | None) -> str:
    if row.unit == "s":
        return fmt_time(value)
    return fmt_rate(value, row.unit)


def format_table(rows: list[Row]) -> str:
    """The table every run prints: id, measure, anchor, ours, ratio, target, status."""
    head = ("id", "measure", "anchor", "anchor figure", "ours", "ratio", "target", "result")
    body = []
    for r in rows:
        ratio = r.ratio
        body.append((
            r.id, r.measure, r.anchor_name, _fmt_value(r, r.anchor), _fmt_value(r, r.ours),
            "-" if ratio is None else (f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x"),
            r.describe_target(), r.status,
        ))
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = [line(head), "-+-".join("-" * w for w in widths)]
    out += [line(b) for b in body]
    notes = [f"  {r.id}: {r.error or r.note}" for r in rows if r.error or r.note]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)

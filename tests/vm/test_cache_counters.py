"""Honest counters: computed nodes are misses, served nodes hits, time saved = their recorded time."""

from __future__ import annotations

import time

import pylearn_lab as pl

RAN: list[str] = pl.untracked([])  # a counter the code writes to: not part of any key


@pl.component
def load(n: int = 4) -> list:
    RAN.append("load")
    time.sleep(0.02)
    return list(range(n))


@pl.component
def scale(xs: list, k: float = 1.0) -> list:
    RAN.append("scale")
    time.sleep(0.02)
    return [x * k for x in xs]


@pl.component
def total(xs: list) -> float:
    RAN.append("total")
    return float(sum(xs))


def test_info_counts_computed_nodes_as_misses_and_served_ones_as_hits(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    RAN.clear()
    rec = pl.Recorder()
    pl.run([total(scale(load(), k=2.0))], cache=cache, callbacks=[rec], progress=False)
    assert len(RAN) == 3 and rec.count("done") == 3
    info = cache.info()
    assert (info.hits, info.misses, info.time_saved) == (0, 3, 0.0)
    # one parameter changes: load is served, scale and total are computed
    RAN.clear()
    rec = pl.Recorder()
    pl.run([total(scale(load(), k=3.0))], cache=cache, callbacks=[rec], progress=False)
    assert sorted(RAN) == ["scale", "total"] and rec.count("cached") == 1
    info = cache.info()
    load_time = cache.record(load()).duration
    assert (info.hits, info.misses) == (1, 5)
    assert load_time >= 0.02 and abs(info.time_saved - load_time) < 1e-9
    # everything served: the output alone is loaded, and counted once
    RAN.clear()
    pl.run([total(scale(load(), k=3.0))], cache=cache, progress=False)
    assert RAN == [] and cache.info().hits == 2 and cache.info().misses == 5
    assert "2 hits / 5 misses (29%)" in str(cache.info())


def test_the_demo_reports_what_it_computed_and_served(tmp_path, capsys):
    from pylearn_lab import demo

    report = demo.main(["--cache", str(tmp_path / "d"), "--backend", "serial"])
    out = capsys.readouterr().out
    n = report["nodes"]
    assert report["first"]["done"] == n and report["second"]["done"] == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("cache now"))
    # run 1 computed every node (misses); run 2 served every node (hits), as it printed
    assert report["second"]["cached"] == n and f"{n} hits / {n} misses (50%)" in line
    assert "0.0 s saved" not in line and " saved" in line

"""Concurrency: several processes hammering overlapping keys for a fixed time.

* run level: 4 interpreters run random overlapping graphs against one cache
  directory for 5 s; every node is computed exactly once in total (single
  flight: claims plus the stored-after-claim check), nothing errs, nothing is lost;
* store level: 4 processes save and read the same keys with no claims at all
  (first writer wins, readers never see a partial or wrong value).
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning

from . import workloads as wl

TESTS = Path(__file__).resolve().parents[1]
SECONDS = 5.0
_fork = multiprocessing.get_context("fork")


def test_four_processes_running_overlapping_graphs_compute_each_node_once(tmp_path, figures):
    cache_dir, calls = tmp_path / "cache", tmp_path / "calls"
    calls.mkdir()
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); "
            "from reliability.workloads import hammer; "
            f"hammer({str(cache_dir)!r}, {str(calls)!r}, {SECONDS}, int(sys.argv[1]))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(seed)], stderr=subprocess.PIPE,
                              text=True) for seed in range(4)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(errs)
    assert not list(tmp_path.glob("errors-*")), "\n".join(p.read_text() for p in tmp_path.glob("errors-*"))
    runs = [int(p.read_text()) for p in tmp_path.glob("runs-*")]
    assert len(runs) == 4 and min(runs) > 0

    computed = collections.Counter(name.split("-")[0] for name in os.listdir(calls))
    dup = {k: n for k, n in computed.items() if n > 1}
    assert not dup, f"computed more than once: {dup}"

    # no lost entries: every computed node is stored and reads back right
    cache = pl.Cache(cache_dir)
    assert cache.verify(repair=False).ok
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        for name in computed:
            i = int(name.removeprefix("base").removeprefix("square"))
            b = wl.base(str(calls), i)
            e = b if name.startswith("base") else wl.square(str(calls), b)
            assert cache.contains(e), f"{name} was computed but is not stored"
            if name.startswith("square"):
                assert np.array_equal(cache.load(e.key), wl.expected_square(i))
    figures["concurrent_runs"] = figures.get("concurrent_runs", 0) + sum(runs)
    figures["entries_checked_after_concurrency"] = (
        figures.get("entries_checked_after_concurrency", 0) + len(computed))


def _store_hammer(cache_dir: str, out_dir: str, seed: int, seconds: float) -> None:
    rng = random.Random(seed)
    reads = writes = 0
    try:
        cache = pl.Cache(cache_dir)
        end = time.monotonic() + seconds
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)
            while time.monotonic() < end:
                i = rng.randrange(40)  # 40 keys, 4 writers: constant collisions
                hit, value = cache.lookup(wl.key_for(i))
                if hit:
                    reads += 1
                    if not wl.same_value(i, value):
                        raise AssertionError(f"wrong value read for {i}")
                else:
                    cache.save(wl.key_for(i), wl.value_for(i))
                    writes += 1
                if rng.random() < 0.05:
                    cache.invalidate(wl.key_for(rng.randrange(40)))
        Path(out_dir, f"ok-{seed}").write_text(f"{reads} {writes}")
    except BaseException:  # noqa: BLE001 -- any failure is the finding: report it
        Path(out_dir, f"error-{seed}").write_text(traceback.format_exc())
    os._exit(0)


def test_four_processes_saving_reading_and_deleting_the_same_keys(tmp_path, figures):
    cache_dir, out = tmp_path / "cache", tmp_path / "out"
    out.mkdir()
    procs = [_fork.Process(target=_store_hammer, args=(str(cache_dir), str(out), s, 3.0))
             for s in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    errors = [p.read_text() for p in out.glob("error-*")]
    assert not errors, errors[0]
    counts = [tuple(map(int, p.read_text().split())) for p in out.glob("ok-*")]
    assert len(counts) == 4 and all(r > 0 and w > 0 for r, w in counts)
    cache = pl.Cache(cache_dir)
    report = cache.verify(repair=False)
    assert report.bad == [] and report.missing == 0 and report.orphans == 0, str(report)
    figures["entries_checked_after_concurrency"] = (
        figures.get("entries_checked_after_concurrency", 0) + sum(r for r, _ in counts))


@pytest.mark.cluster
def test_two_engines_and_the_client_share_one_cache(ipp_cluster, tmp_path, figures):
    """The client computes some graphs itself while the 2 engines compute others, all
    against one cache directory (engines save there themselves): each node once, all stored."""
    cache_dir, calls = tmp_path / "cache", tmp_path / "calls"
    calls.mkdir()
    errors: list[str] = []
    runs = collections.Counter()

    def hammer(backend, seed: int) -> None:
        rng = random.Random(seed)
        cache = pl.Cache(cache_dir)
        end = time.monotonic() + SECONDS
        try:
            while time.monotonic() < end:
                ids = rng.sample(range(24), 5)
                outs = pl.run([wl.square(str(calls), wl.base(str(calls), i)) for i in ids],
                              backend=backend, cache=cache, progress=False)
                for i, out in zip(ids, outs):
                    if not np.array_equal(out, wl.expected_square(i)):
                        raise AssertionError(f"wrong value for square(base({i}))")
                runs[seed] += 1
        except BaseException:  # noqa: BLE001 -- any failure is the finding: report it
            errors.append(traceback.format_exc())

    workers = [threading.Thread(target=hammer, args=(ipp_cluster, 1)),
               threading.Thread(target=hammer, args=("serial", 2))]
    for t in workers:
        t.start()
    for t in workers:
        t.join(120)
    assert not errors, errors[0]
    assert runs[1] > 0 and runs[2] > 0
    computed = collections.Counter(name.split("-")[0] for name in os.listdir(calls))
    assert not {k: n for k, n in computed.items() if n > 1}, "a node was computed twice"
    engines = {name.split("-")[1] for name in os.listdir(calls)} - {str(os.getpid())}
    assert engines, "the engines computed nothing: the test did not exercise them"
    cache = pl.Cache(cache_dir)
    assert cache.verify(repair=False).ok
    for name in computed:
        i = int(name.removeprefix("base").removeprefix("square"))
        b = wl.base(str(calls), i)
        assert cache.contains(b if name.startswith("base") else wl.square(str(calls), b))
    figures["concurrent_runs"] = figures.get("concurrent_runs", 0) + sum(runs.values())

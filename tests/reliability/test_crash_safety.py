"""Crash safety: writers killed with SIGKILL at random points never leave a partial entry.

Each writer is a forked child of this process (so a new writer costs milliseconds,
not an interpreter start) that saves and deletes workload values in a loop and
logs each finished operation; the parent kills it at a random moment, then
checks the cache from scratch: index and blobs agree (only invisible stray
files are allowed), every entry reads back the exact value its key implies,
every finished save is there, every finished delete is gone, and a repair
leaves a clean cache.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.cache.keyring import user_key_path
from pylearn_lab.cache import CacheWarning

from . import workloads as wl

pytestmark = pytest.mark.crash

CRASHES = 100
_fork = multiprocessing.get_context("fork")


def _kill_at_random(target, args, rng: random.Random, latest: float) -> None:
    proc = _fork.Process(target=target, args=args, daemon=True)
    proc.start()
    # a random point in the writer's life: opening the cache, mid-blob, mid-commit, ...
    proc.join(rng.uniform(0.0, latest))
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    # killed, not finished or failed: the writer loops forever unless it raised
    assert proc.exitcode == -signal.SIGKILL, f"the writer stopped by itself (exit {proc.exitcode})"


def _check(cache_dir: Path, log: Path) -> tuple[int, int]:
    """Check a crashed cache; returns (entries read back, stray files found)."""
    cache = pl.Cache(cache_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # any broken entry fails the test
        report = cache.verify(repair=False)
        assert report.bad == [] and report.missing == 0, str(report)
        stored = {r["key"] for r in cache.store.records()}
        assert stored <= set(wl.KEY_INDEX), "an entry appeared that no writer wrote"
        for key in stored:
            i = wl.KEY_INDEX[key]
            hit, value = cache.lookup(key)
            assert hit, f"entry {i} is indexed but cannot be read"
            assert wl.same_value(i, value), f"entry {i} read back a wrong value"
    must, must_not = wl.expected_state(log)
    present = {wl.KEY_INDEX[k] for k in stored}
    assert must <= present, f"finished saves lost: {sorted(must - present)}"
    assert not (must_not & present), f"finished deletes undone: {sorted(must_not & present)}"
    strays = report.orphans
    repaired = cache.verify(repair=True)
    assert repaired.bad == [] and repaired.missing == 0
    assert cache.verify(repair=False).ok, "repair left problems behind"
    assert not list((cache_dir / "tmp").iterdir()), "repair left temp files"
    cache.close()
    return len(stored), strays


def test_writers_killed_at_random_points_never_leave_a_partial_entry(tmp_path, figures):
    cache_dir, log = tmp_path / "cache", tmp_path / "ops.log"
    rng = random.Random(20240611)
    checked = strays = 0
    for n in range(CRASHES):
        _kill_at_random(wl.crash_writer, (str(cache_dir), str(log), n), rng, latest=0.06)
        got, stray = _check(cache_dir, log)
        checked += got
        strays += stray
    must, _ = wl.expected_state(log)
    assert len(must) > wl.N_KEYS // 4, "the writers barely wrote anything: kills too early?"
    figures["crashes_survived"] = figures.get("crashes_survived", 0) + CRASHES
    figures["entries_checked_after_crashes"] = figures.get("entries_checked_after_crashes", 0) + checked
    figures["stray_files_repaired"] = figures.get("stray_files_repaired", 0) + strays


def _first_open(cache_dir: str) -> None:
    pl.Cache(cache_dir).save(wl.key_for(1), wl.value_for(1))
    os._exit(0)


def test_a_cache_killed_while_being_created_opens_cleanly(tmp_path, figures):
    """Kills during the very first open (directory, secret, schema) leave a usable cache."""
    rng = random.Random(7)
    for n in range(20):
        d = tmp_path / f"c{n}"
        proc = _fork.Process(target=_first_open, args=(str(d),), daemon=True)
        proc.start()
        proc.join(rng.uniform(0.0, 0.01))
        if proc.exitcode is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        c = pl.Cache(d)
        assert not (d / "secret.key").exists()  # the key lives with the user
        assert len(user_key_path().read_bytes()) == 32 and (d / "pylearn-cache.json").is_file()
        hit, value = c.lookup(wl.key_for(1))
        assert not hit or wl.same_value(1, value)
        assert c.save(wl.key_for(2), wl.value_for(2)) and wl.same_value(2, c.load(wl.key_for(2)))
        c.close()
    figures["crashes_survived"] = figures.get("crashes_survived", 0) + 20


def test_a_run_killed_midway_loses_no_finished_node_and_its_claims_do_not_stall(tmp_path, figures):
    """Kill a run mid-graph; the next run reuses every stored node and finishes at once
    (claims of the dead process are taken over, not waited out for their TTL)."""
    cache_dir, calls = tmp_path / "cache", tmp_path / "calls"
    calls.mkdir()
    rng = random.Random(3)
    n = 12
    names = {}
    for i in range(n):
        b = wl.base(str(calls), i)
        names[b.key], names[wl.square(str(calls), b).key] = f"base{i}", f"square{i}"
    for _ in range(10):
        _kill_at_random(wl.run_graph, (str(cache_dir), str(calls), n), rng, latest=0.15)
        cache = pl.Cache(cache_dir)
        reused = {names[r["key"]] for r in cache.store.records()}
        before = set(os.listdir(calls))
        out = pl.run([wl.square(str(calls), wl.base(str(calls), i)) for i in range(n)],
                     cache=cache, progress=False, timeout=30)
        assert all(np.array_equal(v, wl.expected_square(i)) for i, v in enumerate(out))
        recomputed = {name.split("-")[0] for name in set(os.listdir(calls)) - before}
        assert not (recomputed & reused), f"stored nodes computed again: {recomputed & reused}"
        assert recomputed | reused >= set(names.values()), "a node was neither stored nor computed"
        cache.clear()
        cache.close()
    figures["crashes_survived"] = figures.get("crashes_survived", 0) + 10

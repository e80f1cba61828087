"""A cache directory deleted, or deleted and replaced, under running engines.

Real engines (the shared 2-engine cluster), counted calls (one file per call,
``ipp_nodes.count``): after ``shutil.rmtree`` of the cache directory -- and in
the other variants, with an empty directory or another cache made at the same
path -- runs give the right values, compute each node at most once, warn with
a :class:`CacheWarning`, and nobody (engine or client) creates the directory
again or writes into the one that replaced it. A new ``pl.Cache(path)`` is
used through the store again: its blobs written by the engines, its re-run
served without a single call.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import ipp_nodes as nodes
import pytest

import pylearn_lab as pl
from pylearn_lab.errors import CacheWarning

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

KIB = 96  # each block is 96 KiB: larger than an index row, so a blob file


@pytest.fixture
def log(tmp_path: Path) -> str:
    d = tmp_path / "log"
    d.mkdir()
    return str(d)


def _graph(log: str, seeds: list[int]) -> list:
    blocks = [nodes.counted_block(log, s, KIB) for s in seeds]
    return [nodes.counted_total(log, *blocks), *blocks]


def _check(values: list, seeds: list[int]) -> None:
    assert values[0] == float(sum(s * KIB * 128 for s in seeds))
    for v, s in zip(values[1:], seeds, strict=True):
        assert v.shape == (KIB * 128,) and float(v[0]) == s and float(v[-1]) == s


def _calls(log: str) -> tuple[int, int]:
    return nodes.count(log, "block"), nodes.count(log, "total")


def _files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()) if d.exists() else []


def _run(exprs: list, backend, cache) -> list:
    return pl.run(exprs, backend=backend, cache=cache, progress=False, timeout=120)


def test_rmtree_under_running_engines_ships_the_run_and_recreates_nothing(
        ipp_cluster, tmp_path, log) -> None:
    cache_dir = tmp_path / "c"
    cache = pl.Cache(cache_dir)
    _check(_run(_graph(log, [1, 2, 3]), ipp_cluster, cache), [1, 2, 3])
    assert _calls(log) == (3, 1)
    engine_written = sum(ipp_cluster.blob_writers.values())
    shutil.rmtree(cache_dir)  # deleted while the engines keep running

    with pytest.warns(CacheWarning, match="deleted"):
        _check(_run(_graph(log, [4, 5]), ipp_cluster, cache), [4, 5])
    assert _calls(log) == (5, 2)  # each new node computed exactly once
    # the old graph again: its blobs are gone with the directory, so the blocks are
    # computed again (once each) -- never a wrong or missing value
    with pytest.warns(CacheWarning):
        _check(_run(_graph(log, [1, 2, 3]), ipp_cluster, cache), [1, 2, 3])
    blocks, totals = _calls(log)
    assert blocks == 8 and totals <= 3
    assert not cache_dir.exists()  # nobody created it again behind the user's back
    assert sum(ipp_cluster.blob_writers.values()) == engine_written  # no blob stored since

    fresh = pl.Cache(cache_dir)  # the user opens it again: used through the store
    before = _calls(log)
    _check(_run(_graph(log, [6, 7]), ipp_cluster, fresh), [6, 7])
    assert _calls(log) == (before[0] + 2, before[1] + 1)
    assert all(fresh.contains(e) for e in _graph(log, [6, 7]))
    _check(_run(_graph(log, [6, 7]), ipp_cluster, fresh), [6, 7])
    assert _calls(log) == (before[0] + 2, before[1] + 1)  # served: not one call


@pytest.mark.parametrize("replacement", ["empty directory", "another cache"])
def test_a_directory_replaced_under_running_engines_is_never_written_by_the_old_cache(
        ipp_cluster, tmp_path, log, replacement) -> None:
    cache_dir = tmp_path / "c"
    cache = pl.Cache(cache_dir)
    _check(_run(_graph(log, [1, 2]), ipp_cluster, cache), [1, 2])
    shutil.rmtree(cache_dir)
    if replacement == "empty directory":
        cache_dir.mkdir()
    else:
        pl.Cache(cache_dir).close()  # someone else makes a cache at the same path
    there = _files(cache_dir)

    with pytest.warns(CacheWarning, match="replaced"):
        _check(_run(_graph(log, [3, 4]), ipp_cluster, cache), [3, 4])
    assert _calls(log) == (4, 2)  # computed once each, handed to the run
    assert _files(cache_dir) == there  # not a file added to the directory now there

    other = pl.Cache(cache_dir)  # opened as a cache of its own: met afresh
    _check(_run(_graph(log, [3, 4]), ipp_cluster, other), [3, 4])
    assert _calls(log) == (6, 3)  # nothing of the old cache leaked into it
    _check(_run(_graph(log, [3, 4]), ipp_cluster, other), [3, 4])
    assert _calls(log) == (6, 3)
    assert any(p.startswith("blobs/") for p in _files(cache_dir))

"""Engines on "other hosts", for real: each runs in its own UTS namespace (another
hostname) and mount namespace (its own view of the cache directory), started with
``unshare`` and connected to a controller on 127.0.0.1 -- as Slurm engines on compute
nodes would be, over NFS.

Views of the cache directory tried: the same directory at *another path* (bind mount,
reached through ``path_map``), the directory *hidden* (an empty tmpfs over its parent)
and the directory *read-only* (read-only bind). Each must give the right values with
the data plane expected; the tests check which process wrote each blob (blob names carry
their writer's pid), the hostnames in the records, and the client's peak memory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import ipp_nodes as nodes
import numpy as np
import pytest
from cluster_fixtures import OtherHosts, PeakRSS, unshare_works, wait_until

import pylearn_lab as pl
from pylearn_lab.backends.ipp import IPyParallelBackend

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240),
              pytest.mark.skipif(not unshare_works(), reason="needs unshare (root, Linux)")]


def _writers(b: IPyParallelBackend, cache_dir: Path) -> dict[int, int]:
    """pid -> blob files whose bytes it wrote (the client's indexer counts them from the
    engines' temp-file names); checked against the blob files really there."""
    counts = dict(b.blob_writers)
    assert sum(counts.values()) == len(list((cache_dir / "blobs").glob("*/*")))
    return counts


def _expected(seeds: list[int], mib: int) -> float:
    return float(sum(np.random.default_rng(s).random(mib * 2**17).sum() for s in seeds))


@pytest.fixture
def controller(tmp_path):
    """A controller with no engines of its own; the tests add engines "elsewhere"."""
    b = IPyParallelBackend.start(n=0, profile_dir=str(tmp_path / "profile"),
                                 engine_timeout=30.0)
    hosts = OtherHosts(b)
    try:
        yield b, hosts
    finally:
        b.stop()
        hosts.stop()


def test_engines_seeing_the_cache_at_another_path_write_the_blobs(controller, tmp_path) -> None:
    b, hosts = controller
    home = tmp_path / "home" / "proj"  # the notebook's view
    home.mkdir(parents=True)
    mnt = tmp_path / "mnt-proj"  # where the compute nodes see the same directory
    mnt.mkdir()
    cache = pl.Cache(home / ".pylearn")
    b.path_map = {str(home): str(mnt)}
    ids = [hosts.add(f"node-{i}", binds=[(str(home), str(mnt), False)], hide=[str(home)])
           for i in range(2)]
    # inside the namespaces the client's path is hidden: only the mapped one works
    assert b.client[ids[0]].apply_sync(os.path.exists, str(home / ".pylearn")) is False
    assert b.sees_store(cache)
    wait_until(lambda: b.seeing_engines(cache) == set(ids), timeout=15, what="both see it")
    seeds = list(range(6))
    blocks = [nodes.block(s, 8) for s in seeds]  # 6 x 8 MiB intermediates
    with PeakRSS() as mem:
        got = pl.run(nodes.total(*blocks), backend=b, cache=cache, progress=False, timeout=120)
    assert got == pytest.approx(_expected(seeds, 8))
    writers = _writers(b, home / ".pylearn")
    engine_pids = set(b.engine_pids().values())
    assert sum(writers.values()) == 6 and set(writers) <= engine_pids  # engines wrote them
    assert os.getpid() not in writers
    recs = {r.key: r for r in cache.records()}
    assert {recs[e.key].host for e in blocks} <= {"node-0", "node-1"}
    assert mem.peak_mib < 30, f"client peak +{mem.peak_mib:.0f} MiB for 48 MiB of intermediates"
    # a rerun is served by the client's index; the blobs the engines wrote read back here
    assert pl.run(blocks[0], backend=b, cache=cache, progress=False).shape == (8 * 2**17,)


def test_engines_that_cannot_see_the_cache_get_values_and_create_nothing(controller,
                                                                       tmp_path) -> None:
    b, hosts = controller
    home = tmp_path / "home"
    home.mkdir()
    cache = pl.Cache(home / ".pylearn")
    ids = [hosts.add("blind-0", hide=[str(home)]),
           hosts.add("readonly-1", binds=[(str(home), str(home), True)])]
    assert b.sees_store(cache)
    wait_until(lambda: len(b.engine_views(cache)) == 2, timeout=15, what="both answered")
    views = b.engine_views(cache)
    assert not views[ids[0]][0] and "no directory" in views[ids[0]][1]
    assert not views[ids[1]][0] and "not writable" in views[ids[1]][1]
    seeds = [10, 11, 12, 13]
    blocks = [nodes.block(s, 4) for s in seeds]
    got = pl.run(nodes.total(*blocks), backend=b, cache=cache, progress=False, timeout=120)
    assert got == pytest.approx(_expected(seeds, 4))
    writers = _writers(b, home / ".pylearn")
    assert writers == {os.getpid(): 4}  # the client stored
    assert {r.host for r in cache.records()} <= {"blind-0", "readonly-1"}
    # the blind engine never made a cache where the directory is missing
    assert b.client[ids[0]].apply_sync(os.path.exists, str(home / ".pylearn")) is False
    assert b.client[ids[0]].apply_sync(os.listdir, str(home)) == []


def test_visibility_is_per_engine_and_checked_for_engines_that_join(controller,
                                                                  tmp_path) -> None:
    b, hosts = controller
    home = tmp_path / "home"
    home.mkdir()
    cache = pl.Cache(home / ".pylearn")
    seer = hosts.add("seer", binds=[(str(home), str(home), False)])
    assert b.sees_store(cache)
    wait_until(lambda: b.seeing_engines(cache) == {seer}, timeout=15, what="the seer")
    gate = tmp_path / "gate"
    log = tmp_path / "log"
    log.mkdir()
    # a run in flight when a blind engine joins: the joiner is probed, found blind,
    # and only gets tasks whose inputs are small
    firsts = [nodes.block(s, 2) for s in range(20, 24)]
    handle = pl.run([nodes.gated(str(log), 0, str(gate)), *firsts, nodes.total(*firsts)],
                    backend=b, cache=cache, wait=False, progress=False)
    joiner = hosts.add("joiner", hide=[str(home)])
    wait_until(lambda: joiner in b.engine_views(cache), timeout=20, what="joiner probed")
    assert b.seeing_engines(cache) == {seer}
    gate.touch()
    out = handle.result(timeout=120)
    assert out[-1] == pytest.approx(_expected(list(range(20, 24)), 2))
    # more work: both engines take some; blobs are written by the seer or, for what the
    # joiner computed, by the client -- never by the joiner
    more = [nodes.block(s, 1) for s in range(30, 42)]
    pl.run(more, backend=b, cache=cache, progress=False, timeout=120)
    pids = b.engine_pids()
    writers = set(_writers(b, home / ".pylearn"))
    assert pids[joiner] not in writers and pids[seer] in writers
    assert {r.host for r in cache.records(keys=[e.key for e in more])} <= {"seer", "joiner"}
    assert b.client[joiner].apply_sync(os.path.exists, str(home / ".pylearn")) is False


def test_a_cache_directory_deleted_under_running_engines_does_not_break_runs(tmp_path) -> None:
    cache_dir = tmp_path / "c"
    cache = pl.Cache(cache_dir)
    with IPyParallelBackend.start(n=2) as b:
        first = [nodes.block(s, 1) for s in range(3)]
        assert pl.run(nodes.total(*first), backend=b, cache=cache, progress=False) == \
            pytest.approx(_expected(list(range(3)), 1))
        shutil.rmtree(cache_dir)  # deleted while the engines keep running
        again = [nodes.block(s, 1) for s in range(3, 6)]
        with pytest.warns(UserWarning):
            got = pl.run(nodes.total(*again), backend=b, cache=cache, progress=False,
                         timeout=120)
        assert got == pytest.approx(_expected(list(range(3, 6)), 1))
        assert not cache_dir.exists()  # nobody recreated it behind the user's back
        fresh = pl.Cache(cache_dir)  # recreated by the user: a new directory, new secret
        third = [nodes.block(s, 1) for s in range(6, 9)]
        assert pl.run(nodes.total(*third), backend=b, cache=fresh, progress=False,
                      timeout=120) == pytest.approx(_expected(list(range(6, 9)), 1))
        assert fresh.contains(third[0])

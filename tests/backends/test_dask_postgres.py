"""Dask workers and a team cache: workers write blobs to the shared directory and rows to
PostgreSQL themselves; a second client's run is served from the database."""

from __future__ import annotations

import os
from pathlib import Path

import ipp_nodes as nodes
import pytest

import pylearn_lab as pl
from pylearn_lab.cache.keyring import create_team_key

pytest.importorskip("distributed")
pytest.importorskip("psycopg")

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def test_dask_workers_write_a_team_cache_and_another_client_hits_it(pg_server,
                                                                    tmp_path) -> None:
    log = tmp_path / "log"
    log.mkdir()
    db = pg_server.new_database()
    blobs = tmp_path / "shared"
    (tmp_path / "keys").mkdir(mode=0o750)
    key = create_team_key(tmp_path / "keys" / "team.key")  # the spec takes it to the workers
    cache = pl.Cache(db, blobs=blobs, trust=key)
    graph = nodes.sum_of(str(log), nodes.scale(str(log), nodes.make(str(log), 50_000,
                                                                    os.getpid()), 2.0))
    backend = pl.DaskBackend.start(n=2)
    try:
        assert backend.sees_store(cache)
        workers = set(backend.worker_pids().values())
        assert pl.run(graph, backend=backend, cache=cache, progress=False) == \
            pytest.approx(2 * sum(range(50_000)))
    finally:
        backend.stop()
    assert nodes.count(log, "client-unpickled") == 0  # intermediates never reached the client
    recs = pl.Cache(db, blobs=blobs, trust=key).records()
    assert len(recs) == 3 and {r.pid for r in recs} <= workers  # signed with the team key
    files = {p.name for p in Path(blobs, "blobs").glob("*/*")}
    assert files and files <= {r.key for r in recs}  # blob files written by worker processes
    # another "host": its own Cache object on the same database, serial backend
    other = pl.Cache(db, blobs=blobs, trust=key)
    assert pl.run(graph, backend="serial", cache=other, progress=False) == \
        pytest.approx(2 * sum(range(50_000)))
    assert nodes.count(log, "sum") == 1 and other.info().hits >= 1

"""The cache seam: Index and BlobStore protocols, the codec boundary, one row schema,
one liveness check."""

from __future__ import annotations

import ast
import inspect
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning
from pylearn_lab.cache.blobs import BlobStore, LocalBlobs
from pylearn_lab.cache.codec import CODECS, from_frames, to_frames
from pylearn_lab.cache.index import Index, StampedIndex
from pylearn_lab.cache.leases import owner_is_dead, pid_alive, run_owner, tmp_writer_alive
from pylearn_lab.cache.postgres_index import PostgresIndex
from pylearn_lab.cache.records import (
    ENTRY_COLUMNS,
    INSERT_COLS,
    RECORD_COLS,
    RECORD_FIELDS,
    SIGNED_COLS,
    Record,
)
from pylearn_lab.cache.serialize import encode
from pylearn_lab.cache.sqlite_index import SqliteIndex
from pylearn_lab.errors import IntegrityError

PKG = Path(pl.__file__).parent
K = "c" * 32


def _protocol_methods(proto: type) -> dict[str, inspect.Signature]:
    return {n: inspect.signature(m) for n, m in vars(proto).items()
            if callable(m) and not n.startswith("_")}


@pytest.mark.parametrize("impl", [SqliteIndex, PostgresIndex])
def test_every_index_has_the_protocol_methods_with_the_same_parameters(impl):
    for name, sig in _protocol_methods(Index).items():
        assert hasattr(impl, name), f"{impl.__name__} lacks {name}"
        got = list(inspect.signature(getattr(impl, name)).parameters)
        assert got == list(sig.parameters), f"{impl.__name__}.{name}{got} != {list(sig.parameters)}"


def test_the_sqlite_index_is_stamped_and_postgres_is_not(tmp_path):
    ix = SqliteIndex(tmp_path / "index.sqlite")
    assert isinstance(ix, Index) and isinstance(ix, StampedIndex)
    assert not hasattr(PostgresIndex, "read_stamp")  # so a team cache never memoises hits


def test_the_disk_store_keeps_blobs_behind_the_blob_protocol(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    assert isinstance(cache.store.blobs, LocalBlobs) and isinstance(cache.store.blobs, BlobStore)
    assert isinstance(cache.store.index, Index)
    big = np.arange(20_000, dtype=np.float64)
    cache.save(K, big)
    np.testing.assert_array_equal(cache.load(K), big)
    with pytest.raises(IntegrityError, match="signed row says"):
        cache.store.blobs.get(K, 7, "0" * 64)  # a size other than the signed one


_STORE_MODULES = ["disk", "store", "sqlite_index", "postgres_index", "maintenance", "blobs",
                  "index", "memo", "tombs", "confine", "binding"]


@pytest.mark.parametrize("module", _STORE_MODULES)
def test_no_store_module_knows_the_serialisation_format(module):
    tree = ast.parse((PKG / "cache" / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    assert not names & {"pickle", "cloudpickle", "codec", "numpy"}, names


def test_codecs_round_trip_and_name_their_kind():
    for value, kind in [(np.arange(6, dtype=np.int16).reshape(2, 3), "ndarray"),
                        (np.array(["a"], dtype=object), "pickle"), ({"a": (1, 2.5)}, "pickle"),
                        (np.zeros((0, 3)), "ndarray")]:
        head, frames = to_frames(value)
        assert head["kind"] == kind and kind in CODECS
        back = from_frames(head, frames)
        if isinstance(value, np.ndarray):
            assert back.dtype == value.dtype and back.shape == value.shape
            assert np.array_equal(back, value) if value.dtype != object else back[0] == "a"
        else:
            assert back == value


class Planted:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.path, "w"))


def test_a_signed_entry_of_an_unknown_kind_is_refused_not_unpickled(tmp_path):
    marker = tmp_path / "UNPICKLED"
    cache = pl.Cache(tmp_path / "c")
    head, payload, checksum = encode(Planted(str(marker)), cache.store.payload_hasher)
    head = {**head, "kind": "raw"}  # not a codec: nothing may guess it is a pickle
    assert cache.store.put(K, head, payload, checksum, {"func": "t.f"})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert cache.lookup(K) == (False, None)
    assert any(issubclass(w.category, CacheWarning) for w in seen)
    assert not marker.exists()
    with pytest.raises(IntegrityError, match="unknown kind"):
        from_frames({"kind": "evil"}, [memoryview(b"")])


def test_one_row_schema_the_record_and_every_index_agree(tmp_path):
    assert set(RECORD_COLS) == set(RECORD_FIELDS)
    assert INSERT_COLS == tuple(ENTRY_COLUMNS) and set(SIGNED_COLS) <= set(ENTRY_COLUMNS)
    cache = pl.Cache(tmp_path / "c")
    cache.save(K, {"acc": 0.5}, {"func": "m.f", "params": {"lr": 0.1}, "label": "f"})
    import sqlite3

    db = sqlite3.connect(cache.store.index.path)
    cols = [r[1] for r in db.execute("PRAGMA table_info(entries)")]
    assert cols == list(ENTRY_COLUMNS)
    rec = cache.record(K)
    assert isinstance(rec, Record) and rec.params == {"lr": 0.1} and rec.summary == {"acc": 0.5}
    assert Record.from_row({"key": K, "mac": "x", "checksum": "y", "func": "g"}).func == "g"


def test_liveness_is_checked_in_one_place():
    hits = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if "os.kill(" in p.read_text()]
    assert hits == ["cache/leases.py"]


def test_a_dead_process_is_found_dead_and_its_leases_lapse_at_once():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid) and pid_alive(os.getpid())
    host = socket.gethostname()
    assert owner_is_dead(f"{host}:{proc.pid}:abc")
    assert not owner_is_dead(f"{host}:{os.getpid()}:abc")  # this process
    assert not owner_is_dead(f"elsewhere-{host}:{proc.pid}:abc")  # another host: expiry only
    assert not owner_is_dead("no-format") and not owner_is_dead(run_owner())
    assert tmp_writer_alive(f"{K}.{os.getpid()}.ab12.tmp")
    assert not tmp_writer_alive(f"{K}.{proc.pid}.ab12.tmp") and not tmp_writer_alive("junk")


def test_a_claim_of_a_dead_run_is_taken_over_at_once(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    cache = pl.Cache(tmp_path / "c")
    dead = f"{socket.gethostname()}:{proc.pid}:dead"
    assert cache.try_claim(K, dead, ttl=3600)
    assert cache.try_claim(K, run_owner(), ttl=60)  # not after an hour: now
    alive = run_owner()
    other = f"{socket.gethostname()}:{os.getppid()}:live"
    assert cache.try_claim("d" * 32, other, ttl=3600)
    assert not cache.try_claim("d" * 32, alive, ttl=60)  # a live owner keeps its claim

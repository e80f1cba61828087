"""The per-engine data plane keeps every guarantee of the trusted store (issue 12).

This process plays the engine (``run_with_blobs`` is exactly what an engine
runs) against a real on-disk cache; the client half is the real
``prepare``/``DiskStore.adopt``. Each test tries to break one guarantee:
engines without the key, forged rows, altered blobs, receipts naming files
outside ``tmp/``, untrusted and read-only caches.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pylearn_lab.backends.ipp.adopt import prepare
from pylearn_lab.backends.ipp.blobs import BlobPlan, run_with_blobs
from pylearn_lab.backends.ipp.remote import SEEN_ROOTS
from pylearn_lab.cache import Cache
from pylearn_lab.graph.nodes import Call, Ref
from pylearn_lab.vm.task import Task

BIG = 100_000  # float64s: 800 KB, above the inline limit


def _task(key: str, n: int = BIG, inputs: tuple[str, ...] = ()) -> Task:
    return Task(Call(np.arange, (float(n),), {}, key, "arange", True, inputs), store=True)


def _plan(cache: Cache, **kw: Any) -> BlobPlan:
    args: dict[str, Any] = dict(root=cache.location, seers=frozenset({0}), trusted=True,
                                write=True, key_id=cache.store._signer.key_id)
    return BlobPlan(**{**args, **kw})


def _engine_rows(cache: Cache, key: str, **kw: Any) -> list[dict[str, Any]]:
    out = run_with_blobs([_task(key)], _plan(cache, **kw), batch=False)
    assert out[0].ok
    return out.rows


def test_engine_outputs_become_entries_signed_like_put(tmp_path) -> None:
    """The engine writes only into tmp/; the client signs a row exactly as put() does
    (the header repeats it), so the entry reads back, survives an index rebuild from
    the blob files and is served as a hit."""
    cache = Cache(tmp_path / "c")
    rows = _engine_rows(cache, "e" * 32)
    assert set(rows[0]) == {"key", "head", "record", "tmp"}
    assert os.listdir(tmp_path / "c" / "tmp") == [rows[0]["tmp"]]
    assert not list((tmp_path / "c" / "blobs").glob("*/*"))  # nothing published by the engine
    rows[0]["record"]["func"] = "arange"
    assert cache.store.adopt(rows) == {"e" * 32}
    assert os.listdir(tmp_path / "c" / "tmp") == []
    assert cache.load("e" * 32)[-1] == BIG - 1
    assert cache.store.verify(repair=False).bad == []
    # the index can be rebuilt from the blob alone: its header holds the signed row
    cache.close()
    (tmp_path / "c" / "index.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp_path / 'c' / 'index.sqlite'}{suffix}").unlink(missing_ok=True)
    again = Cache(tmp_path / "c")
    assert again.load("e" * 32)[-1] == BIG - 1
    assert [r.func for r in again.records()] == ["arange"]


def test_a_second_engine_writing_the_same_key_loses_cleanly(tmp_path) -> None:
    cache = Cache(tmp_path / "c")
    first, second = _engine_rows(cache, "d" * 32), _engine_rows(cache, "d" * 32)
    assert cache.store.adopt([*first, *second]) == {"d" * 32}  # one batch, one winner
    assert os.listdir(tmp_path / "c" / "tmp") == []  # the loser's temp file is removed
    assert cache.load("d" * 32)[-1] == BIG - 1


@pytest.mark.parametrize("name", [
    "../../outside", "/etc/passwd", "../blobs/ee/" + "e" * 32, "f" * 32 + ".1.abcdef01.tmp",
    "e" * 32 + ".1.abcdef01.tmp/../../x", "e" * 32 + ".1.ABCDEF01.tmp", "", None, 7,
])
def test_a_receipt_naming_anything_but_its_own_temp_file_is_refused(tmp_path, name) -> None:
    cache = Cache(tmp_path / "c")
    victim = tmp_path / "outside"
    victim.write_bytes(b"keep me")
    rows = _engine_rows(cache, "e" * 32)
    real = rows[0]["tmp"]
    rows[0]["tmp"] = name
    assert cache.store.adopt(rows) == set()
    assert not cache.contains("e" * 32)
    assert victim.read_bytes() == b"keep me"
    assert os.listdir(tmp_path / "c" / "tmp") == [real]  # other files are never touched


def test_a_temp_file_replaced_by_a_symlink_is_refused_and_its_target_untouched(tmp_path) -> None:
    cache = Cache(tmp_path / "c")
    rows = _engine_rows(cache, "e" * 32)
    victim = tmp_path / "victim"
    victim.write_bytes(b"x" * 100)
    tmp = tmp_path / "c" / "tmp" / rows[0]["tmp"]
    tmp.unlink()
    tmp.symlink_to(victim)
    assert cache.store.adopt(rows) == set()
    assert victim.read_bytes() == b"x" * 100
    assert not cache.contains("e" * 32)


def test_frames_that_do_not_match_the_file_are_refused(tmp_path) -> None:
    cache = Cache(tmp_path / "c")
    rows = _engine_rows(cache, "e" * 32)
    rows[0]["head"]["frames"] = [8 * (BIG - 100)]  # says less than the file holds
    assert cache.store.adopt(rows) == set()
    assert os.listdir(tmp_path / "c" / "tmp") == []


def test_an_engine_without_the_key_is_blind_and_never_creates_one(tmp_path, monkeypatch) -> None:
    cache = Cache(tmp_path / "c")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "no-key-here"))
    rows = _engine_rows(cache, "e" * 32)
    assert "payload" in rows[0] and "tmp" not in rows[0]  # the value travels
    assert os.listdir(tmp_path / "c" / "tmp") == []
    assert not (tmp_path / "no-key-here").exists()  # the key is read, never made


def test_an_engine_holding_another_key_is_blind(tmp_path) -> None:
    cache = Cache(tmp_path / "c")
    rows = _engine_rows(cache, "e" * 32, key_id="0" * 16)
    assert "payload" in rows[0] and os.listdir(tmp_path / "c" / "tmp") == []


def test_shipped_bytes_get_the_clients_mac_whatever_the_engine_claims(tmp_path) -> None:
    cache = Cache(tmp_path / "c")
    rows = run_with_blobs([_task("s" * 32, 10)], BlobPlan(root=None), batch=False).rows
    rows[0]["checksum"] = "f" * 64  # ignored: the client computes the MAC itself
    assert cache.store.adopt(rows) == {"s" * 32}
    assert list(cache.load("s" * 32)) == list(range(10))


def _stored_input(cache: Cache) -> tuple[str, Task]:
    key = "a" * 32
    assert cache.store.adopt(_engine_rows(cache, key)) == {key}
    return key, _reader("b" * 32, key)


def _reader(key: str, of: str) -> Task:
    return Task(Call(np.sum, (Ref(of),), {}, key, "sum", True, (of,)), store=True)


def _run_reader(cache: Cache, task: Task) -> Any:
    plan, _ = prepare([task], cache, cache.location, {0}, trusted=True)
    SEEN_ROOTS.add(cache.location)
    try:
        return run_with_blobs([task], plan, batch=False), plan
    finally:
        SEEN_ROOTS.discard(cache.location)


def test_engines_read_blobs_only_under_a_valid_row_mac_and_payload_mac(tmp_path) -> None:
    cache = Cache(tmp_path / "c")
    key, reader = _stored_input(cache)
    out, plan = _run_reader(cache, reader)
    assert plan.refs[key][0] == "blob" and out[0].ok  # read from the file, verified
    # a row altered in the plan (say, another checksum) fails the engine's row MAC check
    fields = list(plan.refs[key][1])
    fields[4] = "0" * 64
    forged = BlobPlan(**{**plan.__dict__, "refs": {key: ("blob", fields, plan.refs[key][2])}})
    SEEN_ROOTS.add(cache.location)
    try:
        got = run_with_blobs([_reader("c" * 32, key)], forged, batch=False)
    finally:
        SEEN_ROOTS.discard(cache.location)
    assert not got[0].ok and got[0].missing_input == key
    # a blob altered on disk (size kept) fails the payload MAC: a missing input, never loaded
    blob = tmp_path / "c" / "blobs" / key[:2] / key
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    SEEN_ROOTS.add(cache.location)
    try:
        got = run_with_blobs([_reader("d" * 32, key)], BlobPlan(**{**plan.__dict__}), batch=False)
    finally:
        SEEN_ROOTS.discard(cache.location)
    assert not got[0].ok and got[0].missing_input == key


def test_a_forged_or_replayed_row_is_never_located(tmp_path) -> None:
    cache = Cache(tmp_path / "c")
    key, _ = _stored_input(cache)
    cache.store.index.insert("f" * 32, "pickle", 1, "c", None, b"x", "forged-mac", {})
    assert set(cache.store.locate([key, "f" * 32, "z" * 32, "../x"])) == {key}


def test_a_read_only_cache_lets_engines_read_but_never_write(tmp_path) -> None:
    cache = Cache(tmp_path / "c")
    key, reader = _stored_input(cache)
    cache.close()
    ro = Cache(tmp_path / "c")
    # what DiskStore finds for a read-only directory or index (chmod does not stop root,
    # who runs these tests, so the store's own flag is set as its open would set it)
    ro.store.read_only = True
    plan, _ = prepare([reader], ro, ro.location, {0}, trusted=True)
    assert not plan.write and plan.refs[key][0] == "blob"
    SEEN_ROOTS.add(ro.location)
    try:
        out = run_with_blobs([reader, _task("n" * 32)], plan, batch=True)
    finally:
        SEEN_ROOTS.discard(ro.location)
    assert [r.ok for r in out] == [True, True]
    assert out[0].missing_input == ""  # the blob was read from the file
    assert all("payload" in r for r in out.rows)  # nothing written into the cache
    assert os.listdir(tmp_path / "c" / "tmp") == []


def test_an_untrusted_cache_serves_nothing_and_engines_ship(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-owner"))
    owner = Cache(tmp_path / "c")
    key, reader = _stored_input(owner)
    owner.close()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-other"))
    with pytest.warns(Warning, match="not trusted"):
        other = Cache(tmp_path / "c")
    plan, targets = prepare([reader], other, other.location, {0}, trusted=True)
    assert plan.root is None and not plan.write and plan.refs == {} and targets is None
    rows = run_with_blobs([_task("n" * 32)], plan, batch=False).rows
    assert "payload" in rows[0]
    assert other.store.adopt(rows) == set()
    assert os.listdir(tmp_path / "c" / "tmp") == []

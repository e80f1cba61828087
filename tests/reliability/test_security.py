"""Security: private files, authenticated entries, nothing planted is ever unpickled,
clusters on loopback, magic arguments never evaluated.

The planted values are pickles whose unpickling would create a marker file
(``open(marker, "w")`` as their ``__reduce__``): every test asserts the marker
does not exist, i.e. the planted bytes were refused before ``pickle.loads``.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning
from pylearn_lab.cache.auth import SECRET_NAME
from pylearn_lab.cache.disk import INLINE_MAX
from pylearn_lab.cache.serialize import encode, layout, read_header
from pylearn_lab.errors import CacheError, IntegrityError

from . import workloads as wl


class Planted:
    """Unpickling this creates ``path``: the proof that planted bytes were loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "UNPICKLED"
    yield path
    assert not path.exists(), "planted bytes were unpickled"


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)) or ".": stat.S_IMODE(p.stat().st_mode)
            for p in [root, *root.rglob("*")]}


def _blob_of(root: Path) -> Path:
    return next((root / "blobs").glob("*/*"))


# -- private files ------------------------------------------------------------------------
def test_every_file_is_created_private_even_with_a_permissive_umask(tmp_path, figures):
    root = tmp_path / "cache"
    old = os.umask(0)  # the worst case: nothing masked by the user's umask
    try:
        cache = pl.Cache(root)
        for i in range(8):  # blobs and inline rows, claims, deletes
            cache.save(wl.key_for(i), wl.value_for(i))
        assert cache.try_claim("c" * 32, "host:1:x")
        cache.invalidate(wl.key_for(0))
        cache.lookup(wl.key_for(4))
        modes = _modes(root)
    finally:
        os.umask(old)
    dirs = {k: m for k, m in modes.items() if (root / k).is_dir()}
    files = {k: m for k, m in modes.items() if not (root / k).is_dir()}
    assert set(dirs.values()) == {0o700}, dirs
    assert set(files.values()) == {0o600}, files
    assert SECRET_NAME in files and "index.sqlite" in files
    assert any(k.startswith("blobs/") for k in files)
    cache.close()
    figures["files_mode_checked"] = len(modes)


def test_the_secret_is_32_random_bytes_per_cache(tmp_path):
    a, b = pl.Cache(tmp_path / "a"), pl.Cache(tmp_path / "b")
    sa, sb = (tmp_path / "a" / SECRET_NAME).read_bytes(), (tmp_path / "b" / SECRET_NAME).read_bytes()
    assert len(sa) == len(sb) == 32 and sa != sb
    a.close(), b.close()


def test_an_altered_secret_is_a_clear_error(tmp_path):
    pl.Cache(tmp_path / "c").close()
    (tmp_path / "c" / SECRET_NAME).write_bytes(b"short")
    with pytest.raises(CacheError, match="expected 32: it was altered. Delete secret.key"):
        pl.Cache(tmp_path / "c")


# -- planted and altered entries --------------------------------------------------------------
def _payload_for(value) -> tuple[dict, list, str]:
    head, payload, checksum = encode(value)
    return head, payload, checksum


def _rewrite_blob_payload(blob: Path, value) -> None:
    """Put ``value``'s pickle where the blob's payload was, keeping its header (checksum field,
    MAC, frame lengths) byte for byte -- what an attacker without the secret can do."""
    data = bytearray(blob.read_bytes())
    head, offset = read_header(memoryview(bytes(data)))
    evil = pickle.dumps(value, protocol=5)
    assert len(evil) <= head["frames"][0]
    data[offset : offset + len(evil)] = evil
    data[offset + len(evil) : offset + head["frames"][0]] = b"." * (head["frames"][0] - len(evil))
    blob.write_bytes(bytes(data))


def test_a_blob_rewritten_in_place_is_refused_unread(tmp_path, marker, figures):
    cache = pl.Cache(tmp_path / "cache")
    key = wl.key_for(2)  # a pickle with an array: a blob file
    cache.save(key, {"w": np.zeros(INLINE_MAX), "i": 2})
    assert cache.lookup(key)[0]  # read (and checksum-verified) once in this process
    blob = _blob_of(tmp_path / "cache")
    st = blob.stat()
    _rewrite_blob_payload(blob, Planted(str(marker)))
    os.utime(blob, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with its mtime put back
    with pytest.raises(IntegrityError, match="checksum"):
        cache.store.get(key)
    assert not cache.contains(key) and not blob.exists()  # refused and removed
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_row_with_a_made_up_mac_is_refused_unread(tmp_path, marker, figures):
    cache = pl.Cache(tmp_path / "cache")
    cache.save(wl.key_for(3), wl.value_for(3))  # the index exists and has a genuine row
    key = "f" * 32
    head, payload, checksum = _payload_for(Planted(str(marker)))
    parts, size = layout({**head, "checksum": checksum, "mac": "0" * 32}, payload)
    with sqlite3.connect(tmp_path / "cache" / "index.sqlite") as db:
        db.execute("INSERT INTO entries (key, kind, size, checksum, blob, inline, mac) "
                   "VALUES (?, ?, ?, ?, NULL, ?, ?)",
                   (key, head["kind"], size, checksum, b"".join(bytes(p) for p in parts), "0" * 32))
    db.close()
    assert cache.contains(key)  # visible to planning...
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup(key) == (False, None)  # ...but refused before unpickling
    assert not cache.contains(key)
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_swapped_blob_with_its_own_valid_header_is_refused_unread(tmp_path, marker, figures):
    cache = pl.Cache(tmp_path / "cache")
    key = wl.key_for(0)
    cache.save(key, wl.value_for(0))
    blob = _blob_of(tmp_path / "cache")
    # a complete, self-consistent blob (right checksum of its own payload) for the planted value
    head, payload, checksum = _payload_for(Planted(str(marker)))
    own_mac = read_header(memoryview(blob.read_bytes()))[0]["mac"]
    parts, _ = layout({**head, "checksum": checksum, "mac": own_mac, "meta": {"key": key}}, payload)
    blob.write_bytes(b"".join(bytes(p) for p in parts))
    with pytest.warns(CacheWarning, match="checksum"):
        assert cache.lookup(key) == (False, None)
    # and updating the row's checksum to match breaks its MAC instead
    cache.save(key, wl.value_for(0))
    blob = _blob_of(tmp_path / "cache")
    blob.write_bytes(b"".join(bytes(p) for p in parts))
    with sqlite3.connect(tmp_path / "cache" / "index.sqlite") as db:
        db.execute("UPDATE entries SET checksum = ?, kind = ? WHERE key = ?", (checksum, head["kind"], key))
    db.close()
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup(key) == (False, None)
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 2


def test_an_entry_copied_from_another_cache_is_refused(tmp_path, marker, figures):
    theirs, ours = pl.Cache(tmp_path / "theirs"), pl.Cache(tmp_path / "ours")
    key = wl.key_for(4)
    theirs.save(key, Planted(str(marker)))  # signed with *their* secret
    theirs.close()
    ours.save(wl.key_for(5), wl.value_for(5))
    ours.close()
    # copy the whole index over ours (rows signed by the other cache's secret)
    shutil.copy(tmp_path / "theirs" / "index.sqlite", tmp_path / "ours" / "index.sqlite")
    ours = pl.Cache(tmp_path / "ours")
    assert key in ours.verify(repair=False).bad
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert ours.lookup(key) == (False, None)
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_row_moved_to_another_key_is_refused(tmp_path, figures):
    """Replaying a genuine row under another key (to serve one value for another call)."""
    cache = pl.Cache(tmp_path / "cache")
    a, b = wl.key_for(6), wl.key_for(7)
    cache.save(a, "value of a")
    with sqlite3.connect(tmp_path / "cache" / "index.sqlite") as db:
        db.execute("UPDATE entries SET key = ? WHERE key = ?", (b, a))
    db.close()
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup(b) == (False, None)
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_planted_blob_is_not_indexed_by_a_rebuild(tmp_path, marker, figures):
    cache = pl.Cache(tmp_path / "cache")
    cache.save(wl.key_for(8), wl.value_for(8))  # a genuine blob
    cache.close()
    key = "e" * 32
    head, payload, checksum = _payload_for({"w": np.zeros(INLINE_MAX), "p": Planted(str(marker))})
    parts, _ = layout({**head, "checksum": checksum, "mac": "1" * 32, "meta": {"key": key}}, payload)
    planted = tmp_path / "cache" / "blobs" / "ee" / f"{key}-{checksum[:12]}-1-00000000"
    planted.parent.mkdir(mode=0o700)
    planted.write_bytes(b"".join(bytes(p) for p in parts))
    (tmp_path / "cache" / "index.sqlite").write_bytes(b"garbage" * 100)
    with pytest.warns(CacheWarning, match="rebuilt"):
        cache = pl.Cache(tmp_path / "cache")
    assert not cache.contains(key) and not planted.exists()
    assert wl.same_value(8, cache.load(wl.key_for(8)))  # the genuine entry survived
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_planted_input_never_reaches_a_run(tmp_path, marker):
    """Through the whole run loop: the planted input is refused and recomputed."""
    calls = tmp_path / "calls"
    calls.mkdir()
    cache = pl.Cache(tmp_path / "cache")
    src = wl.big(str(calls), 1, 20_000)
    out = wl.square(str(calls), src)
    pl.run(out, cache=cache, progress=False)
    cache.invalidate(out)
    _rewrite_blob_payload(_blob_of(tmp_path / "cache"), Planted(str(marker)))
    with pytest.warns(CacheWarning):
        value = pl.run(out, cache=cache, progress=False)
    assert bool((value == 1.0).all())


# -- clusters on loopback ----------------------------------------------------------------------
@pytest.mark.cluster
def test_the_cluster_listens_on_loopback_only_and_signs_its_messages(ipp_cluster):
    psutil = pytest.importorskip("psutil")
    security = Path(ipp_cluster.cluster.profile_dir) / "security"
    files = sorted(security.glob(f"ipcontroller-{ipp_cluster.cluster.cluster_id}-*.json"))
    assert {f.name.rsplit("-", 1)[-1] for f in files} == {"client.json", "engine.json"}
    for f in files:
        info = json.loads(f.read_text())
        assert info["interface"] == "tcp://127.0.0.1", f.name  # engines connect there too
        assert info["signature_scheme"].startswith("hmac-") and len(info["key"]) >= 32
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    cluster_pids = {p.pid for p in psutil.Process().children(recursive=True)}
    listening = [c.laddr for c in psutil.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.pid in cluster_pids]
    assert listening, "no listening socket found for the cluster's processes"
    assert {addr.ip for addr in listening} <= {"127.0.0.1", "::1"}, listening


# -- magic arguments are never evaluated -------------------------------------------------------
INJECTIONS = [
    "run __import__('os').system('touch {m}')",
    "run x;__import__('os').system('touch {m}')",
    "run {{__import__('os').system('touch {m}')}}",
    "run $(touch {m})",
    "cache {{__import__('os').system('touch {m}')}}",
    "cache ls __import__('os').system('touch {m}')",
    "lineage exec(\"open('{m}','w')\")",
    "why eval(\"open('{m}','w')\")",
    "results open('{m}','w')",
    "backend __import__('os').system('touch {m}')",
    "cluster connect --file {{open('{m}','w')}}",
]


@pytest.mark.parametrize("line", INJECTIONS)
def test_magic_arguments_are_never_evaluated(tmp_path, line, figures):
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from pylearn_lab.backends.registry import set_default_backend
    from pylearn_lab.cache import set_default_cache

    cfg = Config()
    cfg.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=cfg)
    mark = tmp_path / "EVALUATED"
    try:
        shell.run_line_magic("load_ext", "pylearn_lab")
        shell.user_ns["x"] = 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:  # refused with a one-line usage error, or taken as a plain name
                shell.run_line_magic("pylearn", line.format(m=mark))
            except UsageError:
                pass
    finally:
        shell.run_line_magic("unload_ext", "pylearn_lab")
        InteractiveShell.clear_instance()
        set_default_cache(None)
        set_default_backend("serial")
    assert not mark.exists(), f"%pylearn {line} evaluated its argument"
    figures["injections_refused"] = figures.get("injections_refused", 0) + 1

"""The engine half of the data plane: inputs from blobs, outputs as temp files, receipts back.

An engine never opens the cache's SQLite index and never signs anything (only
the client writes the index, see :mod:`~pylearn_lab.backends.ipp.adopt`). A
task arrives with a :class:`BlobPlan`: for each stored input its signed row
(fields and row MAC, as the client's index holds them) and either its bytes
(small entries live in the row; any entry when the engine cannot read files)
or nothing more -- the blob's path comes from the key alone; the path of the
cache directory *as this engine sees it*; whether engines may write there.
:func:`run_with_blobs` runs the VM's own :func:`~pylearn_lab.vm.task.execute`
with an :class:`EngineCache` in place of the cache.

The engine reads the user's key read-only (:func:`~pylearn_lab.cache.keyring.
load_user_key` with ``create=False``, or the team key file of the cache); it
never creates one. An engine without the key the cache is signed with is
*blind*: it reads no blob file and writes none, values travel.

* every read checks the row MAC of the plan's row with the engine's key, then
  the keyed payload MAC of the bytes (a blob file once per file version, after
  checking it has the signed size) before anything is unpickled; one that is
  missing or fails is a *missing input* (the client recomputes it);
* an output larger than an index row, on an engine that sees a writable,
  trusted cache, is written into the cache's ``tmp/`` only (through
  :class:`~pylearn_lab.cache.confine.Confined`, links refused, never creating a
  directory) with a header region the client rewrites; the receipt names the
  temp file, and the client computes its MAC, signs its row and publishes it.
  Anything else travels back as encoded bytes, never unpickled on the way.

Examples
--------
>>> import numpy as np
>>> from pylearn_lab.graph.nodes import Call
>>> from pylearn_lab.vm.task import Task
>>> t = Task(Call(np.arange, (3,), {}, "k" * 32, "arange"), store=True)
>>> out = run_with_blobs([t], BlobPlan(root=None), batch=False)
>>> out[0].ok, out.rows[0]["key"] == "k" * 32, "payload" in out.rows[0]
(True, True, True)
"""

from __future__ import annotations

import mmap
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from ...cache.auth import Signer
from ...cache.confine import Confined
from ...cache.disk import INLINE_MAX
from ...cache.keyring import load_team_key, load_user_key, user_key_path
from ...cache.records import summarise_value
from ...cache.serialize import checksum_with_header, encode_frames, layout, read_header
from ...cache.serialize import unpack as unpack_blob
from .remote import SEEN_ROOTS

__all__ = ["BlobPlan", "EngineCache", "Receipts", "from_wire", "run_with_blobs", "to_wire"]

#: bytes of JSON header an engine reserves; the client rewrites it in place with the
#: signed header (a larger record is copied into a fresh file instead)
HEADER_RESERVE = 8184  # 8 + 8184 = 8192: the payload starts page-aligned

_VERIFIED: dict[tuple[str, str], tuple[int, int, int, int, str]] = {}  # (root, key) -> stamp
_SIGNERS: dict[str, tuple[tuple[int, int, int], Signer | None]] = {}  # key path -> (stamp, signer)


@dataclass
class BlobPlan:
    """How one task's data travels (built by the client for each submission).

    Attributes
    ----------
    root : str or None
        The cache directory at this engine's path (None: no engine touches files).
    seers : frozenset of int
        Engine ids the client found to see ``root`` (tasks reading blobs go to them).
    refs : dict
        ``input key -> ("bytes", entry bytes, fields, mac)`` or ``("blob", fields, mac)``:
        ``fields`` and ``mac`` are the entry's signed row as the client's index holds it.
    trusted : bool
        Every engine sees ``root`` (``data_plane="store"``); otherwise an engine
        reads and writes files only if its own probe succeeded there.
    write : bool
        Engines may write temp files (the cache is trusted and writable).
    key_id : str
        The id of the key the cache is signed with; an engine holding another
        key (or none) is blind.
    key_file : str or None
        The team key file of the cache (None: the user's own key).
    """

    root: str | None
    seers: frozenset[int] = frozenset()
    refs: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    trusted: bool = False
    write: bool = False
    key_id: str = ""
    key_file: str | None = None


class Receipts(list):  # type: ignore[type-arg]
    """The receipts of one task plus ``rows``: what the client must index."""

    rows: list[dict[str, Any]]


_KEY_PATHS: dict[tuple[str | None, str | None], str] = {}


def _user_key_file() -> str:
    """:func:`~pylearn_lab.cache.keyring.user_key_path` as text, once per value of the
    variables it reads (path arithmetic for every task cost more than a tiny node)."""
    env = (os.environ.get("XDG_DATA_HOME"), os.environ.get("HOME"))
    path = _KEY_PATHS.get(env)
    if path is None:
        path = _KEY_PATHS[env] = str(user_key_path())
    return path


def engine_signer(key_file: str | None, key_id: str) -> Signer | None:
    """The signer of this engine's copy of the key, or None (blind) when it has no
    key file, cannot read it or holds another key. Never creates a key."""
    try:
        path = key_file or _user_key_file()
        st = os.stat(path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        known = _SIGNERS.get(path)
        if known is None or known[0] != stamp:
            secret = load_team_key(path) if key_file else load_user_key(create=False)
            known = _SIGNERS[path] = (stamp, Signer(secret))
    except Exception:  # absent, unreadable, wrong mode: blind, never an error
        return None
    signer = known[1]
    return signer if signer is not None and signer.key_id == key_id else None


class EngineCache:
    """Duck-typed cache for :func:`~pylearn_lab.vm.task.execute` on an engine."""

    def __init__(self, plan: BlobPlan) -> None:
        self.plan = plan
        self.signer = engine_signer(plan.key_file, plan.key_id) if plan.key_id else None
        self.sees = (plan.root is not None and self.signer is not None
                     and (plan.trusted or plan.root in SEEN_ROOTS))
        self.files = Confined(plan.root) if self.sees and plan.root is not None else None
        self.rows: list[dict[str, Any]] = []
        self.saved: set[str] = set()
        self.errors: dict[str, BaseException] = {}
        self.values: dict[str, Any] = {}  # outputs that could not even be encoded stay here

    # -- reading ------------------------------------------------------------------------
    def lookup(self, key: str, **_: Any) -> tuple[bool, Any]:
        try:
            return True, self.load(key)
        except KeyError:
            return False, None

    def _row_ok(self, key: str, fields: Any, mac: Any) -> bool:
        # fields = [cache id, key, kind, size, checksum, blob, gen, record...]
        assert self.signer is not None
        return (isinstance(fields, list) and len(fields) > 6 and fields[1] == key
                and self.signer.row_ok(mac, fields))

    def load(self, key: str, **_: Any) -> Any:
        ref = self.plan.refs.get(key)
        if ref is None:
            raise KeyError(f"input {key[:12]} is not stored")
        if ref[0] == "bytes":
            data = memoryview(ref[1])
            header = read_header(data)
            if self.signer is not None:
                fields, mac = ref[2], ref[3]
                if not self._row_ok(key, fields, mac) or data.nbytes != fields[3] or \
                        checksum_with_header(data, header, self.signer.payload_hasher) != fields[4]:
                    raise KeyError(f"input {key[:12]} failed its row or payload MAC")
            # (a blind engine cannot check: the client verified both MACs before sending)
            return unpack_blob(data, header)[0]
        if self.files is None or self.signer is None:
            raise KeyError(f"input {key[:12]} is a blob this engine cannot see")
        fields, mac = ref[1], ref[2]
        if not self._row_ok(key, fields, mac):
            raise KeyError(f"input {key[:12]}: its row MAC does not verify")
        try:
            data = self._map_verified(key, int(fields[3]), str(fields[4]))
        except (OSError, ValueError) as exc:
            raise KeyError(f"input {key[:12]}: blob unreadable here ({exc})") from None
        return unpack_blob(data)[0]

    def _map_verified(self, key: str, size: int, checksum: str) -> memoryview:
        assert self.files is not None and self.signer is not None
        fd = self.files.open_blob(key)
        try:
            st = os.fstat(fd)
            if st.st_size != size:
                raise ValueError(f"{st.st_size} bytes, its signed row says {size}")
            mm = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        data = memoryview(mm)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, checksum)
        if _VERIFIED.get((self.files.root, key)) != stamp:
            if checksum_with_header(data, read_header(data), self.signer.payload_hasher) != checksum:
                raise ValueError("payload MAC mismatch (altered or corrupted)")
            _VERIFIED[(self.files.root, key)] = stamp
        return data

    def contains_many(self, keys: Any) -> set[str]:
        return {k for k in keys if k in self.saved}

    # -- writing ------------------------------------------------------------------------
    def save(self, key: str, value: Any, record: dict[str, Any] | None = None) -> bool:
        try:
            head, payload = encode_frames(value)  # unsigned: the client makes the MAC
        except Exception as exc:  # unpicklable: it cannot travel either -- the node's error
            self.errors[key] = exc
            return False
        rec = dict(record or {})
        rec.setdefault("summary", summarise_value(value))
        size = 0
        for p in payload:
            size += p.nbytes
        if size > INLINE_MAX and self.sees and self.plan.write:
            tmp = self._write_tmp(key, head, payload)
            if tmp is not None:
                self.rows.append({"key": key, "head": head, "record": rec, "tmp": tmp})
                self.saved.add(key)
                return True
        self.rows.append({"key": key, "head": head, "record": rec,
                          "payload": b"".join(payload)})
        self.saved.add(key)
        return True

    def _write_tmp(self, key: str, head: dict[str, Any], payload: list[memoryview]) -> str | None:
        """Write one output into ``tmp/``; None (the bytes travel instead) when that fails
        -- a deleted ``tmp/`` is never created again here."""
        assert self.files is not None
        parts, _ = layout(head, payload, HEADER_RESERVE)
        try:
            name, fd = self.files.write_tmp(key, secrets.token_hex(4))
        except OSError:
            return None
        try:
            with os.fdopen(fd, "wb", closefd=True) as f:
                for p in parts:
                    f.write(p)
        except OSError:
            self.files.unlink_tmp(name)
            return None
        return name


def to_wire(tasks: list[Any]) -> list[tuple[Any, ...]]:
    """VM tasks as plain tuples: pickled by C code alone, several times faster than
    the dataclasses (the client pickles thousands a second); :func:`from_wire` inverts."""
    return [(t.call.func, t.call.args, t.call.kwargs, t.call.key, t.call.label, t.call.cache,
             t.call.inputs, t.inputs, t.store, t.return_value, t.timeout) for t in tasks]


def from_wire(items: list[Any]) -> list[Any]:
    """The VM tasks of :func:`to_wire` (Task objects pass through)."""
    from ...graph.nodes import Call
    from ...vm.task import Task

    out = []
    for it in items:
        if isinstance(it, tuple):
            func, args, kwargs, key, label, cacheable, inputs, values, store, ret, timeout = it
            it = Task(Call(func, args, kwargs, key, label, cacheable, inputs), values, None,
                      store, ret, {}, timeout)
        out.append(it)
    return out


def run_with_blobs(tasks: list[Any], plan: BlobPlan, batch: bool) -> Receipts:
    """Run VM tasks on this engine through an :class:`EngineCache` (see the module doc)."""
    from ...vm.task import execute, execute_batch

    tasks = from_wire(tasks)
    cache = EngineCache(plan)
    for t in tasks:
        t.cache = cache
    receipts = execute_batch(tasks) if batch else [execute(tasks[0])]
    for r in receipts:
        exc = cache.errors.get(r.key)
        if exc is not None and r.ok:
            r.ok, r.warning = False, ""
            r.error_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
            r.error_msg = f"its output cannot be stored or sent back: {exc}"
    out = Receipts(receipts)
    out.rows = cache.rows
    return out

"""The engine half of the data plane: inputs from blobs, outputs as blobs, receipts back.

An engine never opens the cache's SQLite index (only the client writes it,
see :mod:`~pylearn_lab.backends.ipp_adopt`). A task arrives with a
:class:`BlobPlan`: for each stored input either its bytes (small entries
live in the index row, so the client sends them) or the name and checksum
of its blob file; the path of the cache directory *as this engine sees it*
(the client's path through the backend's path map); and which engines were
found to see that directory. :func:`run_with_blobs` runs the VM's own
:func:`~pylearn_lab.vm.task.execute` with an :class:`EngineCache` in place of
the cache:

* a blob input is memory-mapped at the engine's path and its checksum is
  verified (once per file version) before anything is unpickled; one that is
  missing or altered is a *missing input* (the client recomputes it);
* an output larger than an index row, on an engine that sees the directory,
  is written as a blob file (temp file in ``tmp/``, then rename into
  ``blobs/``) and the receipt says where; anything else travels back as
  encoded bytes, never unpickled on the way, and the client stores it.

Nothing is ever created where the cache directory is missing: a deleted
``blobs/`` or ``tmp/`` makes the output travel instead.

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
from pathlib import Path
from typing import Any

from ..cache.auth import SECRET_NAME, Signer
from ..cache.disk import INLINE_MAX
from ..cache.records import summarise_value
from ..cache.serialize import checksum_with_header, encode, layout, payload_checksum, read_header
from ..cache.serialize import unpack as unpack_blob
from .ipp_remote import SEEN_ROOTS

__all__ = ["BlobPlan", "EngineCache", "Receipts", "from_wire", "run_with_blobs", "to_wire"]

_VERIFIED: dict[str, tuple[int, int, int, int]] = {}  # blob path -> stamp verified
_SECRETS: dict[str, tuple[tuple[int, int], bytes]] = {}  # secret path -> (stamp, bytes)


@dataclass
class BlobPlan:
    """How one task's data travels (built by the client for each submission).

    Attributes
    ----------
    root : str or None
        The cache directory at this engine's path (None: no engine writes blobs).
    seers : frozenset of int
        Engine ids the client found to see ``root`` (tasks reading blobs go to them).
    trusted : bool
        Every engine sees ``root`` (``data_plane="store"``); otherwise an engine
        reads and writes blob files only if its own probe succeeded there.
    refs : dict
        ``input key -> ("bytes", entry bytes)`` or ``("blob", name, checksum)``.
    """

    root: str | None
    seers: frozenset[int] = frozenset()
    refs: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    trusted: bool = False


class Receipts(list):  # type: ignore[type-arg]
    """The receipts of one task plus ``rows``: what the client must index."""

    rows: list[dict[str, Any]]


class EngineCache:
    """Duck-typed cache for :func:`~pylearn_lab.vm.task.execute` on an engine."""

    def __init__(self, plan: BlobPlan) -> None:
        self.plan = plan
        self.sees = plan.root is not None and (plan.trusted or plan.root in SEEN_ROOTS)
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

    def load(self, key: str) -> Any:
        ref = self.plan.refs.get(key)
        if ref is None:
            raise KeyError(f"input {key[:12]} is not stored")
        if ref[0] == "bytes":
            data = memoryview(ref[1])
            header = read_header(data)
            if checksum_with_header(data, header) != ref[2]:
                raise KeyError(f"input {key[:12]} failed its checksum in transit")
            return unpack_blob(data, header)[0]
        if not self.sees or self.plan.root is None:
            raise KeyError(f"input {key[:12]} is a blob this engine cannot see")
        path = Path(self.plan.root, "blobs", ref[1])
        try:
            data = _map_verified(path, ref[2])
        except (OSError, ValueError) as exc:
            raise KeyError(f"input {key[:12]}: blob unreadable here ({exc})") from None
        return unpack_blob(data)[0]

    def contains_many(self, keys: Any) -> set[str]:
        return {k for k in keys if k in self.saved}

    # -- writing ------------------------------------------------------------------------
    def save(self, key: str, value: Any, record: dict[str, Any] | None = None) -> bool:
        try:
            head, payload, checksum = encode(value)
        except Exception as exc:  # unpicklable: it cannot travel either -- the node's error
            self.errors[key] = exc
            return False
        rec = dict(record or {})
        rec.setdefault("summary", summarise_value(value))
        size = sum(p.nbytes for p in payload)
        if size > INLINE_MAX and self.sees:
            row = self._write_blob(key, head, payload, checksum, rec)
            if row is not None:
                self.rows.append(row)
                self.saved.add(key)
                return True
        self.rows.append({"key": key, "head": head, "checksum": checksum, "record": rec,
                          "payload": b"".join(payload)})
        self.saved.add(key)
        return True

    def _write_blob(self, key: str, head: dict[str, Any], payload: list[memoryview],
                    checksum: str, rec: dict[str, Any]) -> dict[str, Any] | None:
        """Write one blob; None (the bytes travel instead) if the directory is not there."""
        assert self.plan.root is not None
        root = Path(self.plan.root)
        blobs, tmpdir = root / "blobs", root / "tmp"
        if not blobs.is_dir() or not tmpdir.is_dir():
            return None  # deleted, or never a cache here: never create one
        name = f"{key[:2]}/{key}-{checksum[:12]}-{os.getpid()}-{secrets.token_hex(4)}"
        mac = _sign(root, key, head["kind"], checksum, name)
        parts, total = layout({**head, "checksum": checksum, "mac": mac,
                               "meta": {**rec, "key": key}}, payload)
        final = blobs / name
        tmp = tmpdir / f"{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            try:
                final.parent.mkdir(mode=0o700)
            except FileExistsError:
                pass
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb", closefd=True) as f:
                for p in parts:
                    f.write(p)
            os.replace(tmp, final)
        except OSError:
            tmp.unlink(missing_ok=True)
            return None
        return {"key": key, "blob": name, "kind": head["kind"], "size": total,
                "checksum": checksum, "record": rec}


def _sign(root: Path, key: str, kind: str, checksum: str, blob: str) -> str:
    """The entry's MAC for the blob header (lets the index be rebuilt from blobs); the
    client signs the index row itself. Empty if this engine cannot read the secret."""
    path = root / SECRET_NAME
    try:
        st = os.stat(path)
        stamp = (st.st_ino, st.st_mtime_ns)
        known = _SECRETS.get(str(path))
        if known is None or known[0] != stamp:
            known = _SECRETS[str(path)] = (stamp, path.read_bytes())
    except OSError:
        return ""
    return Signer(known[1]).sign(key, kind, checksum, blob) if len(known[1]) == 32 else ""


def _map_verified(path: Path, checksum: str) -> memoryview:
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if st.st_size == 0:
            raise ValueError("empty blob")
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    data = memoryview(mm)
    stamp = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
    if _VERIFIED.get(str(path)) != stamp:
        if payload_checksum(data) != checksum:
            raise ValueError("checksum mismatch")
        _VERIFIED[str(path)] = stamp
    return data


def to_wire(tasks: list[Any]) -> list[tuple[Any, ...]]:
    """VM tasks as plain tuples: pickled by C code alone, several times faster than
    the dataclasses (the client pickles thousands a second); :func:`from_wire` inverts."""
    return [(t.call.func, t.call.args, t.call.kwargs, t.call.key, t.call.label, t.call.cache,
             t.call.inputs, t.inputs, t.store, t.return_value, t.timeout) for t in tasks]


def from_wire(items: list[Any]) -> list[Any]:
    """The VM tasks of :func:`to_wire` (Task objects pass through)."""
    from ..graph.nodes import Call
    from ..vm.task import Task

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
    from ..vm.task import execute, execute_batch

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

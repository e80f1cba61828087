"""``QueueBackend``: Jobman-style jobs in PostgreSQL, run by workers started anywhere.

``run(..., backend=QueueBackend(url, key=KEYFILE))`` inserts every ready node as
a job into the database; workers started on any host -- ``python -m pylearn_lab
worker URL --blobs DIR --key KEYFILE``, e.g. as a Slurm array -- take jobs, run
them and write the results back. The notebook may disconnect meanwhile:

* with a **team cache** (``Cache("postgresql://...", blobs=DIR)``) workers
  store results in the cache themselves, so a later ``run`` of the same graph
  finds them there; nodes still queued or running are *attached to* (a job is
  identified by its node keys), not queued again;
* with any other cache, values come back in the job row; a later run collects
  them from there (checked against the signing key) and stores them.

A worker that dies stops renewing its job's lease; after ``lease`` seconds
another worker takes the job (``max_attempts`` tries in all). Progress and
:meth:`QueueBackend.status` come from the database. Payloads and results are
signed with the key the cache signs with (:mod:`~pylearn_lab.cache.keyring`):
your personal key by default -- workers you start under your own account find
it -- or the team key file (``key=``, the file the team cache is opened with as
``trust=``; workers get ``--key``). A worker checks a payload's MAC *before*
unpickling it: whoever can write the database but does not hold the key
cannot make a worker run code, nor a client accept a result. (The queue MACs
use a subkey derived from that key, so a queue MAC is never a valid cache MAC.)

Examples
--------
>>> import pylearn_lab as pl
>>> @pl.component
... def sq(x: int) -> int:
...     return x * x
>>> q = QueueBackend("postgresql://lab@db/results", key="/proj/team.key")  # doctest: +SKIP
>>> pl.run([sq(i) for i in range(4)], backend=q, cache=False)                # doctest: +SKIP
[0, 1, 4, 9]
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle

from ..cache.keyring import load_team_key, load_user_key
from ..cache.postgres_index import PostgresIndex, masked_url
from ..errors import BackendError, CacheError, IntegrityError, UnpicklableError
from .capabilities import Capabilities
from .ipp.packing import pack
from .local import Backend
from .queue_db import EXPIRE, NOW, SCHEMA, check, job_key, queue_key, sign
from .task_plane import KeyedPlane

__all__ = ["QueueBackend", "QueueStatus", "trust_key"]

log = logging.getLogger(__name__)


def trust_key(key_file: str | os.PathLike[str] | None = None) -> bytes:
    """The key that signs jobs and results: derived from the team key file ``key_file``,
    or from your personal key (the one your caches sign with) when it is None."""
    if key_file is not None and not isinstance(key_file, (str, os.PathLike)):
        raise BackendError(f"key= expected the path of a team key file (or None for your own "
                           f"key), received {type(key_file).__name__}.")
    try:
        key = load_user_key() if key_file is None else load_team_key(key_file)
    except CacheError as exc:
        raise BackendError(f"the queue cannot sign its jobs: {exc}") from None
    return queue_key(key)


class QueueStatus(dict):  # type: ignore[type-arg]
    """``{"queued": n, "running": n, "done": n, "failed": n, "workers": n}`` from the database."""

    def __str__(self) -> str:
        return (f"{self['workers']} workers seen in the last minute; jobs: {self['queued']} "
                f"queued, {self['running']} running, {self['done']} done, {self['failed']} failed")


class _JobFuture(cf.Future):
    def __init__(self, backend: QueueBackend, job: int) -> None:
        super().__init__()
        self.backend, self.job = backend, job

    def cancel(self) -> bool:
        if not self.done():
            self.backend._cancel(self.job)
        return super().cancel()


class QueueBackend(Backend):
    """Jobs in a PostgreSQL database (see the module docstring).

    Parameters
    ----------
    url : str
        ``postgresql://user@host/db`` (the password from ``~/.pgpass`` or ``PGPASSWORD``).
    key : str or Path, optional
        The team key file that signs jobs and results -- the one the team cache is
        opened with (``Cache(url, blobs=..., trust=key)``); workers need the same file
        (``--key``). Default: your personal key (workers under your own account).
    lease : float
        Seconds a worker holds a job without renewing it before others may take it.
    max_attempts : int
        Workers lost on one job before it fails.
    poll : float
        Seconds between the client's looks at its jobs.
    """

    name = "queue"
    in_process = False

    def __init__(self, url: str, *, key: str | os.PathLike[str] | None = None,
                 lease: float = 30.0, max_attempts: int = 3, poll: float = 0.05) -> None:
        self.url = url
        self.lease, self.max_attempts, self.poll = float(lease), int(max_attempts), float(poll)
        self._key = trust_key(key)
        self.key_file = None if key is None else str(Path(key).expanduser().absolute())
        self._db = PostgresIndex(url)  # its connections, errors and schema lock
        self._db._retry(self._init_schema)
        self._pending: dict[int, _JobFuture] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._plane = KeyedPlane(self)  # the VM's tasks, their node keys named
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pylearn-queue", daemon=True)
        self._thread.start()

    @staticmethod
    def _init_schema(c: Any) -> None:
        with c.transaction():
            c.execute("SELECT pg_advisory_xact_lock(%s)", (0x71756575,))
            if not c.execute("SELECT to_regclass('pylearn_jobs') IS NOT NULL").fetchone()[0]:
                c.execute(SCHEMA)
            c.execute("CREATE TABLE IF NOT EXISTS pylearn_workers (name TEXT PRIMARY KEY, "
                      "host TEXT, pid BIGINT, seen DOUBLE PRECISION, jobs BIGINT DEFAULT 0)")

    # -- the Backend interface ----------------------------------------------------------
    @property
    def workers(self) -> int:
        return max(1, self.status()["workers"])

    def sees_store(self, cache: Any) -> bool:
        """Workers store results themselves in a team cache (they open its database and the
        shared directory given with ``--blobs``); otherwise values travel in the job rows."""
        return cache is not None and getattr(cache, "index_url", None) is not None

    def capabilities(self) -> Capabilities:
        """Workers run signed, pickled jobs; the VM's tasks go through a
        :class:`~pylearn_lab.backends.task_plane.KeyedPlane` (equal jobs merge by their
        node keys). ``workers`` is 0 (unknown): counting them asks the database."""
        return Capabilities(in_process=False, workers=0, pickles_by_value=True,
                            sees_store=self.sees_store, task_plane=self._plane)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> cf.Future:
        """Queue ``fn(*args, **kwargs)`` as a job of its own (never merged with another).

        Raises :class:`~pylearn_lab.errors.UnpicklableError` when the call cannot be pickled.
        """
        if kwargs:
            fn = functools.partial(fn, **kwargs)
        return self._send_tasks(fn, args, [], [])

    def _send_tasks(self, fn: Callable[..., Any], args: tuple[Any, ...], keys: list[str],
                    tasks: list[Any]) -> cf.Future:
        """Queue ``fn(*args)`` computing nodes ``keys`` (the task plane's); attach to an
        equal job already queued or running."""
        if self._closed:
            raise BackendError("this QueueBackend was closed; make a new one")
        for t in tasks:  # job rows never hold a database password (workers bring their own)
            spec = t.cache
            if isinstance(spec, tuple) and spec[:1] == ("postgresql",):
                cache_key = spec[4] if len(spec) > 4 else None
                if cache_key != self.key_file:
                    # workers open the team cache with the key that signs their jobs
                    raise BackendError(
                        f"the team cache signs with {cache_key or 'your personal key'} and "
                        f"this QueueBackend with {self.key_file or 'your personal key'}: "
                        "its workers could not store into the cache. Pass the cache's "
                        "team key file to both: QueueBackend(url, key=KEYFILE) and "
                        "Cache(url, blobs=..., trust=KEYFILE).")
                t.cache = (*spec[:3], masked_url(spec[3]), *spec[4:])
        try:
            payload = pack(fn, args)
        except Exception as exc:  # the VM makes a task's failure receipts
            raise UnpicklableError("the task", fn, exc) from exc
        jk = job_key(keys, fn)
        label = tasks[0].call.label if tasks else getattr(fn, "__name__", "job")
        reused = self._finished_values(jk) if keys else None
        if reused is not None:
            fut: cf.Future = cf.Future()
            fut.set_result(reused)
            return fut
        job = self._db._retry(lambda c: self._insert(c, jk, keys, label, payload))
        fut = _JobFuture(self, job)
        with self._lock:
            self._pending[job] = fut
        self._wake.set()
        return fut

    def _insert(self, c: Any, jk: str, keys: list[str], label: str, payload: bytes) -> int:
        row = c.execute(
            "INSERT INTO pylearn_jobs (job_key, keys, label, payload, payload_mac, submitted) "
            f"VALUES (%s, %s, %s, %s, %s, {NOW}) ON CONFLICT (job_key) "
            "WHERE state IN ('queued', 'running') DO NOTHING RETURNING id",
            (jk, keys, label, payload, sign(self._key, payload))).fetchone()
        if row is not None:
            return int(row[0])
        row = c.execute("SELECT id FROM pylearn_jobs WHERE job_key = %s AND state IN "
                        "('queued', 'running') ORDER BY id DESC LIMIT 1", (jk,)).fetchone()
        if row is None:  # finished between the two statements: queue it again
            return self._insert(c, jk, keys, label, payload)
        return int(row[0])

    def _finished_values(self, jk: str) -> list[Any] | None:
        """Receipts *with values* of an earlier run's finished job (a notebook that left)."""
        row = self._db._retry(lambda c: c.execute(
            "SELECT result, result_mac FROM pylearn_jobs WHERE job_key = %s AND state = 'done' "
            "ORDER BY id DESC LIMIT 1", (jk,)).fetchone())
        if row is None or not check(self._key, row[0], row[1]):
            return None
        receipts = cloudpickle.loads(bytes(row[0]))
        items = receipts if isinstance(receipts, list) else [receipts]
        # stored results are found in the cache, not here: a receipt that only says "stored"
        # would point at an entry the plan just did not find
        if all(getattr(r, "ok", False) and getattr(r, "has_value", False) for r in items):
            return receipts
        return None

    # -- collecting -------------------------------------------------------------------
    def _watch(self) -> None:
        last_expire = 0.0
        while not self._closed:
            self._wake.wait(self.poll)
            self._wake.clear()
            with self._lock:
                ids = list(self._pending)
            if not ids:
                continue
            try:
                if time.monotonic() - last_expire > 1.0:
                    self._db._retry(lambda c: c.execute(EXPIRE,
                                                        {"max_attempts": self.max_attempts}))
                    last_expire = time.monotonic()
                rows = self._db._retry(lambda c: c.execute(
                    "SELECT id, state, result, result_mac, error FROM pylearn_jobs "
                    "WHERE id = ANY(%s) AND state IN ('done', 'failed')", (ids,)).fetchall())
            except Exception as exc:  # the database is away: keep waiting, say so
                log.warning("queue: cannot read job states (%s); retrying", exc)
                time.sleep(1.0)
                continue
            for job, state, result, mac, error in rows:
                with self._lock:
                    fut = self._pending.pop(job, None)
                if fut is not None and not fut.done():
                    self._settle(fut, job, state, result, mac, error)

    def _settle(self, fut: _JobFuture, job: int, state: str, result: Any, mac: Any,
                error: Any) -> None:
        try:
            if state == "failed":
                if error and "signature" in error:
                    fut.set_exception(BackendError(f"queue job {job}: {error}"))
                else:  # lost workers: the run may retry (a new job)
                    fut.set_exception(RuntimeError(f"queue job {job} failed: {error}"))
            elif not check(self._key, result, mac):
                fut.set_exception(IntegrityError(
                    f"queue job {job} came back with a result that is not signed with this "
                    "queue's key (planted or altered in the database); it was not read"))
            else:
                fut.set_result(cloudpickle.loads(bytes(result)))
        except cf.InvalidStateError:
            pass
        except Exception as exc:
            fut.set_exception(exc)

    def _cancel(self, job: int) -> None:
        try:
            self._db._retry(lambda c: c.execute(
                f"UPDATE pylearn_jobs SET state = 'failed', error = 'cancelled', finished = {NOW} "
                "WHERE id = %s AND state = 'queued'", (job,)))
        except Exception as exc:
            log.warning("queue: could not cancel job %s: %s", job, exc)
        with self._lock:
            self._pending.pop(job, None)

    # -- progress ---------------------------------------------------------------------
    def status(self) -> QueueStatus:
        """Jobs by state and workers seen in the last minute, from the database."""
        def read(c: Any) -> QueueStatus:
            st = QueueStatus(queued=0, running=0, done=0, failed=0)
            for state, n in c.execute("SELECT state, count(*) FROM pylearn_jobs GROUP BY state"):
                st[state] = int(n)
            st["workers"] = int(c.execute(
                f"SELECT count(*) FROM pylearn_workers WHERE seen > {NOW} - 60").fetchone()[0])
            return st

        return self._db._retry(read)

    def purge(self, older_than: float = 0.0) -> int:
        """Delete finished and failed jobs that ended more than ``older_than`` seconds ago.

        Their results stay in the cache (a team cache); only the job rows go, so a later
        run of a ship-mode graph recomputes instead of collecting. Returns how many.
        """
        return int(self._db._retry(lambda c: c.execute(
            f"DELETE FROM pylearn_jobs WHERE state IN ('done', 'failed') AND finished < {NOW} - %s",
            (float(older_than),)).rowcount))

    def close(self) -> None:
        """Stop watching (queued jobs stay in the database for the workers)."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=2)
        self._db.close()

    stop = close

    def __repr__(self) -> str:
        return f"<QueueBackend {masked_url(self.url)}>"

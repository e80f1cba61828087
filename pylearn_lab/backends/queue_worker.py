"""The queue worker: ``python -m pylearn_lab worker URL --blobs DIR [--key FILE]``.

A loop that takes the oldest ready job (``FOR UPDATE SKIP LOCKED``: workers
never wait for each other), checks its signature *before* unpickling anything,
runs it with a lease it renews every ``lease / 3`` seconds, and writes the
signed receipts back. Tasks that store into a team cache open its database
and *this* worker's path to the shared directory (``--blobs``): the client's
path may not exist on this host -- with *this* worker's path to the team key
file (``--key``; default: the personal key of the user running the worker),
which must be the key its clients sign with. Job rows hold the cache's URL
without its password; the worker connects with its own (its URL, ``~/.pgpass``).

Examples
--------
>>> _local_spec(("postgresql", "/client/path", None, "postgresql://ann@db/x", "/c/team.key"),
...             "/here", "postgresql://ann:pw@db/x", "/h/team.key")
('postgresql', '/here', None, 'postgresql://ann:pw@db/x', '/h/team.key')
>>> _local_spec(("disk", "/client/path", None), "/here", "postgresql://ann:pw@db/x", None)
('disk', '/client/path', None)
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import cloudpickle

from ..cache.postgres_index import PostgresIndex, masked_url
from .ipp.remote import call_pickled, restore_files
from .queue_backend import QueueBackend, trust_key
from .queue_db import EXPIRE, NOW, TAKE, check, sign

__all__ = ["Worker"]

log = logging.getLogger(__name__)


def _local_spec(spec: Any, blobs: str, own_url: str, key_file: str | None) -> Any:
    """A team cache's spec with this worker's paths to the shared directory and to the
    key file, and this worker's credentials when the cache lives in the queue's own
    database (clients send the URL without its password)."""
    if isinstance(spec, tuple) and spec and spec[0] == "postgresql":
        url = own_url if masked_url(own_url) == masked_url(spec[3]) else spec[3]
        return (spec[0], blobs, spec[2], url, key_file)
    return spec


class Worker:
    """Takes and runs jobs from the queue in ``url`` (see the module docstring).

    Parameters
    ----------
    url : str
        The queue's database.
    blobs : str
        This host's path to the team cache's shared blob directory.
    key_file : str, optional
        This host's path to the team key file the clients sign with (their
        ``QueueBackend(key=...)``); default: this user's personal key.
    lease : float
        Seconds a job stays ours without renewal.
    idle_exit : float, optional
        Exit after this many seconds without a job (a Slurm array task that is done).
    max_jobs : int, optional
        Exit after this many jobs.
    """

    def __init__(self, url: str, blobs: str, *, lease: float = 30.0, poll: float = 0.1,
                 idle_exit: float | None = None, max_jobs: int | None = None,
                 max_attempts: int = 3, name: str | None = None,
                 key_file: str | os.PathLike[str] | None = None) -> None:
        self.url, self.blobs = url, str(Path(blobs).expanduser().absolute())
        self.key_file = None if key_file is None else str(Path(key_file).expanduser().absolute())
        self.lease, self.poll, self.idle_exit, self.max_jobs = lease, poll, idle_exit, max_jobs
        self.max_attempts = max_attempts
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._key = trust_key(self.key_file)
        self._db = PostgresIndex(url)
        self._db._retry(QueueBackend._init_schema)
        self._stop = threading.Event()
        self.done = 0

    def run(self) -> int:
        """Work until stopped (SIGTERM/SIGINT), idle too long or ``max_jobs`` done; jobs done."""
        idle_since = time.monotonic()
        self._seen()
        while not self._stop.is_set():
            row = self._db._retry(lambda c: c.execute(
                TAKE, {"owner": self.name, "worker": self.name, "lease": self.lease,
                       "max_attempts": self.max_attempts}).fetchone())
            if row is None:
                self._db._retry(lambda c: c.execute(EXPIRE, {"max_attempts": self.max_attempts}))
                if self.idle_exit is not None and time.monotonic() - idle_since > self.idle_exit:
                    break
                self._seen()
                self._stop.wait(self.poll)
                continue
            self._run_job(*row)
            self.done += 1
            idle_since = time.monotonic()
            if self.max_jobs is not None and self.done >= self.max_jobs:
                break
        self._db.close()
        return self.done

    def stop(self, *_: Any) -> None:
        """Finish the current job, then exit."""
        self._stop.set()

    def _seen(self) -> None:
        self._db._retry(lambda c: c.execute(
            f"INSERT INTO pylearn_workers VALUES (%s, %s, %s, {NOW}, %s) ON CONFLICT (name) "
            "DO UPDATE SET seen = excluded.seen, jobs = excluded.jobs",
            (self.name, socket.gethostname(), os.getpid(), self.done)))

    def _run_job(self, job: int, keys: list[str], payload: Any, mac: str, attempt: int) -> None:
        payload = bytes(payload)
        if not check(self._key, payload, mac):  # never unpickle what we cannot authenticate
            self._finish(job, error="its payload has no valid signature under this worker's "
                                    "key: planted in the database, or the worker was given "
                                    "another key than its clients (start it with --key and "
                                    "the team key file the clients pass as key=)")
            return
        renew = threading.Event()
        beat = threading.Thread(target=self._renew, args=(job, renew), daemon=True,
                                name="pylearn-queue-lease")
        beat.start()
        try:
            result = self._call(payload, list(keys))
        finally:
            renew.set()
            beat.join()
        self._finish(job, result=result)

    def _call(self, payload: bytes, keys: list[str]) -> bytes:
        try:
            fn, args, files, *scanned = cloudpickle.loads(payload)  # see ipp.packing.pack
            restore_files(scanned[0] if scanned else [fn, *args], files)
        except Exception:
            return call_pickled(payload, keys)  # fails the same way: one failed receipt per node
        for a in args:
            for t in a if isinstance(a, list) else [a]:
                if hasattr(t, "call") and hasattr(t, "cache"):
                    t.cache = _local_spec(t.cache, self.blobs, self.url, self.key_file)
        log.info("job %s: %s", ",".join(k[:8] for k in keys), getattr(fn, "__name__", fn))
        return bytes(cloudpickle.dumps(fn(*args), protocol=5))

    def _renew(self, job: int, done: threading.Event) -> None:
        while not done.wait(self.lease / 3):
            try:
                self._db._retry(lambda c: c.execute(
                    f"UPDATE pylearn_jobs SET lease_until = {NOW} + %s WHERE id = %s AND owner = %s",
                    (self.lease, job, self.name)))
                self._seen()
            except Exception as exc:
                log.warning("queue: could not renew the lease of job %s: %s", job, exc)

    def _finish(self, job: int, *, result: bytes | None = None, error: str | None = None) -> None:
        if error is not None:
            sql = (f"UPDATE pylearn_jobs SET state = 'failed', error = %s, finished = {NOW} "
                   "WHERE id = %s AND owner = %s")
            args: tuple[Any, ...] = (error, job, self.name)
        else:
            assert result is not None
            sql = (f"UPDATE pylearn_jobs SET state = 'done', result = %s, result_mac = %s, "
                   f"finished = {NOW} WHERE id = %s AND owner = %s AND state = 'running'")
            args = (result, sign(self._key, result), job, self.name)
        if not self._db._retry(lambda c: c.execute(sql, args).rowcount):
            log.warning("queue: job %s was taken over by another worker (our lease lapsed); "
                        "our result is dropped", job)


def main(url: str, blobs: str, **kwargs: Any) -> int:
    """Run a worker in this process until SIGTERM/SIGINT (what ``python -m pylearn_lab worker`` does)."""
    worker = Worker(url, blobs, **kwargs)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    print(f"pylearn_lab worker {worker.name}: taking jobs from {worker._db.path}", flush=True)
    n = worker.run()
    print(f"pylearn_lab worker {worker.name}: {n} job(s) done, exiting", flush=True)
    return 0

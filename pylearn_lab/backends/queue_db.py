"""The job table of :class:`~pylearn_lab.backends.queue_backend.QueueBackend`, in PostgreSQL.

Jobs wait in ``pylearn_jobs`` (one row per task: its node keys, a signed
payload, a state) until a worker anywhere takes one with
``SELECT ... FOR UPDATE SKIP LOCKED`` -- so two workers never take the same job
and neither waits for the other -- and holds it under a *lease* it renews while
the job runs. A worker that dies stops renewing: when the lease lapses the job
is taken again by another worker (``attempts`` counts the tries; after
``max_attempts`` it fails as "worker lost"). Results (receipts) are written back
into the row; the client polls for them, so a notebook may disconnect and
collect later.

Everything in a row that gets unpickled is signed with the cache's trust key
(:func:`sign` / :func:`check`): whoever can write the database but lacks the key
cannot make a worker run code, nor make a client accept a result.

Examples
--------
>>> check(b"k" * 32, b"payload", sign(b"k" * 32, b"payload"))
True
>>> check(b"k" * 32, b"payload", sign(b"x" * 32, b"payload"))
False
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

__all__ = ["SCHEMA", "check", "job_key", "sign"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS pylearn_jobs (
    id BIGSERIAL PRIMARY KEY, job_key TEXT NOT NULL, keys TEXT[] NOT NULL, label TEXT,
    payload BYTEA NOT NULL, payload_mac TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    owner TEXT, lease_until DOUBLE PRECISION, attempts INTEGER NOT NULL DEFAULT 0,
    result BYTEA, result_mac TEXT, error TEXT,
    submitted DOUBLE PRECISION, started DOUBLE PRECISION, finished DOUBLE PRECISION,
    worker TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS pylearn_jobs_active ON pylearn_jobs(job_key)
    WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS pylearn_jobs_ready ON pylearn_jobs(id) WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS pylearn_jobs_key ON pylearn_jobs(job_key, id);
"""

NOW = "extract(epoch from clock_timestamp())"

#: One statement takes the oldest job that is queued, or running under a lapsed lease.
TAKE = f"""
UPDATE pylearn_jobs j SET state = 'running', owner = %(owner)s, worker = %(worker)s,
       lease_until = {NOW} + %(lease)s, attempts = j.attempts + 1, started = {NOW}
 WHERE j.id = (SELECT id FROM pylearn_jobs
                WHERE state = 'queued' OR (state = 'running' AND lease_until < {NOW}
                                           AND attempts < %(max_attempts)s)
                ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING j.id, j.keys, j.payload, j.payload_mac, j.attempts
"""

#: Jobs whose worker died ``max_attempts`` times are failed, never taken again.
EXPIRE = f"""
UPDATE pylearn_jobs SET state = 'failed', finished = {NOW},
       error = 'its worker was lost ' || attempts || ' times (killed, or its host went down)'
 WHERE state = 'running' AND lease_until < {NOW} AND attempts >= %(max_attempts)s
"""


def queue_key(key: bytes) -> bytes:
    """The queue's subkey of a cache key (domain separation: a queue MAC is no cache MAC).

    >>> len(queue_key(b"k" * 32)), queue_key(b"k" * 32) != b"k" * 32
    (32, True)
    """
    return hashlib.blake2b(b"pylearn_lab queue jobs v1", key=key, digest_size=32).digest()


def sign(key: bytes, data: bytes) -> str:
    """A MAC of ``data`` under the trust key ``key``."""
    return hashlib.blake2b(data, key=key, digest_size=32).hexdigest()


def check(key: bytes, data: bytes | None, mac: str | None) -> bool:
    """True when ``mac`` is ``data``'s MAC under ``key``."""
    if data is None or not mac:
        return False
    return hmac.compare_digest(mac, sign(key, bytes(data)))


def job_key(keys: list[str], fn: Any) -> str:
    """What makes two submissions the same job: the node keys (or, for other calls, a
    fresh token -- a plain ``submit(f, x)`` is never merged with another)."""
    if keys:
        return "nodes:" + hashlib.blake2b("\0".join(sorted(keys)).encode(),
                                          digest_size=16).hexdigest()
    import secrets

    return f"call:{getattr(fn, '__name__', 'fn')}:{secrets.token_hex(12)}"

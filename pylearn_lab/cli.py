"""The command line: ``python -m pylearn_lab ...`` (:mod:`pylearn_lab.__main__` calls :func:`main`).

``python -m pylearn_lab worker URL --blobs DIR [--key FILE]`` runs a queue worker
(see :mod:`pylearn_lab.backends.queue_worker`): it takes jobs that a
``QueueBackend(URL, key=FILE)`` queued, from any host, until it is stopped
(SIGTERM, Ctrl-C), has been idle ``--idle-exit`` seconds, or did ``--max-jobs``.

Examples
--------
>>> args = _parser().parse_args(["worker", "postgresql://lab@db/pylearn", "--blobs", "/shared/c",
...                              "--max-jobs", "10"])
>>> args.command, args.blobs, args.max_jobs
('worker', '/shared/c', 10)
"""

from __future__ import annotations

import argparse
import logging
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pylearn_lab",
                                description="pylearn_lab command-line tools")
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="take and run jobs from a PostgreSQL queue")
    w.add_argument("url", help="the queue's database, postgresql://user@host/db "
                               "(password from ~/.pgpass or PGPASSWORD)")
    w.add_argument("--blobs", required=True,
                   help="this host's path to the team cache's shared blob directory")
    w.add_argument("--key", default=None, metavar="FILE",
                   help="the team key file the clients sign with (their QueueBackend(key=...) "
                        "and Cache(..., trust=...)); default: your personal key")
    w.add_argument("--lease", type=float, default=30.0,
                   help="seconds a job stays this worker's without renewal (default 30)")
    w.add_argument("--poll", type=float, default=0.1, help="seconds between looks for jobs")
    w.add_argument("--idle-exit", type=float, default=None,
                   help="exit after this many seconds without a job")
    w.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs")
    w.add_argument("--name", default=None, help="this worker's name (default host:pid:tag)")
    w.add_argument("-v", "--verbose", action="store_true", help="log every job")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    from .backends.queue_worker import main as worker_main
    from .errors import PylearnError

    try:
        return worker_main(args.url, args.blobs, lease=args.lease, poll=args.poll,
                           idle_exit=args.idle_exit, max_jobs=args.max_jobs, name=args.name,
                           key_file=args.key)
    except PylearnError as exc:  # bad URL, unreachable server, no trust key: one clear line
        print(f"python -m pylearn_lab worker: error: {exc}", file=sys.stderr)
        return 2


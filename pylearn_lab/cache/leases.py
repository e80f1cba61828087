"""Leases: who owns a claim or a temp file, and whether that owner still lives.

Single flight (:mod:`pylearn_lab.vm.claims`) and the store's temp files both
name an owning process; a store takes a dead owner's claim over at once (a
killed or restarted kernel must not stall everyone until the claim expires),
and ``verify`` keeps the temp files of writers that still run. Both questions
are answered here, and only here:

* an **owner** is ``host:pid:tag`` (:func:`run_owner`); only a process of this
  host can be found dead -- another host's claim lapses by its expiry alone;
* :func:`pid_alive` is the one liveness check: signal 0 to the pid (a process
  of another user exists too: ``PermissionError`` counts as alive).

Examples
--------
>>> import os
>>> pid_alive(os.getpid())
True
>>> owner = run_owner()
>>> parse_owner(owner)[1] == os.getpid(), owner_is_dead(owner)
(True, False)
>>> owner_is_dead("another-host:1:x"), owner_is_dead("not an owner")
(False, False)
"""

from __future__ import annotations

import os
import socket
import uuid

__all__ = ["owner_is_dead", "parse_owner", "pid_alive", "run_owner", "tmp_writer_alive"]


def run_owner() -> str:
    """A unique claim owner for one run: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def parse_owner(owner: str) -> tuple[str, int] | None:
    """``(host, pid)`` of an owner written by :func:`run_owner`, or None (another format)."""
    parts = owner.split(":")
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` of this host exists (this process always does)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else (PermissionError)
    return True


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` (``host:pid:tag``) names a process of this host that is gone.

    Anything else -- another host, this process, an owner of another format --
    is not known dead: only the claim's expiry can end it.
    """
    parsed = parse_owner(owner)
    if parsed is None or parsed[0] != socket.gethostname():
        return False
    return not pid_alive(parsed[1])


def tmp_writer_alive(name: str) -> bool:
    """True when the writer of temp file ``<key>.<pid>.<token>.tmp`` still runs.

    A name of another shape has no living writer (it is a stray).
    """
    try:
        pid = int(name.split(".")[-3])
    except (ValueError, IndexError):
        return False
    return pid_alive(pid)

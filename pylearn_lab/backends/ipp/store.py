"""Which engines see the cache directory? Ask each one, do not assume, never wait for all.

The client keeps a random token in the cache's ``tmp/`` directory and asks
every engine to read it back at the *engine's* path for that directory --
the client's path, or another one through the backend's path map (e.g. the
notebook's ``/home/u/proj/.pylearn`` is ``/mnt/home/u/proj/.pylearn`` on the
compute nodes) -- and to be able to write into ``blobs/`` and ``tmp/``. Only
a perfect match means "this engine shares the directory": a missing file, a
different file (another machine with the same path, e.g. a local
``/scratch``), a read-only mount or a missing directory all mean no.

The verdict is **per engine** and remembered per (directory, engine). The
probes are asynchronous: an engine busy with a long task answers when it is
free and is counted as blind until then -- it can still take tasks whose
inputs are small -- so one slow engine never makes the others ship. Engines
that join later are asked when they are first seen. The engine side
(:func:`~pylearn_lab.backends.ipp.remote.probe_store`) only reads and
checks permissions; it never creates anything.

Since engines write blob files only and the client alone writes the SQLite
index, an engine on *another machine* that sees the directory (NFS, Lustre,
GPFS) is a seer like any other.

:class:`StoreProbe` is the older all-or-nothing question ("do *all* workers
see it, on this machine?"), which the dask backend still asks of its workers;
``sees(..., any_machine=True)`` is that verdict for a cache whose index is a
server (PostgreSQL), not a file.

Examples
--------
>>> class NoEngines:
...     ids = []
>>> v = Visibility(NoEngines(), {"/home/u": "/mnt/home/u"})
>>> v.engine_path("/home/u/proj/.pylearn")
'/mnt/home/u/proj/.pylearn'
>>> v.engine_path("/elsewhere/.pylearn")
'/elsewhere/.pylearn'
>>> v.seers("/tmp")
set()
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any

from ...cache.confine import Confined
from ...errors import CacheError, OptionError
from .remote import machine_id, probe_store, read_probe

__all__ = ["StoreProbe", "Visibility", "normalise_path_map"]

log = logging.getLogger(__name__)


def normalise_path_map(path_map: dict[str, str] | None) -> dict[str, str]:
    """``{client prefix: engine prefix}`` with absolute, normalised POSIX paths.

    Raises :class:`~pylearn_lab.errors.OptionError` (a ``ValueError``) for relative
    paths, saying what was expected and received.
    """
    out: dict[str, str] = {}
    for src, dst in (path_map or {}).items():
        if not (str(src).startswith("/") and str(dst).startswith("/")):
            raise OptionError(
                f"path_map= expects absolute paths {{'/client/prefix': '/engine/prefix'}}, "
                f"received {src!r}: {dst!r}. Give the directory as the notebook sees it and "
                "as the compute nodes see it.")
        out[str(PurePosixPath(src))] = str(PurePosixPath(dst))
    return out


class Visibility:
    """Per-engine "does engine N see this cache directory?" verdicts (see the module doc)."""

    def __init__(self, client: Any, path_map: dict[str, str] | None = None,
                 timeout: float = 3.0) -> None:
        self.client = client
        self.path_map = normalise_path_map(path_map)
        self.timeout = timeout
        self._verdicts: dict[tuple[str, int], tuple[bool, str]] = {}
        self._asked: dict[tuple[str, int], float] = {}
        self._tokens: dict[str, tuple[Path, str]] = {}
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)

    def set_path_map(self, path_map: dict[str, str] | None) -> None:
        """Use another path map; every verdict is forgotten (engines are asked again)."""
        mapping = normalise_path_map(path_map)
        with self._lock:
            locations = ({loc for loc, _ in self._verdicts} | {loc for loc, _ in self._asked}
                         | set(self._tokens))
        for location in locations:
            self.forget(location)
        self.path_map = mapping

    def engine_path(self, location: str) -> str:
        """``location`` as the engines see it (longest matching path-map prefix)."""
        loc = str(PurePosixPath(location))
        best = ""
        for src in self.path_map:
            if (loc == src or loc.startswith(src.rstrip("/") + "/")) and len(src) > len(best):
                best = src
        return self.path_map[best] + loc[len(best):] if best else loc

    # -- asking -------------------------------------------------------------------------
    def ask(self, location: str, wait: float = 0.0) -> set[int]:
        """Ask engines without a verdict (non-blocking); wait up to ``wait`` s for the
        first answer if no engine has answered yet; the engines that see ``location``."""
        ids = list(self.client.ids)
        token = self._token(location)
        if token is None:
            return set()
        probe, text = token
        with self._lock:  # every engine answered already: the common case, once per task
            known = all((location, e) in self._verdicts for e in ids)
        if known and wait <= 0:
            return self.seers(location)
        rel = str(probe.relative_to(Path(location)))
        now = time.monotonic()
        for e in ids:
            memo = (location, e)
            with self._lock:
                if memo in self._verdicts:
                    continue
                asked = self._asked.get(memo)
                if asked is not None and now - asked < max(self.timeout, 30.0):
                    continue  # an answer is on its way (a busy engine answers later)
                self._asked[memo] = now
            try:
                ar = self.client[e].apply_async(probe_store, self.engine_path(location), rel, text)
            except Exception as exc:
                log.info("could not ask engine %s about %s: %s", e, location, exc)
                continue
            ar.add_done_callback(functools.partial(self._answer, location, e))
        if wait > 0:
            deadline = time.monotonic() + wait
            with self._answered:
                while not any((location, e) in self._verdicts for e in ids):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._answered.wait(left)
        return self.seers(location)

    def _answer(self, location: str, engine: int, ar: Any) -> None:
        try:
            ok, why = ar.result()
        except Exception as exc:  # a dying engine: ask again later
            with self._lock:
                self._asked.pop((location, engine), None)
            log.debug("engine %s did not answer the store probe: %s", engine, exc)
            return
        with self._answered:
            self._verdicts[(location, engine)] = (bool(ok), str(why))
            self._answered.notify_all()
        if not ok:
            log.info("engine %s does not see %s (%s): its outputs travel to the client",
                     engine, self.engine_path(location), why)

    def _token(self, location: str) -> tuple[Path, str] | None:
        with self._lock:
            known = self._tokens.get(location)
            checked = self._checked.get(location, 0.0)
        now = time.monotonic()
        if known is not None and now - checked < 1.0:
            return known  # looked at less than a second ago (a stat per submit adds up)
        if known is not None and _exists(known[0]):
            with self._lock:
                self._checked[location] = now
            return known
        if known is not None:  # the directory was deleted or recreated: ask everyone again
            self.forget(location)
        text = secrets.token_hex(16)
        try:
            # through the store's confined file API (a planted tmp/ link is refused), named
            # like any temp file of a live writer so the cache's verify() leaves it be
            name, fd = Confined(location).write_tmp("engine-probe", text[:8])
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(text)
        except (OSError, CacheError):
            return None  # the client cannot write there: engines will not store there either
        probe = Path(location) / "tmp" / name
        with self._lock:
            self._tokens[location] = (probe, text)
        return probe, text

    # -- verdicts -----------------------------------------------------------------------
    def seers(self, location: str) -> set[int]:
        """Live engines known to see ``location``."""
        ids = set(self.client.ids)
        with self._lock:
            return {e for (loc, e), (ok, _) in self._verdicts.items()
                    if loc == location and ok and e in ids}

    def verdicts(self, location: str) -> dict[int, tuple[bool, str]]:
        """``engine -> (sees, why not)`` for the engines that answered."""
        with self._lock:
            return {e: v for (loc, e), v in self._verdicts.items() if loc == location}

    def revoke(self, location: str, engine: int, why: str) -> None:
        """``engine`` failed to read a blob it was thought to see: blind from now on."""
        with self._lock:
            self._verdicts[(location, engine)] = (False, why)

    def forget(self, location: str) -> None:
        """Drop every verdict about ``location`` (asked again on next use)."""
        with self._lock:
            for memo in [m for m in self._verdicts if m[0] == location]:
                del self._verdicts[memo]
            for memo in [m for m in self._asked if m[0] == location]:
                del self._asked[memo]
            token = self._tokens.pop(location, None)
        if token is not None:
            try:
                token[0].unlink(missing_ok=True)
            except OSError:  # the directory itself went away
                pass

    def close(self) -> None:
        """Remove the token files."""
        for location in list(self._tokens):
            self.forget(location)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a component is no longer a directory
        return False


class StoreProbe:
    """Memoised "do the engines of ``client`` see this directory?" checks."""

    def __init__(self, client: Any, timeout: float = 3.0) -> None:
        self.client = client
        self.timeout = timeout
        self._verdicts: dict[tuple[str, tuple[Any, ...], bool], bool] = {}

    def sees(self, location: str, any_machine: bool = False) -> bool:
        """True when every engine reads the token written into ``location``.

        ``any_machine``: engines on other machines count too (a server index,
        e.g. PostgreSQL, has no single-kernel rule).
        """
        ids = tuple(sorted(self.client.ids))
        if not ids:
            return False
        memo = (str(location), ids, any_machine)
        if memo not in self._verdicts:
            verdict = self._ask(Path(location), ids, any_machine)
            if verdict is None:
                return False  # no answer in time: ship this run, ask again next time
            self._verdicts[memo] = verdict
        return self._verdicts[memo]

    def _ask(self, root: Path, ids: tuple[Any, ...], any_machine: bool = False) -> bool | None:
        token = secrets.token_hex(16)
        probe = root / f".engine-probe-{token[:12]}"
        try:
            probe.write_text(token, encoding="ascii")
        except OSError:
            return False  # the client cannot write there: engines will not store there either
        try:
            answers = self.client[list(ids)].apply_async(read_probe, str(probe)).get(self.timeout)
        except Exception as exc:
            log.info("could not ask engines about %s (%s); values travel with tasks", root, exc)
            return None
        finally:
            probe.unlink(missing_ok=True)
        here = machine_id()
        if any_machine:
            return all(text == token for text, _ in answers)
        if all(text == token for text, _ in answers) and any(m != here for _, m in answers):
            log.info("engines on other machines see %s; values travel with tasks because the "
                     "cache index must be written from one machine", root)
        return all(text == token and m == here for text, m in answers)

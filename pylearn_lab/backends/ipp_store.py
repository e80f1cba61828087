"""Can the engines see the cache directory? Ask them, do not assume.

The client writes a random token into the cache directory and asks every
engine to read it back at the same path (and to be able to write beside it).
Only a perfect match means "the engines share this directory": a missing
file, a different file (another machine with the same path, e.g. a local
``/scratch``) or a directory the engine cannot write all mean no. The verdict
is remembered per directory and set of engines, so it costs one round trip
per cache and cluster. Engines too busy to answer within the timeout give no
verdict: that run ships values (always correct) and the next run asks again.

Engines on *another machine* that see the directory through a network
filesystem get "no" as well: the cache index is SQLite in WAL mode, whose
writers must share one kernel (WAL coordinates through a memory-mapped file).
``IPyParallelBackend(data_plane="store")`` overrides the verdict for a store
that is safe on the shared filesystem; ``sees(..., any_machine=True)`` is that
verdict for a cache whose index is a server (PostgreSQL), not a file.

Examples
--------
>>> class NoEngines:
...     ids = []
>>> StoreProbe(NoEngines()).sees("/tmp")
False
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from .ipp_remote import machine_id, read_probe

__all__ = ["StoreProbe"]

log = logging.getLogger(__name__)


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

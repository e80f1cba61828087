"""The file channel between a running training and the notebook that watches it.

A training publishes its progress and reads its remote-control commands
through a small directory named after its node key, under one root
(``$PYLEARN_TRAINING_DIR``, default ``<tmp>/pylearn-training-<uid>``)::

    <root>/<node key>/progress.jsonl   one JSON line per step, appended by the training
    <root>/<node key>/control.json     {"command": "pause" | "resume" | "stop"}, by the notebook

Files work wherever the training runs -- in the kernel, a thread, a process
pool, an ipyparallel engine on this host (or on another host when the root is
on a shared filesystem) -- with no socket, no pickled callback and nothing the
cache has to know. A training writes only when someone watches: it looks for
its directory once at start, and the watcher (:func:`watch`) creates it.

Nothing read from a channel runs code: commands are three fixed words, progress
lines are numbers; names are hex keys, and symlinked or foreign paths are refused.

Examples
--------
>>> import tempfile, os
>>> os.environ["PYLEARN_TRAINING_DIR"] = tempfile.mkdtemp()
>>> ch = Channel("ab" * 16, create=True)
>>> ch.publish({"t": 1, "metrics": {"loss": 0.5}})
>>> ch.progress()
[{'t': 1, 'metrics': {'loss': 0.5}}]
>>> ch.send("pause"); ch.command()
'pause'
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ..errors import TrainingError

__all__ = ["COMMANDS", "Channel", "channel_root"]

ENV_VAR = "PYLEARN_TRAINING_DIR"
COMMANDS = ("pause", "resume", "stop")
_HEX = re.compile(r"^[0-9a-f]{16,128}$")


def channel_root() -> Path:
    """``$PYLEARN_TRAINING_DIR``, else ``<tmp>/pylearn-training-<uid>``."""
    env = os.environ.get(ENV_VAR)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(env) if env else Path(tempfile.gettempdir()) / f"pylearn-training-{uid}"


class Channel:
    """Progress and control files of one training (one node key).

    Parameters
    ----------
    key : str
        The training node's key (hex).
    create : bool
        Create the directory (the watcher's side); a training only opens one
        that exists.
    """

    def __init__(self, key: str, create: bool = False) -> None:
        if not isinstance(key, str) or not _HEX.match(key):
            raise TrainingError(f"a training channel is named by a node key (hex), received {key!r:.60}.")
        self.key = key
        self.path = channel_root() / key
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._check()  # before writing into a root someone else may have made
            self.path.mkdir(exist_ok=True, mode=0o700)
        self._check()
        self._seen_control: tuple[int, int] | None = None
        self._command: str | None = None

    @classmethod
    def open_if_watched(cls, key: str) -> Channel | None:
        """The channel of ``key`` when a watcher created it, else None (no file touched)."""
        try:
            return cls(key) if (channel_root() / key).is_dir() else None
        except (TrainingError, OSError):
            return None

    def _check(self) -> None:
        uid = os.getuid() if hasattr(os, "getuid") else None
        for p in (self.path.parent, self.path):
            if p.is_symlink():
                raise TrainingError(f"refusing the training channel {p}: it is a symbolic link.")
            try:
                owner = p.stat().st_uid
            except FileNotFoundError:
                continue
            if uid is not None and owner != uid:
                # a shared temp dir: another user could pre-create the root to feed us commands
                raise TrainingError(
                    f"refusing the training channel {p}: it belongs to user {owner}, not to you "
                    f"({uid}). Remove it, or set {ENV_VAR} to a directory of your own."
                )
        if self.path.exists() and not self.path.is_dir():
            raise TrainingError(f"the training channel {self.path} exists and is not a directory.")

    # -- training side ------------------------------------------------------------------
    def publish(self, event: dict[str, Any]) -> None:
        """Append one progress event (a JSON line); IO errors are ignored (progress is optional)."""
        line = json.dumps(event, separators=(",", ":"), allow_nan=True) + "\n"
        try:
            fd = os.open(self.path / "progress.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        except OSError:
            pass

    def command(self) -> str | None:
        """The latest remote command, or None; rereads the file only when it changed."""
        try:
            st = (self.path / "control.json").lstat()
        except OSError:  # no command file (or the watcher cleaned up): nothing holds us
            self._seen_control, self._command = None, None
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._seen_control:
            self._seen_control = stamp
            try:
                cmd = json.loads((self.path / "control.json").read_text()).get("command")
            except (OSError, ValueError, AttributeError):
                cmd = None
            self._command = cmd if cmd in COMMANDS else None
        return self._command

    def acknowledge(self) -> None:
        """Forget the current command until the file changes again."""
        self._command = None

    # -- watcher side ---------------------------------------------------------------------
    def send(self, command: str) -> None:
        """Write a command (atomically: the training never reads half a file)."""
        if command not in COMMANDS:
            raise TrainingError(f"expected one of {COMMANDS}, received {command!r}.")
        tmp = self.path / f".control-{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"command": command}))
        os.replace(tmp, self.path / "control.json")

    def progress(self) -> list[dict[str, Any]]:
        """Every progress event so far (a half-written last line is left for later)."""
        return self.read(0)[0]

    def read(self, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Events after byte ``offset`` and the offset to read from next time."""
        try:
            with open(self.path / "progress.jsonl", "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return [], offset
        end = data.rfind(b"\n") + 1  # only whole lines
        out: list[dict[str, Any]] = []
        for line in data[:end].split(b"\n"):
            try:
                event = json.loads(line) if line else None
            except ValueError:
                continue
            if isinstance(event, dict):
                out.append(event)
        return out, offset + end

    def reset(self) -> None:
        """Forget earlier progress and commands (a new run of the same node)."""
        for name in ("progress.jsonl", "control.json"):
            try:
                (self.path / name).unlink()
            except FileNotFoundError:
                pass

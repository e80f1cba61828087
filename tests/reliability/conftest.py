"""Fixtures for the reliability tests: figures, kill helpers, tiny file systems."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
_FIGURES: dict[str, int] = {}


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, int]]:
    """Counters the tests add to (crashes survived, entries checked, bad inputs tried).

    Written to ``tests/artifacts/reliability.json`` at the end of the session;
    docs/reliability.md quotes them.
    """
    yield _FIGURES
    if _FIGURES:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / "reliability.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**old, **_FIGURES}, indent=1, sort_keys=True))


def _mount(*args: str) -> bool:
    try:
        return subprocess.run(["mount", *args], capture_output=True, timeout=20,
                              check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class TinyFs:
    """A real small file system (tmpfs) that can be filled up or remounted read-only.

    Needs root (CI runs as root); tests fall back to simulated errors otherwise.
    """

    def __init__(self, size_kib: int) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="pylearn-tinyfs-"))
        self.mounted = _mount("-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs",
                              str(self.path))

    def read_only(self) -> bool:
        """Remount read-only (even root cannot write then); True when it worked."""
        return _mount("-o", "remount,ro", str(self.path))

    def close(self) -> None:
        if self.mounted and subprocess.run(["umount", str(self.path)], capture_output=True,
                                           check=False).returncode:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture
def tiny_fs_factory() -> Iterator:
    made: list[TinyFs] = []

    def make(size_kib: int = 512) -> TinyFs:
        fs = TinyFs(size_kib)
        made.append(fs)
        if not fs.mounted:
            pytest.skip("mounting a tmpfs needs root; the simulated variant of this test runs instead")
        return fs

    yield make
    for fs in made:
        fs.close()


@contextlib.contextmanager
def failing_writes(err: int, under: Path) -> Iterator[None]:
    """Simulate a full or read-only disk below ``under`` in this process: opening a file
    there for writing, or renaming into it, raises ``OSError(err)``; reads keep working.

    Python-level only: SQLite's own writes are not affected (the tmpfs variants of
    the tests cover those for real).
    """
    real_open, real_replace = os.open, os.replace
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT
    root = str(under)

    def full(path, dir_fd) -> str:
        # the store works relative to directory fds (no link is ever followed)
        path = os.fspath(path)
        if dir_fd is None or os.path.isabs(path):
            return path
        return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)

    def fake_open(path, flags, *args, **kwargs):
        where = full(path, kwargs.get("dir_fd"))
        if flags & writing and where.startswith(root):
            raise OSError(err, os.strerror(err), where)
        return real_open(path, flags, *args, **kwargs)

    def fake_replace(src, dst, *args, **kwargs):
        where = full(dst, kwargs.get("dst_dir_fd"))
        if where.startswith(root):
            raise OSError(err, os.strerror(err), where)
        return real_replace(src, dst, *args, **kwargs)

    os.open, os.replace = fake_open, fake_replace
    try:
        yield
    finally:
        os.open, os.replace = real_open, real_replace


__all__ = ["TinyFs", "failing_writes"]

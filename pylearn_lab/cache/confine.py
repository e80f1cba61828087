"""Confinement: every file the disk store touches is one it named, under its root.

Paths come from the entry's key alone (``blobs/ab/<key>``, ``tmp/<key>.<pid>.<r>.tmp``);
nothing read from the index or a blob header ever becomes a path. Each open,
unlink and rename goes through directory file descriptors opened with
``O_NOFOLLOW | O_DIRECTORY`` from the root: a symlink planted as ``blobs/``,
``blobs/ab`` or ``tmp/`` -- or as the file itself -- makes the call fail
(``ELOOP``/``ENOTDIR``), so nothing outside the cache is read, written or
deleted, whatever someone with write access to the directory plants.

Examples
--------
>>> import tempfile, os
>>> c = Confined(tempfile.mkdtemp())
>>> c.ensure_dirs()
>>> blob_name("ab" * 16)
'ab/abababababababababababababababab'
>>> blob_name("../etc")
Traceback (most recent call last):
...
pylearn_lab.errors.IntegrityError: not a cache key: '../etc' (expected 8-128 letters, digits, '_' or '-')
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import CacheError, IntegrityError

__all__ = ["Confined", "blob_name", "check_key", "check_tmp_name"]

_KEY = re.compile(r"[A-Za-z0-9_-]{8,128}")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def check_key(key: object) -> str:
    """``key`` when it can name a file safely, else an IntegrityError."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise IntegrityError(
            f"not a cache key: {key!r} (expected 8-128 letters, digits, '_' or '-')")
    return key


def check_tmp_name(key: str, name: object) -> str:
    """``name`` when it is a temp-file name :meth:`Confined.write_tmp` makes for ``key``
    (``<key>.<pid>.<8 hex>.tmp``), else an IntegrityError."""
    check_key(key)
    if not isinstance(name, str) or not re.fullmatch(
            re.escape(key) + r"\.[0-9]{1,10}\.[0-9a-f]{8}\.tmp", name):
        raise IntegrityError(
            f"not a temp file of entry {key[:12]}: {name!r} (expected {key[:12]}...<pid>.<token>.tmp)")
    return name


def blob_name(key: str) -> str:
    """``"ab/<key>"``: the only name a blob of ``key`` can have."""
    check_key(key)
    return f"{key[:2]}/{key}"


class Confined:
    """File operations relative to one root, never following a link.

    ``group=True`` (a cache signed with a team key, shared by several Unix users
    of one group): directories it creates are ``2770`` (group-writable, new files
    keep the directory's group) and blob files ``0640`` (group-readable); the
    key, not the modes, decides which entries are trusted.
    """

    def __init__(self, root: str | os.PathLike[str], group: bool = False) -> None:
        self.root = os.fspath(root)
        self.group = group

    @contextmanager
    def _dir(self, *parts: str, create: bool = False) -> Iterator[int]:
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for part in parts:
                made = False
                if create:
                    try:
                        os.mkdir(part, 0o700, dir_fd=fd)
                        made = True
                    except FileExistsError:
                        pass
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nxt
                if made and self.group:
                    os.fchmod(fd, 0o2770)  # explicit: the umask would take group write away
            yield fd
        finally:
            os.close(fd)

    def ensure_dirs(self) -> None:
        """Create ``blobs/`` and ``tmp/``; a symlink in their place is a CacheError."""
        for name in ("blobs", "tmp"):
            try:
                with self._dir(name, create=True):
                    pass
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise CacheError(
                        f"{os.path.join(self.root, name)} is a symlink or not a directory: "
                        "a cache never follows links. Expected a plain directory; remove it "
                        "(entries are then recomputed) or use another cache directory."
                    ) from None
                raise

    # -- blobs ----------------------------------------------------------------------------
    def open_blob(self, key: str) -> int:
        """A read-only fd on ``key``'s blob (``FileNotFoundError`` when absent)."""
        sub, name = blob_name(key).split("/")
        try:
            with self._dir("blobs", sub) as d:
                # O_NONBLOCK: a FIFO planted as a blob would block open() forever (a hung
                # lookup); so it opens at once and the caller's S_ISREG check refuses it.
                # Reads of regular files ignore the flag.
                return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                               dir_fd=d)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                # a planted link is, to a reader, no blob at all
                raise FileNotFoundError(errno.ENOENT, "no blob", name) from None
            raise

    def write_tmp(self, key: str, token: str) -> tuple[str, int]:
        """Create ``tmp/<key>.<pid>.<token>.tmp`` exclusively; returns ``(name, fd)``."""
        check_key(key)
        name = f"{key}.{os.getpid()}.{token}.tmp"
        with self._dir("tmp") as d:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600, dir_fd=d)
        if self.group:
            os.fchmod(fd, 0o640)
        return name, fd

    def open_tmp(self, key: str, tmp_name: str) -> int:
        """A read-write fd on a temp file of ``key`` another process wrote (an engine).

        ``tmp_name`` comes from a message, so it is checked to be exactly a name
        :meth:`write_tmp` makes for ``key`` (no ``/``, no ``..``): anything else, a
        link or a non-regular file is an IntegrityError.
        """
        check_tmp_name(key, tmp_name)
        with self._dir("tmp") as d:
            try:
                fd = os.open(tmp_name, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                             dir_fd=d)  # a planted FIFO must not block (see open_blob)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise IntegrityError(f"temp file {tmp_name} is a link: refused") from None
                raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise IntegrityError(f"temp file {tmp_name} is not a regular file: refused")
        return fd

    def publish(self, tmp_name: str, key: str) -> None:
        """Rename a temp file to ``key``'s blob (replacing any file of that name)."""
        sub, name = blob_name(key).split("/")
        with self._dir("tmp") as t, self._dir("blobs", sub, create=True) as b:
            os.replace(tmp_name, name, src_dir_fd=t, dst_dir_fd=b)

    def unlink_tmp(self, tmp_name: str) -> None:
        try:
            with self._dir("tmp") as t:
                os.unlink(tmp_name, dir_fd=t)
        except FileNotFoundError:
            pass

    def unlink_blob(self, key: str) -> None:
        """Remove ``key``'s blob name (a link there is removed itself, never followed)."""
        sub, name = blob_name(key).split("/")
        try:
            with self._dir("blobs", sub) as d:
                os.unlink(name, dir_fd=d)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                raise

    # -- scanning (verify, rebuild) -----------------------------------------------------------
    def scan(self, top: str) -> Iterator[tuple[str, str, os.stat_result]]:
        """``(subdir, name, lstat)`` of every entry under ``blobs/`` (two levels) or
        ``tmp/`` (one level; subdir ``""``). Links are listed, never entered."""
        try:
            with self._dir(top) as d:
                names = os.listdir(d)
                for n in names:
                    try:
                        st = os.stat(n, dir_fd=d, follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    if top == "blobs" and stat.S_ISDIR(st.st_mode):
                        try:
                            with self._dir(top, n) as sd:
                                for m in os.listdir(sd):
                                    try:
                                        yield n, m, os.stat(m, dir_fd=sd, follow_symlinks=False)
                                    except FileNotFoundError:
                                        continue
                        except OSError:
                            continue
                    else:
                        yield "", n, st
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                raise

    def remove_stray(self, top: str, sub: str, name: str) -> None:
        """Unlink one scanned entry (files and links only; never a directory's content
        outside ``top``)."""
        if top not in ("blobs", "tmp"):
            raise ValueError(top)
        parts = (top, sub) if sub else (top,)
        try:
            with self._dir(*parts) as d:
                st = os.stat(name, dir_fd=d, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(name, dir_fd=d)  # only when empty
                else:
                    os.unlink(name, dir_fd=d)
        except OSError:
            pass

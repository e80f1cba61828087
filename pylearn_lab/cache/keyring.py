"""Where the cache secret lives: with the user, never inside a cache directory.

A cache entry is trusted only when it carries a MAC made with a secret its
reader holds. The secret therefore must not travel with the cache: a cache
directory committed to a repository, copied, downloaded or shared would carry
its own key and any forged entry in it would verify. So:

* **personal key** -- ``$XDG_DATA_HOME/pylearn_lab/secret.key`` (or
  ``~/.local/share/pylearn_lab/secret.key``): 32 random bytes made on first
  use, mode 0600 in a 0700 directory, owned by the current user. Every
  process of that user -- the kernel, process-pool workers, ipyparallel
  engines on the same host or on hosts sharing the home directory -- finds
  the same key at the same place.
* **team key** -- a key file named on purpose (``Cache(path, trust=FILE)``):
  it may be readable by a group (0640) but never writable by anyone but its
  owner, nor sit in a directory others can write (a member could swap it).

Both are refused with a :class:`~pylearn_lab.errors.CacheError` saying what is
wrong and what to do when owner or mode are not as expected.

Examples
--------
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> k = load_key(os.path.join(d, "k.key"), create=True)
>>> len(k) == 32 and load_key(os.path.join(d, "k.key")) == k
True
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from ..errors import CacheError

__all__ = ["user_key_path", "load_key", "load_user_key", "load_team_key", "create_team_key",
           "KEY_NAME"]

KEY_NAME = "secret.key"
_KEY_LEN = 32


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/pylearn_lab`` or ``~/.local/share/pylearn_lab``."""
    base = os.environ.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "pylearn_lab"


def user_key_path() -> Path:
    """The personal key file of the current user (see the module docstring)."""
    return user_data_dir() / KEY_NAME


def _check_file(path: Path, st: os.stat_result, team: bool) -> None:
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise CacheError(
            f"the key file {path} is not a regular file (a symlink or something else): "
            "expected a plain 32-byte file. Remove it; a personal key is then made anew "
            "(entries signed with the old key are recomputed)."
        )
    if team:
        if mode & 0o022 or mode & 0o007:
            raise CacheError(
                f"the team key file {path} has mode {mode:04o}: expected only its owner to "
                "write it and nobody outside its group to read it (0640 or 0600). Run "
                f"`chmod 640 {path}`; a key others can write lets them forge entries."
            )
        return
    if st.st_uid != os.geteuid():
        raise CacheError(
            f"the key file {path} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}): "
            "expected your own key. Remove it (a new one is made), or point XDG_DATA_HOME at "
            "a directory of yours."
        )
    if mode & 0o077:
        raise CacheError(
            f"the key file {path} has mode {mode:04o}: expected 0600 (readable by you alone). "
            f"Run `chmod 600 {path}`; anyone who can read it can forge cache entries."
        )


def _check_dir(directory: Path, team: bool) -> None:
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(st.st_mode)
    # a directory others can write lets them rename the key away and put theirs in its
    # place (the sticky bit, as on /tmp, forbids exactly that)
    if mode & 0o022 and not mode & stat.S_ISVTX:
        raise CacheError(
            f"the directory {directory} of the key file can be written by others (mode "
            f"{mode:04o}): expected only its owner to write it. Run `chmod go-w {directory}`, "
            "or keep the key in a private directory."
        )
    if not team and st.st_uid != os.geteuid():
        raise CacheError(
            f"the key directory {directory} belongs to uid {st.st_uid}, not to you: expected "
            "your own data directory. Point XDG_DATA_HOME at a directory you own."
        )


def load_key(path: str | os.PathLike[str], create: bool = False, team: bool = False) -> bytes:
    """Read (or, with ``create``, make once) the 32-byte key at ``path``, checking it.

    Two processes creating it at once agree: the file is written under a
    temporary name and linked into place, and the loser reads the winner's key.
    Nothing is left behind when creation fails (a full disk).
    """
    path = Path(path)
    if create and not team:
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create the key directory {path.parent}: {exc.strerror}. Expected a "
                "writable data directory; set XDG_DATA_HOME to one, or run with cache=False."
            ) from None
    _check_dir(path.parent, team)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            if not create:
                raise CacheError(
                    f"no key file at {path}: expected a 32-byte key file. Check the path "
                    "(a team key is made once by its owner, see docs/security.md)."
                ) from None
            _create(path)
            continue
        except OSError as exc:
            raise CacheError(
                f"cannot open the key file {path}: {exc.strerror}. Expected a regular file "
                "you can read (not a symlink)."
            ) from None
        try:
            _check_file(path, os.fstat(fd), team)
            data = os.read(fd, _KEY_LEN + 1)
        finally:
            os.close(fd)
        if len(data) != _KEY_LEN:
            raise CacheError(
                f"the key file {path} has {len(data)} bytes, expected {_KEY_LEN}: it was "
                f"altered. Delete {path.name} (a new key is made; entries signed with the old "
                "one are then refused and recomputed)."
            )
        return data
    raise CacheError(f"the key file {path} keeps disappearing while it is read; try again")


def _create(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, secrets.token_bytes(_KEY_LEN))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic create-if-absent: loses cleanly to a concurrent creator
        except FileExistsError:
            pass
    except OSError as exc:
        err = CacheError(
            f"cannot create the key file {path}: {exc.strerror}. Free some space or set "
            "XDG_DATA_HOME to a writable directory; runs go on uncached meanwhile.")
        err.disk_full = exc.errno in (errno.ENOSPC, errno.EDQUOT)  # type: ignore[attr-defined]
        raise err from None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def load_user_key(create: bool = True) -> bytes:
    """The current user's personal key (made on first use)."""
    return load_key(user_key_path(), create=create)


def load_team_key(path: str | os.PathLike[str]) -> bytes:
    """A shared key file, checked as a team key (group-readable, owner-writable only)."""
    return load_key(Path(path).expanduser(), create=False, team=True)


def create_team_key(path: str | os.PathLike[str], group: str | int | None = None) -> Path:
    """Make a new team key file (0640) at ``path``, optionally handing it to ``group``.

    The team model (docs/security.md): one member makes the key in a directory
    only they can write, gives it to the team's Unix group (``chgrp``), and every
    member opens the shared cache with ``Cache(path, trust=KEY_FILE)``. Whoever
    can read the key can write entries every member trusts; nobody else can.
    """
    path = Path(path).expanduser().absolute()
    _check_dir(path.parent, team=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, secrets.token_bytes(_KEY_LEN))
        os.fsync(fd)
        if group is not None:
            import grp

            gid = group if isinstance(group, int) else grp.getgrnam(group).gr_gid
            os.fchown(fd, -1, gid)
        os.fchmod(fd, 0o640)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise CacheError(f"{path} exists already: expected a new path for a team key; "
                         "use the existing key or remove it first") from None
    finally:
        os.unlink(tmp)
    return path

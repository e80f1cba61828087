"""Which directories may be caches, and whether one is bound to the key we hold.

A cache directory carries a marker file, ``pylearn-cache.json``: the cache's
random identity and the id of the key it was made with, tagged (MAC) with that
key. Opening a directory decides one of:

``new``
    missing or empty: it becomes a cache bound to our key;
``ours``
    its marker verifies with our key;
``foreign``
    its marker names another key or does not verify: copied, cloned,
    downloaded, another user's. Untrusted: every entry is a miss, nothing is
    written, one warning names the cause and the ways out;
``legacy``
    a cache of an older version that kept its secret *inside* the directory
    (so anyone could forge its entries). Untrusted the same way; when it is
    ours to write it is reset (entries recomputed), never trusted as is.

A non-empty directory with neither marker nor legacy layout is not a cache and
is refused with a :class:`~pylearn_lab.errors.CacheError` -- never "repaired",
so nothing in it is deleted. System directories (``/``, ``/etc``, the home
directory itself...) are refused unless forced.

Examples
--------
>>> import tempfile
>>> from pylearn_lab.cache.auth import Signer
>>> d = tempfile.mkdtemp()
>>> classify(d, Signer(b"k" * 32))[0]
'new'
>>> _ = write_marker(d, Signer(b"k" * 32))
>>> classify(d, Signer(b"k" * 32))[0], classify(d, Signer(b"j" * 32))[0]
('ours', 'foreign')
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from ..errors import CacheError
from .auth import Signer

__all__ = ["MARKER", "classify", "write_marker", "check_not_system", "checked_root", "LEGACY_SECRET"]

MARKER = "pylearn-cache.json"
LEGACY_SECRET = "secret.key"
_FORMAT = 2
_SYSTEM = ("/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/opt", "/proc", "/root",
           "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/home", "/Users",
           "/System", "/Library", "/private", "/Applications")


def checked_root(path: str | os.PathLike[str]) -> Path:
    """``path`` as an absolute directory path, or a CacheError saying why it cannot be one
    (a NUL byte, text that is not valid Unicode, ``~nosuchuser``, too long)."""
    try:
        text = os.fspath(path)
    except TypeError:
        raise CacheError(f"expected a cache directory path (str or Path), received "
                         f"{type(path).__name__}.") from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    problem = ""
    if "\0" in text:
        problem = "it contains a NUL character"
    else:
        try:
            os.fsencode(text)
        except UnicodeError:
            problem = "it contains characters that cannot be a file name (a lone surrogate)"
    if not problem:
        try:
            root = Path(text).expanduser().absolute()
        except RuntimeError as exc:  # "~nosuchuser": no such home directory
            problem = str(exc)
        else:
            if len(os.fsencode(str(root))) >= 4000 or any(
                    len(os.fsencode(part)) > 255 for part in root.parts):
                problem = "it is longer than a path or a file name can be"
            else:
                return root
    raise CacheError(f"cannot use {text!r:.120} as a cache directory: {problem}. Expected a plain "
                     "directory path; pass another one (Cache(path), %pylearn cache DIR, "
                     "PYLEARN_CACHE).")


def check_not_system(root: Path, force: bool = False) -> None:
    """Refuse ``/``, ``/etc``, the home directory itself and friends unless ``force``."""
    if force:
        return
    real = os.path.realpath(root)
    home = os.path.realpath(Path.home())
    system = {os.path.realpath(p) for p in _SYSTEM} | {home}
    if real in system:
        raise CacheError(
            f"refusing to use {root} as a cache directory: it is a system directory or your "
            "home directory itself. Expected a directory of its own, e.g. "
            f"{os.path.join(home, '.cache', 'pylearn')}; pass force=True only if you really mean it."
        )


def _marker_text(cache_id: str, key_id: str) -> str:
    return f"marker|{_FORMAT}|{cache_id}|{key_id}"


def read_marker(root: str | os.PathLike[str]) -> dict[str, object] | None:
    """The marker's JSON (``None`` when absent; ``{}`` when unreadable or a link)."""
    path = os.path.join(root, MARKER)
    try:
        # O_NONBLOCK: a FIFO planted as the marker must not hang opening the cache
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return {}
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def classify(root: str | os.PathLike[str], signer: Signer) -> tuple[str, str, str]:
    """``(state, cache_id, cause)`` of the directory ``root`` (see the module docstring)."""
    root = os.fspath(root)
    try:
        names = os.listdir(root)
    except (FileNotFoundError, NotADirectoryError):
        return "new", "", ""  # creating it says what is wrong, if anything
    except OSError as exc:
        raise CacheError(
            f"cannot list the cache directory {root}: {exc.strerror}. Expected a directory you "
            "can read; pass another path (Cache(path), %pylearn cache DIR, PYLEARN_CACHE)."
        ) from None
    marker = read_marker(root)
    if marker is None:
        # a concurrent creator's temporary marker, or the empty subdirectories of a
        # creation that was killed before its marker was linked: still a new cache
        names = [n for n in names if not n.startswith(f".{MARKER}.")]
        if set(names) <= {"blobs", "tmp"} and all(
                not os.listdir(os.path.join(root, n)) for n in names
                if os.path.isdir(os.path.join(root, n)) and not os.path.islink(os.path.join(root, n))):
            return "new", "", ""
        if "index.sqlite" in names and (LEGACY_SECRET in names or "blobs" in names):
            return "legacy", "", (
                "it was made by an older pylearn_lab that kept its secret inside the directory, "
                "so anyone who could copy or edit it could forge entries")
        raise CacheError(
            f"{root} is not empty and is not a pylearn_lab cache (no {MARKER}): expected an "
            "empty or new directory, or an existing cache. Nothing in it was touched; pass "
            "another directory (e.g. a new subfolder) to Cache(...), %pylearn cache or "
            "PYLEARN_CACHE."
        )
    cache_id = marker.get("cache_id")
    key_id = marker.get("key_id")
    if not isinstance(cache_id, str) or not isinstance(key_id, str):
        return "foreign", "", f"its marker {MARKER} is unreadable (altered or damaged)"
    if key_id != signer.key_id:
        return "foreign", cache_id, (
            f"it was created under another key (key id {key_id[:8]}, yours is "
            f"{signer.key_id[:8]}): copied, cloned, downloaded or another user's")
    if not signer.tag_ok(marker.get("tag"), _marker_text(cache_id, key_id)):
        return "foreign", cache_id, f"its marker {MARKER} does not verify with your key (forged)"
    return "ours", cache_id, ""


def write_marker(root: str | os.PathLike[str], signer: Signer, cache_id: str | None = None,
                 replace: bool = False, group: bool = False) -> str:
    """Bind ``root`` to ``signer``'s key; returns the cache id.

    Created under a temporary name and linked into place, so two processes
    creating one cache agree on its identity (the loser reads the winner's), and
    a failure (a full disk) leaves nothing behind.
    """
    root = os.fspath(root)
    cache_id = cache_id or secrets.token_hex(16)
    body = json.dumps({"format": _FORMAT, "cache_id": cache_id, "key_id": signer.key_id,
                       "tag": signer.tag(_marker_text(cache_id, signer.key_id)),
                       "note": "pylearn_lab cache directory; see docs/security.md"}).encode()
    final = os.path.join(root, MARKER)
    tmp = os.path.join(root, f".{MARKER}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            if group:
                os.fchmod(fd, 0o640)  # a team cache: every member reads the marker
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, final)
        else:
            try:
                os.link(tmp, final)
            except FileExistsError:
                pass
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    got = read_marker(root) or {}
    return str(got.get("cache_id") or cache_id)

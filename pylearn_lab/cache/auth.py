"""Entry authentication: a keyed digest over every index row.

Each cache directory has a 32-byte secret in a private file (mode 0600, in a
0700 directory). Every entry's row carries ``mac = blake2b(secret, row fields
incl. the blob checksum)``; a row whose MAC does not verify -- planted or
altered by someone without the secret -- is refused *before* anything is
unpickled. The blob itself is tied to the row through its checksum.

Examples
--------
>>> s = Signer(b"k" * 32)
>>> m = s.sign("key", "pickle", "abc", "blobname")
>>> s.verify(m, "key", "pickle", "abc", "blobname")
True
>>> s.verify(m, "key", "pickle", "abd", "blobname")
False
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ..errors import CacheError

__all__ = ["Signer", "load_or_create_secret", "SECRET_NAME"]

SECRET_NAME = "secret.key"


class Signer:
    """Signs and verifies index rows with a per-cache secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, key: str, kind: str, checksum: str, blob: str | None) -> str:
        """The MAC of one entry's identifying fields (the checksum covers its bytes)."""
        msg = f"{key}\0{kind}\0{checksum}\0{blob or ''}".encode()
        return hashlib.blake2b(msg, key=self._secret, digest_size=16).hexdigest()

    def verify(self, mac: str | None, key: str, kind: str, checksum: str,
               blob: str | None) -> bool:
        """True when ``mac`` was made with this cache's secret for these fields."""
        if not mac:
            return False
        return hmac.compare_digest(mac, self.sign(key, kind, checksum, blob))


def load_or_create_secret(root: Path) -> bytes:
    """Read ``root/secret.key``, creating it (0600) on first use.

    Two processes creating it at once agree: the file is created exclusively
    and the loser reads the winner's secret.
    """
    path = root / SECRET_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    except PermissionError as exc:
        raise CacheError(
            f"cannot read the cache secret {path.name} in the cache directory: {exc}. "
            "The cache belongs to another user; use your own cache directory (PYLEARN_CACHE)."
        ) from None
    if len(data) == 32:
        return data
    fresh = secrets.token_bytes(32)
    tmp = root / f".{SECRET_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, fresh)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic create-if-absent; loses cleanly to a concurrent creator
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    data = path.read_bytes()
    if len(data) != 32:
        raise CacheError(
            f"the cache secret {path} has {len(data)} bytes, expected 32: it was altered. "
            f"Delete {path.name} (a new secret is made; entries signed with the old one are "
            "then refused and recomputed), or delete the cache directory."
        )
    return data

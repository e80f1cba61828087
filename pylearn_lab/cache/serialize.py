"""The blob container: frames laid out behind a JSON header, with the payload MAC.

What the frames *are* is the codecs' business (:mod:`~pylearn_lab.cache.codec`:
raw arrays, pickle-5 with out-of-band buffers); this module only frames them:
a stored value is a list of frames plus a small JSON header (the codec's fields,
frame sizes, the checksum).

:func:`pack` lays the frames out as one blob (``MAGIC | header length | header
| frames``, each frame 64-byte aligned) and :func:`unpack` reads such a blob
from any buffer (bytes from the index, or an ``mmap`` of a file).

Examples
--------
>>> import numpy as np
>>> blob = b"".join(bytes(f) for f in pack(np.arange(4.0), {"key": "k"})[0])
>>> unpack(memoryview(blob))[0]
array([0., 1., 2., 3.])
>>> unpack(memoryview(b"".join(bytes(f) for f in pack({"a": [1, 2]})[0])))[0]
{'a': [1, 2]}
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import IntegrityError
from ..hashing.digest import new_digest
from .codec import DECODE_FIELDS, from_frames, to_frames
from .jsonenc import encoder

__all__ = ["encode", "layout", "pack", "unpack", "read_header", "payload_checksum", "MAGIC", "ALIGN",
           "decode_payload", "encode_frames"]

MAGIC = b"PLB1"
ALIGN = 64
_LEN = struct.Struct("<I")
_ZEROS = bytes(ALIGN)


# Built once (:mod:`.jsonenc`): json.dumps sets up an encoder per call, most of the cost
# of a small header. The text is json.dumps' with the same options, byte for byte.
_HEADER_JSON = encoder((",", ":"), default=str)
_FIELDS_JSON = encoder((",", ":"), sort_keys=True)


def _pad(n: int) -> int:
    return (-n) % ALIGN


def encode(value: Any, hasher: Callable[[], Any] | None = None
           ) -> tuple[dict[str, Any], list[memoryview], str]:
    """Serialise ``value`` into ``(header, payload parts, payload checksum)``.

    The payload parts are the frames with their alignment padding, in blob
    order; the checksum covers them and the header fields that say how to
    decode them, so it can be written into the header that precedes them.
    ``hasher`` makes the digest object; a disk store passes its keyed MAC
    (:meth:`~pylearn_lab.cache.auth.Signer.payload_hasher`), so the checksum
    is a MAC nobody without the key can match.
    """
    head, parts = encode_frames(value)
    d = (hasher or new_digest)()
    d.update(_layout_fields(head))
    for p in parts:
        d.update(p)
    return head, parts, d.hexdigest()


def encode_frames(value: Any) -> tuple[dict[str, Any], list[memoryview]]:
    """:func:`encode` without the checksum: ``(header, payload parts)``, for a process
    that does not sign (a cluster engine: the client computes the MAC itself).

    Examples
    --------
    >>> head, parts = encode_frames(7)
    >>> head["kind"], head["frames"], sum(p.nbytes for p in parts) % ALIGN
    ('pickle', [5], 0)
    """
    head, frames = to_frames(value)
    head["frames"] = [f.nbytes for f in frames]
    parts: list[memoryview] = []
    for f in frames:
        parts.append(f)
        pad = _pad(f.nbytes)
        if pad:
            parts.append(memoryview(_ZEROS[:pad]))
    return head, parts


def layout(head: dict[str, Any], payload: list[memoryview], header_len: int | None = None
           ) -> tuple[list[memoryview], int]:
    """Prefix ``payload`` with the blob header; returns ``(parts, total_size)``.

    ``header_len`` pads the JSON header with spaces to exactly that many bytes
    (JSON ignores them), so a header can be rewritten in place over a reserved
    region; a header that does not fit raises ``ValueError``.
    """
    header = _HEADER_JSON(head).encode()
    if header_len is not None:
        if len(header) > header_len:
            raise ValueError(f"blob header of {len(header)} bytes exceeds {header_len}")
        header += b" " * (header_len - len(header))
    start = len(MAGIC) + _LEN.size + len(header)
    first = memoryview(MAGIC + _LEN.pack(len(header)) + header + _ZEROS[: _pad(start)])
    total = first.nbytes + sum(p.nbytes for p in payload)
    return [first, *payload], total


def pack(value: Any, meta: dict[str, Any] | None = None) -> tuple[list[memoryview], int]:
    """Serialise ``value`` into one blob's parts; returns ``(parts, total_size)``."""
    head, payload, checksum = encode(value)
    head["checksum"] = checksum
    if meta:
        head["meta"] = meta
    return layout(head, payload)


def _layout_fields(head: dict[str, Any]) -> bytes:
    # What says how to read the payload (kind, dtype, shape, frame sizes) is checksummed
    # with it: an altered header over an intact payload must fail, not decode differently.
    fields = {k: head[k] for k in DECODE_FIELDS if k in head}
    return _FIELDS_JSON(fields).encode()


def payload_checksum(buf: memoryview, hasher: Callable[[], Any] | None = None) -> str:
    """Digest of the blob in ``buf`` as ``header["checksum"]`` claims it: the payload
    plus the header fields that say how to decode it."""
    return checksum_with_header(buf, read_header(buf), hasher)


def checksum_with_header(buf: memoryview, header: tuple[dict[str, Any], int],
                         hasher: Callable[[], Any] | None = None) -> str:
    """:func:`payload_checksum` for a blob whose header was already parsed."""
    head, offset = header
    d = (hasher or new_digest)()
    d.update(_layout_fields(head))
    d.update(buf[offset:])
    return d.hexdigest()


def checksum_of_fd(fd: int, head: dict[str, Any], offset: int, size: int,
                   hasher: Callable[[], Any] | None = None, chunk: int = 16 << 20) -> str:
    """:func:`checksum_with_header` of a blob file read with ``pread`` in chunks: the
    bytes go through the page cache, not into this process's resident memory (as a
    memory map touched end to end would)."""
    d = (hasher or new_digest)()
    d.update(_layout_fields(head))
    pos = offset
    while pos < size:
        block = os.pread(fd, min(chunk, size - pos), pos)
        if not block:
            raise IntegrityError("blob file shrank while it was read")
        d.update(block)
        pos += len(block)
    return d.hexdigest()


# Parsed headers by their exact bytes: a repeated small hit skips the JSON parse, the
# largest part of its cost (about 4 us of 11). Bounded; headers are a few hundred bytes.
_HEADERS: dict[bytes, Any] = {}
_HEADERS_MAX = 1024
_HEADER_MEMO_BYTES = 4096


def read_header(buf: memoryview) -> tuple[dict[str, Any], int]:
    """Parse a blob's header; returns ``(header, offset of the first frame)``.

    The header dict may be shared with other calls (parses are memoised by
    the header's bytes): treat it as read-only.
    """
    if bytes(buf[:4]) != MAGIC or len(buf) < 8:
        raise IntegrityError("not a pylearn_lab blob (bad magic): the entry will be recomputed")
    (hlen,) = _LEN.unpack(buf[4:8])
    if 8 + hlen > len(buf):
        raise IntegrityError("truncated blob header: the entry will be recomputed")
    raw = bytes(buf[8 : 8 + hlen])
    head = _HEADERS.get(raw)
    if head is None:
        try:
            head = json.loads(raw)
        except ValueError:
            raise IntegrityError("unreadable blob header: the entry will be recomputed") from None
        if not isinstance(head, dict):
            raise IntegrityError("unreadable blob header: the entry will be recomputed")
        if len(raw) <= _HEADER_MEMO_BYTES:
            if len(_HEADERS) >= _HEADERS_MAX:
                _HEADERS.clear()
            _HEADERS[raw] = head
    start = 8 + hlen
    return head, start + _pad(start)


def _split(buf: memoryview, lengths: Sequence[int], offset: int) -> list[memoryview]:
    out = []
    for n in lengths:
        if offset + n > len(buf):
            raise IntegrityError("truncated blob: the entry will be recomputed")
        out.append(buf[offset : offset + n])
        offset += n + _pad(n)
    return out


def decode_payload(head: dict[str, Any], payload: memoryview) -> Any:
    """The value of a payload as :func:`encode` made it (frames with their padding, no
    blob header in front), given its header fields: what :func:`unpack` returns for
    the blob :func:`layout` would make of it, without building that blob.

    Check the payload's MAC first when it came from elsewhere: this only decodes.

    Examples
    --------
    >>> head, payload, _ = encode([1, 2])
    >>> decode_payload(head, memoryview(b"".join(payload)))
    [1, 2]
    """
    return from_frames(head, _split(payload, head["frames"], 0))


def unpack(buf: memoryview, header: tuple[dict[str, Any], int] | None = None) -> tuple[Any, dict[str, Any]]:
    """Rebuild the value stored in ``buf``; returns ``(value, header)``.

    Arrays are read-only views on ``buf`` when ``buf`` is read-only (an mmap).
    ``header`` is ``read_header(buf)`` when the caller already has it.
    """
    head, offset = read_header(buf) if header is None else header
    return from_frames(head, _split(buf, head["frames"], offset)), head

"""Codecs: the one place that chooses how a Python value becomes bytes, and back.

A codec turns a value into *frames* (buffers) plus the JSON-able header fields
it needs to rebuild it (``kind`` names the codec). Two ship:

* ``"ndarray"`` -- a numpy array of a plain dtype as one raw frame (C order);
  it comes back as a read-only view of the stored bytes (no copy, no parse);
* ``"pickle"`` -- anything else as a cloudpickle protocol-5 stream plus its
  out-of-band buffers, so arrays inside dicts, lists or dataclasses also come
  back as zero-copy views.

The layers below never look inside: :mod:`~pylearn_lab.cache.serialize` lays
frames out in a blob (header, alignment, the payload MAC), and the stores
(:mod:`~pylearn_lab.cache.disk`, :class:`~pylearn_lab.cache.store.MemoryStore`,
the indexes) keep blobs and rows -- none of them imports this module. A new
format is one more codec here, nothing else.

Examples
--------
>>> import numpy as np
>>> head, frames = to_frames(np.arange(3.0))
>>> head["kind"], [f.nbytes for f in frames]
('ndarray', [24])
>>> from_frames(head, frames)
array([0., 1., 2.])
>>> head, frames = to_frames({"a": 1})
>>> head["kind"], from_frames(head, frames)
('pickle', {'a': 1})
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any, Protocol

import cloudpickle
import numpy as np

from ..errors import IntegrityError, UnpicklableError

__all__ = ["CODECS", "DECODE_FIELDS", "Codec", "from_frames", "to_frames"]

#: Header fields a codec reads back (the payload MAC covers them with the frames:
#: an altered header over intact frames must fail, not decode differently).
DECODE_FIELDS = ("kind", "dtype", "shape", "frames")


class Codec(Protocol):
    """Value <-> frames for one ``kind``."""

    kind: str

    def accepts(self, value: Any) -> bool:
        """True when this codec encodes ``value``."""

    def encode(self, value: Any) -> tuple[dict[str, Any], list[memoryview]]:
        """``(header fields, frames)``; the fields include ``"kind"``."""

    def decode(self, head: dict[str, Any], frames: Sequence[memoryview]) -> Any:
        """The value of ``frames`` (views on the stored bytes: no copy)."""


class RawArrayCodec:
    """A plain-dtype numpy array as its raw bytes."""

    kind = "ndarray"

    def accepts(self, value: Any) -> bool:
        return (type(value) is np.ndarray and not value.dtype.hasobject
                and value.dtype.fields is None)

    def encode(self, value: Any) -> tuple[dict[str, Any], list[memoryview]]:
        arr = value if value.flags.c_contiguous else np.ascontiguousarray(value)
        head = {"kind": self.kind, "dtype": arr.dtype.str, "shape": list(arr.shape)}
        return head, [arr.reshape(-1).view(np.uint8).data if arr.size else memoryview(b"")]

    def decode(self, head: dict[str, Any], frames: Sequence[memoryview]) -> Any:
        dtype = np.dtype(head["dtype"])
        arr = np.frombuffer(frames[0], dtype=dtype) if frames[0].nbytes else np.empty(0, dtype)
        return arr.reshape(head["shape"])


_ATOMS = frozenset({int, float, str, bytes, bool, type(None), complex})


class PickleCodec:
    """Anything picklable: cloudpickle protocol 5, buffers out of band."""

    kind = "pickle"

    def accepts(self, value: Any) -> bool:
        return True

    def encode(self, value: Any) -> tuple[dict[str, Any], list[memoryview]]:
        if type(value) in _ATOMS:
            # the standard pickler writes these exactly as cloudpickle does (it never
            # consults a reducer for them) without building a CloudPickler per value
            return {"kind": self.kind}, [memoryview(pickle.dumps(value, protocol=5))]
        buffers: list[pickle.PickleBuffer] = []
        try:
            data = cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append)
        except Exception as exc:
            raise UnpicklableError("the result", value, exc) from exc
        frames = [memoryview(data)]
        for buf in buffers:
            raw = buf.raw()  # contiguous by construction of protocol 5
            frames.append(raw.cast("B") if raw.format != "B" else raw)
        return {"kind": self.kind}, frames

    def decode(self, head: dict[str, Any], frames: Sequence[memoryview]) -> Any:
        return pickle.loads(frames[0], buffers=frames[1:])


#: Codecs by kind, in the order :func:`to_frames` tries them (the last takes anything).
CODECS: dict[str, Codec] = {c.kind: c for c in (RawArrayCodec(), PickleCodec())}


def to_frames(value: Any) -> tuple[dict[str, Any], list[memoryview]]:
    """Encode ``value`` with the first codec that accepts it.

    Raises
    ------
    UnpicklableError
        When no codec can encode it (it cannot be pickled).
    """
    for codec in CODECS.values():
        if codec.accepts(value):
            return codec.encode(value)
    raise UnpicklableError("the result", value, TypeError("no codec accepts it"))  # pragma: no cover


def from_frames(head: dict[str, Any], frames: Sequence[memoryview]) -> Any:
    """Decode frames written by :func:`to_frames` (``head["kind"]`` names the codec).

    Raises
    ------
    IntegrityError
        When the kind is not one of :data:`CODECS` (the entry is recomputed).
    """
    codec = CODECS.get(head.get("kind"))  # type: ignore[arg-type]
    if codec is None:
        raise IntegrityError(f"stored value of unknown kind {head.get('kind')!r}: the entry "
                             "will be recomputed")
    return codec.decode(head, frames)

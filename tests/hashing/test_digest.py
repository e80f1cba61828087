"""Keys come from BLAKE3 over type-tagged content (issue 11: crafted collisions)."""

from __future__ import annotations

import struct

import blake3
import numpy as np

from pylearn_lab.hashing import digest_bytes, hash_value, new_digest
from pylearn_lab.hashing.digest import DIGEST_HEX_LEN, DIGEST_NAME


def _q(n: int) -> bytes:
    return struct.pack("<q", n)


def test_digest_is_blake3_truncated_to_128_bits() -> None:
    data = bytes(range(256)) * 4097  # > 1 MiB: the multi-threaded path
    assert digest_bytes(data) == blake3.blake3(data).hexdigest(16)
    d = new_digest()
    d.update(data[:1000])
    d.update(data[1000:])
    assert d.hexdigest() == blake3.blake3(data).hexdigest(16)
    assert len(d.hexdigest()) == DIGEST_HEX_LEN == 32
    assert DIGEST_NAME == "blake3-128"


def test_array_key_is_blake3_over_tagged_dtype_shape_and_buffer() -> None:
    # Recomputed independently of pylearn_lab: tag, dtype, ndim, shape, raw bytes.
    a = np.random.default_rng(1).random((64, 33))
    dt = a.dtype.str.encode()
    expected = blake3.blake3(
        b"A" + _q(len(dt)) + dt + _q(2) + _q(64) + _q(33) + a.tobytes()).hexdigest(16)
    assert hash_value(a) == expected


def test_same_bytes_other_type_or_shape_never_share_a_key() -> None:
    raw = np.arange(16, dtype=np.float64)
    views = [raw, raw.view(np.int64), raw.view(np.uint8), raw.reshape(4, 4), raw.reshape(2, 8),
             raw.tobytes(), bytearray(raw.tobytes())]
    keys = {hash_value(v) for v in views}
    assert len(keys) == len(views)


def test_xxh3_style_lane_swap_pair_differs() -> None:
    # xxh3's long-input accumulator adds each 8-byte lane both to its own accumulator
    # (multiplied with the secret) and unmixed to the neighbouring one; the published
    # collisions exploit that structure. Pairs built in that spirit (swapped lanes,
    # lanes with compensating differences) must never collide under the key hash.
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2**63, size=4096, dtype=np.uint64)
    pairs = []
    b = a.copy(); b[[0, 1]] = b[[1, 0]]; pairs.append(b)
    c = a.copy(); c[0] += np.uint64(1); c[2] -= np.uint64(1); pairs.append(c)
    d = a.copy(); d[::8], d[1::8] = a[1::8], a[::8]; pairs.append(d)
    base = hash_value(a.view(np.float64))
    for other in pairs:
        assert hash_value(other.view(np.float64)) != base


def test_a_forked_child_hashes_large_buffers_without_hanging():
    import multiprocessing as mp

    big = np.zeros(32 * 2**20, dtype=np.uint8)
    expected = digest_bytes(big)  # the parent's thread pool is now in use
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child_hash, args=(q,))
    proc.start()
    proc.join(60)
    alive = proc.is_alive()
    if alive:
        proc.kill()
        proc.join()
    assert not alive, "a forked child hung in a multi-threaded blake3 update"
    assert q.get(timeout=5) == expected


def _child_hash(q) -> None:
    q.put(digest_bytes(np.zeros(32 * 2**20, dtype=np.uint8)))

"""JSON encoders built once: the bytes of ``json.dumps``, without its per-call setup.

Indexing a small result encodes half a dozen small JSON texts (record columns,
the blob header, the fields the row MAC covers). ``json.dumps`` and
``JSONEncoder.encode`` build a new C encoder object for every call, which costs
more than encoding a small dict does. :func:`encoder` builds that C object once
and calls it directly. The text is exactly what ``json.dumps`` with the same
options returns -- the row MAC of every stored entry depends on it -- and an
import-time self-check falls back to the standard encoder wherever the C
accelerator is missing or behaves otherwise.

The one difference is the circular-reference check: it is off, so a
self-containing value raises ``RecursionError`` inside the C encoder, which
is caught and answered by the standard encoder (raising its usual
``ValueError: Circular reference detected``).

Examples
--------
>>> import json
>>> enc = encoder(separators=(",", ":"), sort_keys=True)
>>> enc({"b": [1, 2.5, None], "a": "é"}) == json.dumps({"b": [1, 2.5, None], "a": "é"},
...                                                  separators=(",", ":"), sort_keys=True)
True
>>> encoder()(["x", 1])
'["x", 1]'
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

# the C accelerator of the json module (None on builds without it)
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_ascii = json.encoder.encode_basestring_ascii

__all__ = ["encoder"]

_SAMPLES: list[Any] = [
    {"b": [1, 2.5, None, True, False], "a": "é\u2028\"\\", "c": {"x": -0.0, "y": 1e300}},
    ["k" * 32, "pickle", 120, None, 2**62, 1.5e-06, "host", float("inf"), float("nan")],
    "text", 3, 2.0, None, [], {},
]


def encoder(separators: tuple[str, str] = (", ", ": "), sort_keys: bool = False,
            default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """A function returning ``json.dumps(obj, separators=..., sort_keys=..., default=...)``.

    Only the options above are offered (ASCII output, NaN allowed, no indent: the
    defaults of ``json.dumps``), so the text is the standard one byte for byte.
    """
    standard = json.JSONEncoder(separators=separators, sort_keys=sort_keys, default=default)
    slow = standard.encode
    if _c_make_encoder is None:  # pragma: no cover
        return slow
    item_sep, key_sep = separators
    try:
        c = _c_make_encoder(None, standard.default, _ascii, None, key_sep, item_sep,
                            sort_keys, False, True)
    except TypeError:  # pragma: no cover  (another signature: use the standard encoder)
        return slow

    def fast(obj: Any) -> str:
        try:
            return "".join(c(obj, 0))
        except RecursionError:  # a value containing itself: the standard error says so
            return slow(obj)

    try:
        if all(fast(s) == slow(s) for s in _SAMPLES):
            return fast
    except Exception:  # pragma: no cover
        pass
    return slow  # pragma: no cover

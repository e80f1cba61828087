"""Canonical hashing: values by content, functions by identity, one digest function.

Examples
--------
>>> from pylearn_lab.hashing import hash_value
>>> hash_value([1, 2.0, "x"]) == hash_value([1, 2.0, "x"])
True
"""

from .digest import DIGEST_HEX_LEN, digest_bytes, new_digest
from .functions import FunctionIdentity, function_identity, qualified_name
from .untracked import untracked
from .values import feed_value, hash_value, register_hash

__all__ = [
    "DIGEST_HEX_LEN",
    "FunctionIdentity",
    "digest_bytes",
    "feed_value",
    "function_identity",
    "hash_value",
    "untracked",
    "new_digest",
    "qualified_name",
    "register_hash",
]

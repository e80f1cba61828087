"""The result cache: a Store protocol, the on-disk store, and the Cache facade.

Examples
--------
>>> from pylearn_lab.cache import Cache
>>> c = Cache(":memory:")
>>> c.save("a" * 32, [1, 2, 3])
True
>>> c.load("a" * 32)
[1, 2, 3]
"""

from .cache import (
    Cache,
    CacheInfo,
    CacheWarning,
    default_cache_path,
    format_size,
    get_default_cache,
    parse_size,
    resolve_cache,
    set_default_cache,
)
from .disk import DiskStore
from .records import Record
from .store import MemoryStore, Store, StoredEntry, VerifyReport, open_store, register_store

__all__ = [
    "Cache",
    "CacheInfo",
    "CacheWarning",
    "DiskStore",
    "MemoryStore",
    "Record",
    "Store",
    "StoredEntry",
    "VerifyReport",
    "default_cache_path",
    "format_size",
    "get_default_cache",
    "open_store",
    "register_store",
    "parse_size",
    "resolve_cache",
    "set_default_cache",
]

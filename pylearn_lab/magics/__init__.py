"""``%pylearn`` and ``%%pylearn``: the notebook front door (text in, API calls out).

``%load_ext pylearn_lab`` calls :func:`load_ipython_extension`, which
registers :class:`~.core.PylearnMagics` and an exit hook that stops any
cluster the magics started; ``%unload_ext pylearn_lab`` stops it at once.
``%pylearn?`` lists every subcommand.

Examples
--------
>>> import pylearn_lab.magics as m
>>> callable(m.load_ipython_extension) and callable(m.unload_ipython_extension)
True
"""

from __future__ import annotations

import atexit
import functools
from typing import Any

from .cluster import shutdown
from .core import PylearnMagics

__all__ = ["PylearnMagics", "load_ipython_extension", "unload_ipython_extension"]

# shell id -> (its magics, its exit hook): unloading must undo exactly this shell's loading.
_LOADED: dict[int, tuple[PylearnMagics, Any]] = {}


def load_ipython_extension(ip: Any) -> None:
    """Register the magics on ``ip`` and make sure no cluster outlives the session."""
    if id(ip) in _LOADED:
        return
    magics = PylearnMagics(ip)
    ip.register_magics(magics)
    # A kernel that shuts down exits the interpreter normally: atexit runs there.
    hook = functools.partial(shutdown, magics.session)
    atexit.register(hook)
    _LOADED[id(ip)] = (magics, hook)


def unload_ipython_extension(ip: Any) -> None:
    """Stop what the magics started and remove ``%pylearn``."""
    loaded = _LOADED.pop(id(ip), None)
    if loaded is None:
        return
    magics, hook = loaded
    shutdown(magics.session)
    atexit.unregister(hook)
    table = ip.magics_manager.magics
    for kind in ("line", "cell"):
        table[kind].pop("pylearn", None)
    ip.magics_manager.registry.pop(type(magics).__name__, None)

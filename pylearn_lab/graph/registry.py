"""The registry of components: what the builder's palette and JSON specs look up.

Components register themselves when decorated. A component defined again
(a notebook cell re-run) replaces the older one of the same qualified name.
Observers (the builder's palette) are told about every change.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component(category="demo")
... def triple_it(x: int) -> int:
...     return 3 * x
>>> lookup("triple_it") is triple_it
True
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import UnknownComponentError

if TYPE_CHECKING:
    from .component import Component

__all__ = ["register", "lookup", "all_components", "subscribe", "unsubscribe"]

_LOCK = threading.Lock()
_BY_QUALNAME: dict[str, "Component"] = {}
_OBSERVERS: list[Callable[[], None]] = []


def register(comp: "Component") -> None:
    """Add (or replace) ``comp`` under its qualified name and tell observers."""
    with _LOCK:
        _BY_QUALNAME[comp.qualname] = comp
        observers = list(_OBSERVERS)
    for cb in observers:
        cb()


def lookup(name: str) -> "Component":
    """Find a component by qualified name (``"mod.f"``) or, if unambiguous, short name.

    Raises
    ------
    UnknownComponentError
        When nothing (or more than one thing) matches; the message lists close names.
    """
    with _LOCK:
        comps = dict(_BY_QUALNAME)
    if name in comps:
        return comps[name]
    short = [c for c in comps.values() if c.name == name]
    if len(short) == 1:
        return short[0]
    if len(short) > 1:
        raise UnknownComponentError(
            f"component name {name!r} is ambiguous: it matches "
            f"{sorted(c.qualname for c in short)}. Use the qualified name."
        )
    names = sorted({c.name for c in comps.values()} | set(comps))
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownComponentError(
        f"no component named {name!r} is registered.{hint} Expected one of the "
        f"{len(comps)} registered components (pylearn_lab.all_components()); define it with "
        "@pylearn_lab.component or import the module that defines it."
    )


def all_components() -> list["Component"]:
    """Every registered component, sorted by category then name."""
    with _LOCK:
        comps = list(_BY_QUALNAME.values())
    return sorted(comps, key=lambda c: (c.category, c.name, c.qualname))


def subscribe(callback: Callable[[], None]) -> None:
    """Call ``callback()`` after every registration."""
    with _LOCK:
        _OBSERVERS.append(callback)


def unsubscribe(callback: Callable[[], None]) -> None:
    """Stop calling ``callback``."""
    with _LOCK:
        if callback in _OBSERVERS:
            _OBSERVERS.remove(callback)

"""Plain-data graph nodes: :class:`Call` records and :class:`Ref` edges.

A graph is a mapping ``key -> Call``; a Call's arguments are literals or
:class:`Ref` objects naming another node's key. A plain string is always a
literal, never an edge, so user data can never be mistaken for a reference.

Examples
--------
>>> r = Ref("ab" * 16)
>>> r
Ref('abababab…')
>>> list(iter_refs([1, {"x": r}, (r,)])) == [r, r]
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Ref", "Call", "iter_refs", "map_refs", "new_call"]


@dataclass(frozen=True, slots=True)
class Ref:
    """An edge: "the output of the node whose key is ``key``"."""

    key: str

    def __repr__(self) -> str:
        return f"Ref({self.key[:8]!r}…)".replace("'…", "…'")

    def __pylearn_hash__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class Call:
    """Immutable record ``output = func(*args, **kwargs)``.

    Attributes
    ----------
    func : callable
        The function (or component) to call.
    args : tuple
        Positional arguments: literals or :class:`Ref`.
    kwargs : dict
        Keyword arguments: literals or :class:`Ref`.
    key : str
        The node key (see :mod:`pylearn_lab.graph.expr`).
    label : str
        Short readable name of the function, e.g. ``"pca"``.
    cache : bool
        Whether the result may be stored in the cache.
    """

    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    key: str
    label: str
    cache: bool = True
    inputs: tuple[str, ...] = field(default=())

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Call) and other.key == self.key


_NEW = object.__new__
_SET = tuple(Call.__dict__[f].__set__ for f in
             ("func", "args", "kwargs", "key", "label", "cache", "inputs"))


def new_call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], key: str,
             label: str, cache: bool, inputs: tuple[str, ...]) -> Call:
    """``Call(func, args, kwargs, key, label, cache, inputs)``, built in half the time.

    A frozen dataclass sets each field through ``object.__setattr__`` (a lookup and
    a call per field); the slot descriptors write them directly. Every node pays
    it, so keying a call uses this. Same object, same equality, same pickle.

    Examples
    --------
    >>> new_call(abs, (-2,), {}, "k" * 32, "abs", True, ()) == Call(abs, (-2,), {}, "k" * 32, "abs")
    True
    """
    c = _NEW(Call)
    s_func, s_args, s_kwargs, s_key, s_label, s_cache, s_inputs = _SET
    s_func(c, func)
    s_args(c, args)
    s_kwargs(c, kwargs)
    s_key(c, key)
    s_label(c, label)
    s_cache(c, cache)
    s_inputs(c, inputs)
    return c


def iter_refs(obj: Any) -> Iterator[Ref]:
    """Yield every :class:`Ref` inside ``obj`` (through lists, tuples, dicts)."""
    if isinstance(obj, Ref):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from iter_refs(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from iter_refs(item)


def map_refs(obj: Any, fn: Callable[[Ref], Any]) -> Any:
    """Return ``obj`` with every :class:`Ref` replaced by ``fn(ref)``."""
    if isinstance(obj, Ref):
        return fn(obj)
    if type(obj) is list:  # a list subclass is a literal, passed as itself
        return [map_refs(x, fn) for x in obj]
    if isinstance(obj, tuple) and type(obj) is tuple:
        return tuple(map_refs(x, fn) for x in obj)
    if isinstance(obj, dict) and type(obj) is dict:
        return {k: map_refs(v, fn) for k, v in obj.items()}
    return obj

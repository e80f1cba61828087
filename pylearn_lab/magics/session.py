"""State the magics keep for one IPython session, and namespace look-ups.

The magics hold almost no state of their own: the session's backend and cache
live in :mod:`pylearn_lab.backends.registry` and :mod:`pylearn_lab.cache`,
exactly where code would put them. What is kept here is what only the magics
know: which cluster *they* started (so that it is stopped at ``cluster stop``,
``%unload_ext`` and interpreter exit) and the counts of ``%%pylearn`` cells.

Examples
--------
>>> ns = {"cfg": {"a": 1}}
>>> lookup(ns, "cfg")
{'a': 1}
>>> lookup(ns, "cfg.items") is not None
True
>>> lookup(ns, "nope")
Traceback (most recent call last):
...
pylearn_lab.magics.session.MagicUsageError: name 'nope' is not defined in the namespace: define it first, or check the spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import inspect
import types

from IPython.core.error import UsageError

from ..errors import PylearnError

__all__ = ["DOTTED", "MagicSession", "MagicUsageError", "lookup", "split_names", "substitute"]


class MagicUsageError(UsageError, PylearnError):
    """A ``%pylearn`` line that cannot be used: IPython shows it as one line (a
    :class:`UsageError`), and it is part of the pylearn_lab error tree."""


DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
"""A name or attribute path: the only expressions the magics look up (never eval)."""

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}|\$([A-Za-z_]\w*)")


@dataclass
class MagicSession:
    """What the magics started and counted in this session.

    Attributes
    ----------
    cluster : object or None
        The backend started or connected by ``%pylearn cluster`` (None when none).
    owns_cluster : bool
        True when the magics started it (then they stop it; a connected cluster
        is only disconnected).
    cell_hits, cell_misses : int
        ``%%pylearn`` cells served from the cache / computed.
    cell_time_saved : float
        Seconds of cell execution the hits saved.
    """

    cluster: Any = None
    owns_cluster: bool = False
    cell_hits: int = 0
    cell_misses: int = 0
    cell_time_saved: float = 0.0


def lookup(ns: dict[str, Any], text: str) -> Any:
    """The object a dotted name refers to in ``ns`` (attribute access only, never eval).

    Raises
    ------
    UsageError
        When ``text`` is not a dotted name, or a part of it does not exist.
    """
    text = text.strip()
    if not DOTTED.match(text):
        raise MagicUsageError(
            f"expected a variable name or attribute path such as 'model' or 'exp.model', "
            f"received {text!r}: assign the expression to a variable first."
        )
    head, *rest = text.split(".")
    if head not in ns:
        raise MagicUsageError(
            f"name {head!r} is not defined in the namespace: define it first, or check the spelling."
        )
    obj = ns[head]
    path = head
    for attr in rest:
        obj = _static_attr(obj, attr, path)
        path += "." + attr
    return obj


# descriptors whose __get__ is the interpreter's own (binding a method runs no user code)
_SAFE_DESCRIPTORS = (types.FunctionType, classmethod, staticmethod, types.MethodDescriptorType,
                     types.ClassMethodDescriptorType, types.WrapperDescriptorType,
                     types.MemberDescriptorType)


def _static_attr(obj: Any, attr: str, path: str) -> Any:
    """``getattr(obj, attr)`` without running code: no property, no ``__getattr__``."""
    try:
        found = inspect.getattr_static(obj, attr)
    except AttributeError:
        raise MagicUsageError(
            f"{path!r} (a {type(obj).__name__}) has no attribute {attr!r}."
        ) from None
    if not hasattr(type(found), "__get__"):
        return found  # a plain value
    own = vars(obj) if hasattr(obj, "__dict__") and not isinstance(obj, type) else {}
    if isinstance(obj, types.ModuleType) or attr in own:
        return found  # module and instance attributes are never descriptors to getattr
    if isinstance(found, _SAFE_DESCRIPTORS):
        # binding a function or method: the interpreter's own __get__, no user code
        return found.__get__(None if isinstance(obj, type) else obj,
                             obj if isinstance(obj, type) else type(obj))
    raise MagicUsageError(
        f"{path}.{attr} is computed by code (a {type(found).__name__}): the magics "
        "never run code to look a name up. Assign it to a variable first, e.g. "
        f"x = {path}.{attr}, then pass x."
    )


def split_names(text: str, what: str = "names", command: str = "") -> list[str]:
    """``"a, b"`` -> ``["a", "b"]``; each must be a dotted name.

    ``command`` (e.g. ``"%pylearn run"``) completes the example in the error
    raised for an expression typed in place of a name.

    Examples
    --------
    >>> split_names("a,b.c")
    ['a', 'b.c']
    """
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise MagicUsageError(f"expected {what} separated by commas, received {text!r}.")
    for n in names:
        if not DOTTED.match(n):
            # an expression typed in place of a name: the magic never evaluates text
            where = "" if n == text.strip() else f" in {text.strip()!r}"
            raise MagicUsageError(
                f"expected {what} separated by commas (variable names or attribute paths), "
                f"received {n!r}{where}: assign the expression to a variable first, "
                f"e.g. e = {text.strip()}, then {command or 'pass'} e."
            )
    return names


def substitute(ns: dict[str, Any], text: str) -> str:
    """Replace ``{name}``, ``{a.b}`` and ``$name`` in a path argument by the variable's value.

    The magics turn IPython's own variable expansion off (it evaluates any
    expression in braces); paths may still name a variable this way, and
    nothing else is evaluated.

    Examples
    --------
    >>> substitute({"d": "/tmp/x"}, "{d}/cache")
    '/tmp/x/cache'
    >>> substitute({"d": "/tmp/x"}, "$d")
    '/tmp/x'
    >>> substitute({}, "{len('a')}")
    Traceback (most recent call last):
    ...
    pylearn_lab.magics.session.MagicUsageError: only {name} or {name.attr} can be substituted here (nothing is evaluated), received {len('a')}.
    """

    def value(m: re.Match[str]) -> str:
        name = m.group(1) if m.group(1) is not None else m.group(2)
        if not DOTTED.match(name.strip()):
            raise MagicUsageError(
                f"only {{name}} or {{name.attr}} can be substituted here (nothing is evaluated), "
                f"received {m.group(0)}."
            )
        return str(lookup(ns, name))

    return _PLACEHOLDER.sub(value, text)

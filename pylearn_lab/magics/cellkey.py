"""The key of a ``%%pylearn`` cell: its code and the values it reads.

``key = H("%%pylearn", normalised source, outputs, (name, hash of value) for
every input)``, with the project's one digest (:func:`~pylearn_lab.hashing.hash_value`):

* the normalised source ignores comments and formatting (see :mod:`.analysis`);
* inputs are the names the cell reads from the namespace before assigning
  them, plus those its own functions read from the module scope; builtins and
  IPython's own variables do not count;
* a function among the inputs counts by its identity (its source, and
  transitively the helpers and constants it uses), so editing a function the
  cell calls changes the key;
* a module counts by its package version (installed code) or its file's
  content (a module of the user's project).

Examples
--------
>>> a = plan_cell("y = x + 1  # one", {"x": 1})
>>> a.inputs, a.outputs
({'x': 1}, ('y',))
>>> plan_cell("y = x + 1  # two", {"x": 1}).key == a.key
True
>>> plan_cell("y = x + 1", {"x": 2}).key == a.key
False
"""

from __future__ import annotations

import builtins
import functools
import importlib.metadata
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError

from ..errors import UnhashableError
from ..graph.expr import Expr
from ..hashing import digest_bytes, hash_value
from ..hashing.functions import is_library_module
from .analysis import CellNames, analyse, normalise

__all__ = ["CellPlan", "input_digest", "plan_cell"]

_KEY_VERSION = 1  # bump when the key recipe changes: old entries then simply miss
_MISSING = object()


@dataclass
class CellPlan:
    """A cell, analysed and keyed (see the module docstring).

    Attributes
    ----------
    source : str
        The cell as plain Python.
    names : CellNames
        What it reads and assigns.
    inputs : dict
        ``name -> value`` of the namespace values it reads.
    outputs : tuple of str
        Names to store and restore (``-o``, or everything it assigns).
    input_hashes : dict
        ``name -> digest`` of each input (empty with ``hashed=False``).
    source_digest : str
        Digest of the normalised source.
    key : str
        The cache key ("" when not hashed).
    """

    source: str
    names: CellNames
    inputs: dict[str, Any]
    outputs: tuple[str, ...]
    input_hashes: dict[str, str] = field(default_factory=dict)
    source_digest: str = ""
    key: str = ""


def plan_cell(source: str, ns: dict[str, Any], hidden: dict[str, Any] | None = None,
              outputs: Sequence[str] | None = None, hashed: bool = True) -> CellPlan:
    """Analyse ``source`` against the namespace ``ns`` and compute its key.

    Parameters
    ----------
    source : str
        Plain Python (IPython syntax already transformed).
    ns : dict
        The user namespace.
    hidden : dict, optional
        IPython's own variables (``shell.user_ns_hidden``): ignored as inputs
        unless the user rebound them.
    outputs : sequence of str, optional
        The names to store (default: every name the cell assigns).
    hashed : bool
        False skips hashing (``--no-cache``): no key, and unhashable inputs are fine.

    Raises
    ------
    UsageError
        Invalid syntax, a name read that does not exist, or an unhashable input
        (one line naming the variable).
    """
    try:
        names = analyse(source)
        normalised = normalise(source)
    except SyntaxError as exc:
        raise UsageError(f"the cell is not valid Python: {exc.msg} (line {exc.lineno}).") from None
    hidden = hidden or {}
    inputs: dict[str, Any] = {}
    for name in names.reads:
        value = ns.get(name, _MISSING)
        if value is _MISSING or hidden.get(name, _MISSING) is value:
            if hasattr(builtins, name) or value is not _MISSING:
                continue
            raise UsageError(
                f"the cell reads {name!r}, which is not defined: run the cell that defines it "
                f"first, or assign it in this cell before reading it."
            )
        inputs[name] = value
    for name in names.free:
        value = ns.get(name, _MISSING)
        if value is not _MISSING and hidden.get(name, _MISSING) is not value:
            inputs[name] = value
    plan = CellPlan(source, names, inputs, tuple(outputs) if outputs else names.assigns)
    if not hashed:
        return plan
    plan.input_hashes = {n: input_digest(n, v) for n, v in sorted(inputs.items())}
    plan.source_digest = digest_bytes(normalised.encode())
    plan.key = hash_value(("%%pylearn", _KEY_VERSION, plan.source_digest, plan.outputs,
                           tuple(plan.input_hashes.items())))
    return plan


def input_digest(name: str, value: Any) -> str:
    """The digest of one input variable; modules by version or file content.

    Examples
    --------
    >>> import math
    >>> input_digest("math", math) == input_digest("m", math)
    True
    >>> import threading
    >>> input_digest("lock", threading.Lock())
    Traceback (most recent call last):
    ...
    IPython.core.error.UsageError: cannot use variable 'lock' (type _thread.lock) as an input of a cached cell: it has no canonical hash. Create it inside this cell (and keep it out of the stored outputs with -o), register a hash with pylearn_lab.register_hash(type, fn), or run the cell with --no-cache.
    """
    if isinstance(value, types.ModuleType):
        return hash_value(("module", value.__name__, _module_version(value)))
    if isinstance(value, Expr):  # an expression counts by its node key (what it would compute)
        return hash_value(("expr", value.key))
    try:
        return hash_value(value, name=f"variable {name!r}")
    except UnhashableError as exc:
        where = "" if exc.path == f"variable {name!r}" else f" ({exc.path} is a " \
            f"{exc.value_type.__module__}.{exc.value_type.__qualname__})"
        tname = f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")
        raise UsageError(
            f"cannot use variable {name!r} (type {tname}) as an input of a cached cell: it has no "
            f"canonical hash{where}. Create it inside this cell (and keep it out of the stored "
            "outputs with -o), register a hash with pylearn_lab.register_hash(type, fn), or run "
            "the cell with --no-cache."
        ) from None


def _module_version(module: types.ModuleType) -> str:
    name = module.__name__
    path = getattr(module, "__file__", None)
    if is_library_module(name) or not path:
        return _library_version(name.split(".")[0], str(getattr(module, "__version__", "")))
    try:  # the user's own module: its code is its version
        with open(path, "rb") as f:
            return "file:" + digest_bytes(f.read())
    except OSError:
        return "unreadable:" + path


@functools.cache
def _library_version(top: str, fallback: str) -> str:
    # Installed code only changes with its distribution's version (cached: scanning is slow).
    try:
        dist = importlib.metadata.packages_distributions().get(top, [top])[0]
        return f"{dist}=={importlib.metadata.version(dist)}"
    except (importlib.metadata.PackageNotFoundError, IndexError):
        return fallback or "builtin"

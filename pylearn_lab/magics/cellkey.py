"""A ``%%pylearn`` cell as a node of the graph: its component, its inputs, its key.

The cell becomes one call of a component whose function is the cell's code
(:class:`~.execute.CellCode`) and whose identity is the normalised source and
the names it brings back; the values it reads are the call's keyword
arguments. The node is then keyed, recorded, scheduled and cached by
:func:`pylearn_lab.run` like any other::

    key = H("node", identity("%%pylearn", normalised source, outputs),
            (name, hash of value) for every input)

The identity is :class:`CellComponent`'s own (its parts ``source`` and
``outputs`` are what ``pl.why`` compares), never the state of the CellCode
object, which holds the shell it runs in.

with the project's one hashing (:func:`~pylearn_lab.hashing.hash_value`):

* the normalised source ignores comments and formatting (see :mod:`.analysis`);
* inputs are the names the cell reads from the namespace before assigning
  them, plus those its own functions read from the module scope; builtins and
  IPython's own variables do not count;
* a function among the inputs counts by its identity (its source, and
  transitively the helpers and constants it uses), so editing a function the
  cell calls changes the key;
* a module counts by its package version (library code, as decided by
  :func:`~pylearn_lab.hashing.library.is_library_module`) or its file's content
  (a module of the user's project);
* an expression counts by its node key: the cell receives the lazy Expr.

Where the cell runs (here or on a backend) is not part of the key.

Examples
--------
>>> a = plan_cell("y = x + 1  # one", {"x": 1})
>>> a.inputs, a.outputs
({'x': 1}, ('y',))
>>> plan_cell("y = x + 1  # two", {"x": 1}).key == a.key
True
>>> plan_cell("y = x + 1", {"x": 2}).key == a.key
False
>>> a.expr.compute(cache=False).outputs
{'y': 2}
"""

from __future__ import annotations

import builtins
import os
import re
import types
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

from ..errors import UnhashableError
from ..graph.component import Component
from ..graph.expr import Expr
from ..hashing import digest_bytes, hash_value
from ..hashing.functions import FunctionIdentity
from ..hashing.library import is_library_module
from ..hashing.versions import package_version
from .analysis import CellNames, analyse, dynamic_uses, normalise
from .execute import CellCode, Held, function_state
from .session import MagicUsageError

__all__ = ["CELL_FUNC", "CellComponent", "CellPlan", "UnhashableCellInput", "plan_cell"]

CELL_FUNC = "%%pylearn"  # the ``func`` of every cell's record: ``%pylearn cache ls %%pylearn``
_KEY_VERSION = 2  # bump when the key recipe changes: old entries then simply miss
_MISSING = object()
_HISTORY = re.compile(r"^(?:_+\d*|_i+\d*|In|Out|_ih|_oh|_dh)$")
_SCALARS = (int, float, complex, str, bytes, bool, type(None))
# module name -> (its __spec__, file digest when first seen with it): see _as_loaded
_LOADED: dict[str, tuple[Any, str]] = {}
_ARG = re.compile(r"^(?:argument '(\w+)' of [^()]*\(\)|variable '(\w+)')")


class UnhashableCellInput(MagicUsageError, UnhashableError):
    """A cached cell reads a variable with no canonical hash.

    One line in the notebook (a ``UsageError``) naming the variable and the
    ways out; ``except UnhashableError`` catches it too, as it does for any
    argument with no hash.
    """

    def __init__(self, message: str, path: str, value_type: type) -> None:
        Exception.__init__(self, message)
        self.path, self.value_type = path, value_type


@dataclass
class CellPlan:
    """A cell, analysed and made a node (see the module docstring).

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
    code : CellCode
        The node's function.
    expr : Expr
        The node.
    key : str
        Its key ("" when not hashed: ``--no-cache``, never stored).
    """

    source: str
    names: CellNames
    inputs: dict[str, Any]
    outputs: tuple[str, ...]
    code: CellCode
    expr: Expr
    key: str


def plan_cell(source: str, ns: dict[str, Any], hidden: dict[str, Any] | None = None,
              outputs: Sequence[str] | None = None, hashed: bool = True, *,
              shell: Any = None, label: str = "cell", raw: str = "") -> CellPlan:
    """Analyse ``source`` against the namespace ``ns`` and build its node.

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
        The names to store (default: every name the cell assigns); given,
        each must be assigned.
    hashed : bool
        False (``--no-cache``) hashes nothing: unhashable inputs are fine, the
        node is never stored and its key is a fresh token.
    shell : InteractiveShell, optional
        Run the cell in this shell's namespace (None: as a function of its inputs).
    label : str
        The cell's name in records and results (``--name``).
    raw : str
        The cell as typed.

    Raises
    ------
    UsageError
        Invalid syntax, a name read that does not exist, an unhashable input
        (:class:`UnhashableCellInput`, one line naming the variable), or --
        when ``hashed`` -- code that reads names the analysis cannot see
        (``import *``, ``exec``/``eval``, ``globals()``, ``__main__``, magics
        and shell commands).
    """
    try:
        names = analyse(source)
        normalised = normalise(source)
        uses = dynamic_uses(source)
    except SyntaxError as exc:
        raise UsageError(f"the cell is not valid Python: {exc.msg} (line {exc.lineno}).") from None
    if hashed:
        _refuse_dynamic(uses, ns, hidden or {})
    # names a star import brings are unknown before it runs (only --no-cache gets here)
    star = any(u.endswith("import *") for u in uses)
    inputs = _inputs(names, ns, hidden or {}, star)
    outs = tuple(outputs) if outputs else names.assigns
    code = CellCode(source, tuple(sorted(inputs)), outs, explicit=bool(outputs), cached=hashed,
                    shell=shell, raw=raw)
    comp = CellComponent(code, digest_bytes(normalised.encode()), label, hashed)
    try:
        expr = comp(**{n: _argument(n, v, hashed) for n, v in sorted(inputs.items())})
    except UnhashableError as exc:
        raise _unhashable(exc, inputs) from None
    return CellPlan(source, names, inputs, outs, code, expr, expr.key if hashed else "")


class CellComponent(Component):
    """The component of one cell: its identity is the cell's code and outputs.

    Its parts -- ``source`` (the normalised code) and ``outputs`` -- are what
    ``pl.why`` compares, so an edit reads "the code of `cell` changed".

    Examples
    --------
    >>> from pylearn_lab.magics.execute import CellCode
    >>> comp = CellComponent(CellCode("y = 1", (), ("y",)), "d" * 32, "cell", True)
    >>> comp.qualname, sorted(comp.identity().parts)
    ('%%pylearn', ['outputs', 'source'])
    """

    def __init__(self, code: CellCode, source_digest: str, label: str, cached: bool) -> None:
        super().__init__(code, name=label, cache=cached, register=False)
        self.qualname = CELL_FUNC  # every cell's records: ``%pylearn cache ls %%pylearn``
        parts = {"source": source_digest,
                 "outputs": hash_value(tuple(code.outputs))}
        digest = hash_value((CELL_FUNC, _KEY_VERSION, tuple(sorted(parts.items()))))
        self._identity = FunctionIdentity(digest, CELL_FUNC, "source", parts)

    def identity(self) -> FunctionIdentity:
        """The cell's identity (never the CellCode object's state)."""
        return self._identity


def _refuse_dynamic(found: list[str], ns: dict[str, Any], hidden: dict[str, Any]) -> None:
    """One line when a cached cell would read names no key can see (a hit could be stale)."""
    uses = []
    for use in found:
        name = use.removesuffix("()")
        value = ns.get(name, _MISSING)
        if use == name or value is _MISSING or value is getattr(builtins, name, None) or \
                hidden.get(name, _MISSING) is value:  # the builtin, or IPython's own hook
            uses.append(use)
    if not uses:
        return
    ways = []
    if any(u.endswith("import *") for u in uses):
        ways.append("import the names it uses by name (from m import a, b)")
    if "import __main__" in uses:
        ways.append("read the notebook's variables by name, not through __main__")
    if "get_ipython()" in uses:
        ways.append("move magics and shell commands (%time, !cmd) to a plain cell")
    if any(u.endswith("()") and u != "get_ipython()" for u in uses):
        ways.append("use the variables themselves instead of exec/eval/globals()")
    shown = ", ".join("%magic or !command" if u == "get_ipython()" else u for u in uses)
    raise MagicUsageError(
        f"a cached cell cannot use {shown}: the names it reads are not visible before it "
        f"runs, so a cache hit could be stale. {'; '.join(ways).capitalize()}, or run the "
        "cell with --no-cache."
    )


def _inputs(names: CellNames, ns: dict[str, Any], hidden: dict[str, Any],
            lenient: bool = False) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    # IPython's output and input history (``_``, ``Out[3]``, ``_i2``) is hidden, yet a
    # cell reading it depends on it: an input like any value (it changes, so it misses)
    hidden = {n: v for n, v in hidden.items() if not _HISTORY.match(n)}
    for name in names.reads:
        value = ns.get(name, _MISSING)
        if value is _MISSING or hidden.get(name, _MISSING) is value:
            if hasattr(builtins, name) or value is not _MISSING or lenient:
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
    return _through_functions(inputs, ns, hidden)


def _through_functions(inputs: dict[str, Any], ns: dict[str, Any],
                       hidden: dict[str, Any]) -> dict[str, Any]:
    """Add the notebook's data its functions read (transitively): inputs by content.

    The functions' identities already key such data by content (docs/keys.md);
    as inputs of the cell it is also checked for changes the cell makes in
    place (through the functions it calls), which are then stored and replayed.
    """
    stack = [f for v in inputs.values() for f in _functions(v, ns)]
    seen: set[int] = set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen or fn.__globals__ is not ns:  # not the notebook's own function
            continue
        seen.add(id(fn))
        for name in _global_names(fn.__code__):
            value = ns.get(name, _MISSING)
            if name in inputs or value is _MISSING or hidden.get(name, _MISSING) is value:
                continue
            if isinstance(value, (types.FunctionType, type)):
                stack.extend(_functions(value, ns))
            elif not (callable(value) or isinstance(value, (types.ModuleType, *_SCALARS))):
                try:
                    hash_value(value)
                except UnhashableError:  # the function's own identity decides about it
                    continue
                inputs[name] = value
    return inputs


def _functions(value: Any, ns: dict[str, Any]) -> list[types.FunctionType]:
    """The function itself, or the methods of a class the notebook defined."""
    if isinstance(value, types.FunctionType):
        return [value]
    if isinstance(value, type) and value.__module__ == ns.get("__name__"):
        members = [m.__func__ if isinstance(m, (staticmethod, classmethod)) else m
                   for m in vars(value).values()]
        return [m for m in members if isinstance(m, types.FunctionType)]
    return []


def _global_names(code: types.CodeType) -> set[str]:
    """Names ``code`` and the code nested in it may look up (attribute names too: harmless)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _argument(name: str, value: Any, hashed: bool) -> Any:
    """The value as the node's argument: itself, or :class:`Held` under a token."""
    if not hashed:
        return Held(value, ("unkeyed", uuid.uuid4().hex))  # --no-cache: never hashed or stored
    if isinstance(value, types.ModuleType):
        return Held(value, ("module", value.__name__, _module_version(value)))
    exprs = _expr_token(value)
    if exprs is not None:  # an Expr is an input by its key, never an edge computed first
        return Held(value, ("expr", exprs))
    if callable(value):  # keyed by its identity as always; recorded by it, not by its address
        what = "class" if isinstance(value, type) else "function"
        qual = getattr(value, "__qualname__", None) or type(value).__qualname__
        shown = f"<{what} {qual} {hash_value(value, name=f'variable {name!r}')[:8]}>"
        return Held(value, _with_attributes(value), shown)
    return value


def _with_attributes(fn: Any) -> Any:
    """A function counts by its data too (attributes, defaults, closure: see
    :func:`~.execute.function_state`): they may change in place, and the function's
    identity (memoised by object) would not see it."""
    if not isinstance(fn, types.FunctionType):
        return fn
    try:
        return (fn, hash_value(function_state(fn)))
    except UnhashableError:  # data with no hash: the identity alone, as before
        return fn


def _expr_token(value: Any, depth: int = 0) -> Any:
    """The value with each Expr replaced by its key, or None when it holds no Expr."""
    if isinstance(value, Expr):
        return value.key
    if depth > 20:
        return None
    items: Any = None
    if type(value) in (list, tuple):
        items = [_expr_token(v, depth + 1) for v in value]
        if any(t is not None for t in items):
            return [(t, None) if t is not None else (None, v) for t, v in zip(items, value)]
    elif type(value) is dict:
        items = {k: _expr_token(v, depth + 1) for k, v in value.items()}
        if any(t is not None for t in items.values()):
            return {k: (t, None) if t is not None else (None, value[k]) for k, t in items.items()}
    return None


def _module_version(module: types.ModuleType) -> str:
    path = getattr(module, "__file__", None)
    if is_library_module(module) or not path:
        return package_version(module.__name__)
    try:  # the user's own module: its code is its version
        with open(path, "rb") as f:
            digest = "file:" + digest_bytes(f.read())
    except OSError:
        return "unreadable:" + path
    return _as_loaded(module, digest)


def _as_loaded(module: types.ModuleType, digest: str) -> str:
    """The file digest of the code ``module`` runs: as first seen since it was (re)loaded.

    A file edited but not reloaded still runs its old code: keying the cell by the
    new file would store the old code's result where the reloaded module hits it.
    ``importlib.reload`` (and ``%autoreload``) give the module a new ``__spec__``,
    which starts a new entry here.
    """
    spec = getattr(module, "__spec__", None)
    seen = _LOADED.get(module.__name__)
    if seen is None or seen[0] is not spec:
        _LOADED[module.__name__] = (spec, digest)
        return digest
    if seen[1] != digest:
        print(f"%%pylearn: {os.path.basename(module.__file__ or '')} changed on disk since "
              f"{module.__name__} was imported; the cell uses the loaded code "
              f"(importlib.reload({module.__name__}) to use the new one).")
    return seen[1]


def _unhashable(exc: UnhashableError, inputs: dict[str, Any]) -> UnhashableCellInput:
    """The one-line error naming the variable (not the node's argument) and the ways out."""
    m = _ARG.match(exc.path)
    name = (m.group(1) or m.group(2)) if m else next(iter(inputs), "?")
    path = f"variable {name!r}" + (exc.path[m.end():] if m else "")
    value = inputs.get(name)
    where = "" if path == f"variable {name!r}" else \
        f" ({path} is a {exc.value_type.__module__}.{exc.value_type.__qualname__})"
    tname = f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")
    return UnhashableCellInput(
        f"cannot use variable {name!r} (type {tname}) as an input of a cached cell: it has no "
        f"canonical hash{where}. Create it inside this cell (and keep it out of the stored "
        "outputs with -o), register a hash with pylearn_lab.register_hash(type, fn), or run "
        "the cell with --no-cache.", path, type(value))

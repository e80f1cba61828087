"""``Expr``: the user's lazy handle on one node of an expression graph.

An Expr is made by calling a component. Building it binds the arguments,
checks them, and computes the node key at once -- so a bad argument fails at
the call that passed it, and the key is known before anything runs::

    key = H("node", function identity, (name, literal hash | input key) per parameter)

Arguments may be other Exprs, also inside lists, tuples and dicts; each
becomes a :class:`~pylearn_lab.graph.nodes.Ref` edge in the node's
:class:`~pylearn_lab.graph.nodes.Call`.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component
... def inc(x: int) -> int:
...     return x + 1
>>> e = inc(inc(1))
>>> e
inc(inc(1))
>>> len(e.graph)
2
>>> e.compute(cache=False)
3
"""

from __future__ import annotations

import inspect
import reprlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SignatureError, UnhashableError
from ..hashing.digest import digest_small, new_digest
from ..hashing.values import (_HANDLERS, PLAIN_BYTES, _tag, feed_argument, feed_value,
                              register_hash)
from .nodes import Call, Ref, map_refs, new_call
from .params import check_literal

if TYPE_CHECKING:
    from .component import Component
    from .graph import Graph

__all__ = ["Expr", "build_expr", "short_repr"]

register_hash(Ref, lambda r: r.key)
_REF_FEEDER = _HANDLERS[Ref]  # the fast path below writes its bytes itself


class Expr:
    """A lazy node: ``component(*args, **kwargs)`` that has not run yet.

    Attributes
    ----------
    key : str
        The node key (32 hex characters), known before running.
    call : Call
        The plain-data node (arguments with :class:`Ref` edges).
    inputs : tuple of Expr
        The direct upstream expressions, in argument order.
    component : Component
        The component that made it.
    """

    # The arguments as the user passed them (for repr and replace) are two slots, not one
    # tuple: every node of a big graph is one garbage-collected container fewer.
    __slots__ = ("call", "inputs", "component", "_args", "_kwargs", "__weakref__")

    def __init__(
        self, call: Call, inputs: tuple["Expr", ...], component: "Component",
        shown: tuple[tuple[Any, ...], dict[str, Any]],
    ) -> None:
        self.call = call
        self.inputs = inputs
        self.component = component
        self._args, self._kwargs = shown

    @property
    def _shown(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)`` as the user passed them."""
        return self._args, self._kwargs

    @property
    def key(self) -> str:
        """The node key: a digest of the function identity and the inputs' keys/hashes."""
        return self.call.key

    @property
    def label(self) -> str:
        """The component's short name, e.g. ``"pca"``."""
        return self.call.label

    @property
    def graph(self) -> "Graph":
        """The whole graph this expression needs, as a :class:`~pylearn_lab.graph.Graph`."""
        from .graph import Graph

        return Graph.from_exprs([self])

    def compute(self, backend: Any = None, cache: Any = None, **options: Any) -> Any:
        """Evaluate this expression; same as ``pylearn_lab.run(self, ...)``."""
        from ..vm.loop import run

        return run(self, backend=backend, cache=cache, **options)

    def replace(self, mapping: Mapping["Expr", "Expr"]) -> "Expr":
        """A copy of this graph with each ``old`` sub-expression swapped for ``new``.

        Examples
        --------
        >>> from pylearn_lab.graph import component
        >>> @component
        ... def one() -> int:
        ...     return 1
        >>> @component
        ... def two() -> int:
        ...     return 2
        >>> @component
        ... def neg(x: int) -> int:
        ...     return -x
        >>> neg(one()).replace({one(): two()}).compute(cache=False)
        -2
        """
        swap = {old.key: new for old, new in mapping.items()}
        for old, new in mapping.items():
            if not isinstance(old, Expr) or not isinstance(new, Expr):
                raise TypeError(
                    "replace() expected a mapping {old Expr: new Expr}, received "
                    f"{type(old).__name__} -> {type(new).__name__}. Build both sides by calling "
                    "components."
                )
        memo: dict[str, Expr] = {}
        for e in self.walk():  # upstream first, so inputs are rebuilt before users
            if e.key in swap:
                memo[e.key] = swap[e.key]
                continue
            new_inputs = {i.key: memo[i.key] for i in e.inputs}
            if all(new_inputs[k] is i for k, i in zip(new_inputs, e.inputs)):
                memo[e.key] = e
                continue
            args = _swap_exprs(e._shown[0], new_inputs)
            kwargs = _swap_exprs(e._shown[1], new_inputs)
            memo[e.key] = build_expr(e.component, args, kwargs)
        return memo[self.key]

    def walk(self) -> Iterator["Expr"]:
        """Yield this expression and everything upstream once each, inputs before users."""
        seen: set[str] = set()
        order: list[Expr] = []
        stack: list[tuple[Expr, bool]] = [(self, False)]
        while stack:
            e, expanded = stack.pop()
            if expanded:
                order.append(e)
                continue
            if e.key in seen:
                continue
            seen.add(e.key)
            stack.append((e, True))
            for i in reversed(e.inputs):
                if i.key not in seen:
                    stack.append((i, False))
        return iter(order)

    def __repr__(self) -> str:
        return _render(self, depth=0)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def __hash__(self) -> int:
        return hash(self.call.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and other.call.key == self.call.key

    def __pylearn_hash__(self) -> str:
        return self.call.key

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Any:
        raise TypeError(
            f"{self.label}(...) is a lazy expression, not its value: call .compute() "
            "(or pylearn_lab.run) first, then iterate the result."
        )


def _refuse_nested_expr(d: Any, obj: Expr, path: str) -> None:
    raise UnhashableError(
        path, obj, "an expression inside a container other than a plain list, tuple or dict "
        "is not an edge of the graph; put it in a plain list/tuple/dict, or pass it directly")


_HANDLERS[Expr] = _refuse_nested_expr


def _swap_exprs(obj: Any, new: Mapping[str, Expr]) -> Any:
    if isinstance(obj, Expr):
        return new.get(obj.key, obj)
    if isinstance(obj, list):
        return [_swap_exprs(x, new) for x in obj]
    if type(obj) is tuple:
        return tuple(_swap_exprs(x, new) for x in obj)
    if type(obj) is dict:
        return {k: _swap_exprs(v, new) for k, v in obj.items()}
    return obj


def short_repr(value: Any, limit: int = 40) -> str:
    """A short readable rendering of a literal argument (arrays by dtype and shape)."""
    if isinstance(value, np.ndarray):
        return f"array<{value.dtype}{list(value.shape)}>"
    if isinstance(value, Expr):
        return _render(value, 1)
    try:
        text = reprlib.repr(value)  # bounded: a deep or self-referencing literal cannot crash it
    except Exception:  # noqa: BLE001 -- a broken __repr__ must not break the Expr's repr
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(e: Expr, depth: int) -> str:
    args, kwargs = e._shown
    if depth > 3:
        return f"{e.label}(…)" if args or kwargs else f"{e.label}()"
    parts = [(_render(a, depth + 1) if isinstance(a, Expr) else short_repr(a)) for a in args]
    parts += [
        f"{k}={_render(v, depth + 1) if isinstance(v, Expr) else short_repr(v)}"
        for k, v in kwargs.items()
    ]
    text = f"{e.label}({', '.join(parts)})"
    return text if depth or len(text) <= 300 else text[:299] + "…"


def _extract(obj: Any, found: dict[str, Expr]) -> Any:
    """Replace Exprs by Refs (also inside plain containers), collecting them.

    Only exact lists, tuples and dicts are rebuilt: a subclass argument reaches the
    function as itself (and is keyed with its class), never as a plain list.
    """
    if isinstance(obj, Expr):
        found.setdefault(obj.key, obj)
        return Ref(obj.key)
    if type(obj) is list:
        return [_extract(x, found) for x in obj]
    if type(obj) is tuple:
        return tuple(_extract(x, found) for x in obj)
    if type(obj) is dict:
        return {k: _extract(v, found) for k, v in obj.items()}
    return obj


def _bind(comp: "Component", args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments | None:
    sig = comp.signature
    if sig is None:
        return None
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        params = ", ".join(str(p.replace(annotation=p.empty)) for p in sig.parameters.values())
        raise SignatureError(
            f"{comp.name}() received arguments that do not fit its signature: {exc}. "
            f"Expected {comp.name}({params}). Fix the call's arguments."
        ) from None
    bound.apply_defaults()
    return bound


class _Recorder:
    """A stand-in digest that keeps the bytes it is fed (to precompute tags exactly)."""

    def __init__(self) -> None:
        self.data = b""

    def update(self, data: bytes) -> None:
        self.data += data


class _Binder:
    """What keying a call of one component needs that does not depend on the call.

    Built once per component (and rebuilt if its signature, parameters or name
    change): the parameters in order with their default, the ``=name`` tag bytes
    fed into the key, the spec to check a literal against, and the path naming
    the argument in errors. ``fast`` is False when the signature has ``*args`` or
    ``**kwargs``: those calls take ``inspect.Signature.bind``.
    """

    __slots__ = ("sig", "params", "name", "positional", "keyword_only", "positional_only", "fast",
                 "items", "ordered", "kw_names", "all_positional")

    def __init__(self, comp: "Component") -> None:
        sig = comp.signature
        assert sig is not None
        self.sig, self.params, self.name = sig, comp.params, comp.name
        specs = {s.name: s for s in self.params}
        kinds = inspect.Parameter
        self.fast = all(p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
                        for p in sig.parameters.values())
        self.positional = tuple((p.name, p.default) for p in sig.parameters.values()
                                if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD))
        self.keyword_only = tuple((p.name, p.default) for p in sig.parameters.values()
                                  if p.kind is kinds.KEYWORD_ONLY)
        self.positional_only = frozenset(p.name for p in sig.parameters.values()
                                         if p.kind is kinds.POSITIONAL_ONLY)
        self.items: dict[str, tuple[bytes | None, str, Any]] = {}
        ignored: frozenset[str] = getattr(comp, "ignore", frozenset())
        for name in sig.parameters:
            tag = _Recorder()
            _tag(tag, b"=", name)
            spec = specs.get(name)
            check = spec if spec is not None and not spec.variadic else None
            self.items[name] = (None if name in ignored else tag.data,
                                f"argument {name!r} of {comp.name}()", check)
        # For a plain signature: the items in parameter order (positional, then
        # keyword-only: the order bind() fills), and whether a call passing exactly
        # every parameter positionally can skip bind() altogether.
        # Each with the one type check_literal passes unchanged, so the common case
        # costs a type test, not a call (None: call it); "any" is never checked.
        self.ordered = tuple(_with_pass_type(self.items[n])
                             for n, _ in self.positional + self.keyword_only)
        self.kw_names = tuple(n for n, _ in self.keyword_only)
        self.all_positional = len(self.positional) if self.fast and not self.keyword_only else -1

    def valid_for(self, comp: "Component") -> bool:
        return (self.sig is comp.signature and self.params is comp.params
                and self.name == comp.name)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """``Signature.bind`` + ``apply_defaults`` for a plain signature, or None.

        None whenever the call does not fit (or the signature is not plain): the
        caller then binds through :mod:`inspect`, which raises the exact error.
        """
        positional = self.positional
        if not self.fast or len(args) > len(positional):
            return None
        out: dict[str, Any] = {}
        used = 0
        for i, (name, default) in enumerate(positional):
            if i < len(args):
                out[name] = args[i]
            elif name in kwargs and name not in self.positional_only:
                out[name] = kwargs[name]
                used += 1
            elif default is not inspect.Parameter.empty:
                out[name] = default
            else:
                return None  # missing argument
        for name, default in self.keyword_only:
            if name in kwargs:
                out[name] = kwargs[name]
                used += 1
            elif default is not inspect.Parameter.empty:
                out[name] = default
            else:
                return None
        return out if used == len(kwargs) else None  # else: unknown or doubled keyword


_PASS_TYPES = {"int": int, "float": float, "str": str}


def _with_pass_type(item: tuple[bytes | None, str, Any]) -> tuple[bytes | None, str, Any, Any]:
    """``(tag, path, spec, pass_type)``: a value of exactly ``pass_type`` needs no check.

    ``check_literal`` returns such a value as it is (int for ``int``, float for
    ``float``, str for ``str``, when no bounds apply); a spec of kind ``"any"``
    returns every value as it is, so it is dropped.
    """
    tag, path, spec = item
    if spec is None or spec.kind == "any":
        return tag, path, None, None
    return tag, path, spec, (_PASS_TYPES.get(spec.kind) if spec.bounds is None else None)


def _binder(comp: "Component") -> _Binder:
    # Held by the component itself (an attribute lookup, not a weak-dictionary probe per
    # key); rebuilt when its signature, parameters or name were replaced.
    b = comp._key_binder
    if b is None or not b.valid_for(comp):
        b = comp._key_binder = _Binder(comp)
    return b


def build_expr(comp: "Component", args: Sequence[Any], kwargs: Mapping[str, Any]) -> Expr:
    """Bind, check and key one call of ``comp``; return its :class:`Expr`."""
    args, kwargs = tuple(args), dict(kwargs)
    ident = comp.identity()
    if comp.signature is None:  # some builtins have none: key the arguments as passed
        return _build_general(comp, ident, None, None, args, kwargs)
    binder = _binder(comp)
    if not kwargs and len(args) == binder.all_positional:  # f(1, 2): nothing to bind
        expr = _build_plain(comp, ident.digest, binder, args, (args, kwargs))
        if expr is not None:
            return expr
        return _build_general(comp, ident, binder, dict(zip(binder.items, args)), args, kwargs)
    arguments = binder.bind(args, kwargs)
    if arguments is not None:
        expr = _build_plain(comp, ident.digest, binder, arguments.values(), (args, kwargs))
        if expr is not None:
            return expr
    return _build_general(comp, ident, binder, arguments, args, kwargs)


def _ref_prefix() -> bytes:
    rec = _Recorder()
    _tag(rec, b"R", f"{Ref.__module__}.{Ref.__qualname__}")
    return rec.data


_REF_PREFIX = _ref_prefix()  # what register_hash's feeder writes before a Ref's key
_ENC_STR = PLAIN_BYTES[_HANDLERS[str]]


def _build_plain(comp: "Component", ident: str, binder: _Binder, arguments: Iterable[Any],
                 shown: tuple[tuple[Any, ...], dict[str, Any]]) -> Expr | None:
    """The key of a call whose every argument is a plain scalar or an Expr, in one pass.

    The same bytes as the streaming path (:func:`_build_general`), joined into one
    buffer and hashed at once: no digest object, no per-value dispatch through
    :func:`feed_value`, no container bookkeeping. None (and nothing built) as soon
    as one argument is anything else -- a container, an array, a subclass of a
    scalar (tagged with its class), a type whose handler was replaced: the
    general path keys those. ``arguments`` are the bound values of a plain
    signature in parameter order (positional, then keyword-only).
    """
    pieces = [b"node\0" + ident.encode()]
    values: list[Any] = []
    found: dict[str, Expr] = {}
    handlers, encoders = _HANDLERS, PLAIN_BYTES
    for (tag, path, spec, pass_type), value in zip(binder.ordered, arguments):
        t = type(value)
        if t is Expr:
            if handlers.get(Ref) is not _REF_FEEDER:
                return None
            key = value.call.key
            found.setdefault(key, value)
            values.append(Ref(key))
            if tag is not None:
                pieces += (tag, _REF_PREFIX, _ENC_STR(key))
            continue
        if spec is not None and t is not pass_type:
            value = check_literal(spec, value, path)  # C: float -> 1 and 1.0 one key
            t = type(value)
        enc = encoders.get(handlers.get(t))  # type: ignore[arg-type]
        if enc is None:
            return None
        values.append(value)
        if tag is not None:  # @component(ignore=[...]): passed on, never keyed
            pieces += (tag, enc(value))
    if not binder.kw_names:
        call_args, call_kwargs = tuple(values), {}
    else:  # keyword-only parameters follow the positional ones, as in BoundArguments
        n = len(binder.positional)
        call_args, call_kwargs = tuple(values[:n]), dict(zip(binder.kw_names, values[n:]))
    call = new_call(comp.fn, call_args, call_kwargs, digest_small(b"".join(pieces)), comp.name,
                    comp.cache, tuple(found))
    return Expr(call, tuple(found.values()), comp, shown)


def _build_general(comp: "Component", ident: Any, binder: _Binder | None,
                   arguments: dict[str, Any] | None, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Expr:
    """Key any call by streaming its arguments into a digest (containers, arrays, objects)."""
    found: dict[str, Expr] = {}
    d = new_digest()
    d.update(b"node\0" + ident.digest.encode())
    if binder is None:
        call_args = _extract(args, found)
        call_kwargs = _extract(kwargs, found)
        feed_argument(d, call_args, f"the positional arguments of {comp.name}()")
        feed_argument(d, call_kwargs, f"the keyword arguments of {comp.name}()")
    else:
        if arguments is None:  # *args/**kwargs, or a call that does not fit: inspect decides
            bound = _bind(comp, args, kwargs)
            assert bound is not None
            arguments = bound.arguments
        canonical: dict[str, Any] = {}
        items = binder.items
        path, value = "", None
        try:
            for name, value in arguments.items():
                tag, path, spec = items[name]
                if spec is not None and not isinstance(value, Expr):
                    value = check_literal(spec, value, path)  # C: float -> 1 and 1.0 one key
                canonical[name] = _extract(value, found)
                if tag is None:  # @component(ignore=[...]): passed on, never keyed
                    continue
                d.update(tag)
                feed_value(d, canonical[name], path)
        except RecursionError:
            raise UnhashableError(path, value, "it is nested too deeply to hash (more levels "
                                  "than Python's recursion limit allows); flatten it, or pass "
                                  "it as a numpy array") from None
        if binder.fast:  # all positional first, then keyword-only: what BoundArguments does
            n = len(binder.positional)
            values = list(canonical.values())
            call_args = tuple(values[:n])
            call_kwargs = dict(zip(list(canonical)[n:], values[n:]))
        else:
            rebound = inspect.BoundArguments(binder.sig, canonical)  # type: ignore[arg-type]
            call_args, call_kwargs = rebound.args, rebound.kwargs
    call = new_call(comp.fn, tuple(call_args), dict(call_kwargs), d.hexdigest(), comp.name,
                    comp.cache, tuple(found))
    return Expr(call, tuple(found.values()), comp, (args, kwargs))


def resolve_args(call: Call, values: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments with every Ref replaced by ``values[ref.key]``."""
    if not call.inputs:
        return call.args, call.kwargs
    fetch = lambda r: values[r.key]  # noqa: E731
    return map_refs(call.args, fetch), map_refs(call.kwargs, fetch)

"""The whole pylearn_lab exception tree, in one place.

Every error pylearn_lab raises on purpose derives from :class:`PylearnError`
and, where it refines a builtin, from that builtin too, so ``except TypeError``
in user code keeps working::

    PylearnError
    ├── UnhashableError(TypeError)        a value has no canonical hash
    ├── StaleKeyError(ValueError)         an argument or the code changed after the Expr was built
    ├── UnpicklableError(TypeError)       a value cannot travel to a worker
    ├── SignatureError(TypeError)         arguments do not bind to a component
    ├── ParameterTypeError(TypeError)     a literal argument violates its annotation
    ├── GraphError(ValueError)            a graph is malformed
    │   ├── CycleError                    the graph has a cycle
    │   ├── UnresolvedRefError            a Ref names no node of the graph
    │   └── SpecError                     a JSON graph spec cannot be read
    ├── UnknownComponentError(LookupError)  no registered component has that name
    ├── BackendError(RuntimeError)        a backend cannot be used
    │   ├── NoEnginesError                a cluster has no engines
    │   └── ClusterGoneError              a cluster stopped answering
    ├── CacheError(OSError)               the cache cannot be used
    │   ├── CacheCorruptError             the index cannot be read
    │   └── IntegrityError                an entry fails its checksum or signature
    ├── DataError(ValueError)             a component received data it cannot use
    ├── NodeError(RuntimeError)           a node's function raised
    ├── RunCancelledError(RuntimeError)   a run was cancelled before it finished
    └── MissingDependencyError(ImportError)  an optional extra is not installed

Messages follow one rule: say what was expected, what was received, and what
to do next.

Examples
--------
>>> from pylearn_lab.errors import UnhashableError, PylearnError
>>> issubclass(UnhashableError, TypeError) and issubclass(UnhashableError, PylearnError)
True
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PylearnError",
    "UnhashableError",
    "StaleKeyError",
    "UnpicklableError",
    "SignatureError",
    "ParameterTypeError",
    "GraphError",
    "CycleError",
    "UnresolvedRefError",
    "SpecError",
    "UnknownComponentError",
    "BackendError",
    "NoEnginesError",
    "ClusterGoneError",
    "CacheError",
    "CacheCorruptError",
    "IntegrityError",
    "DataError",
    "NodeError",
    "RunCancelledError",
    "MissingDependencyError",
]


class PylearnError(Exception):
    """Base class of every error pylearn_lab raises on purpose."""


class UnhashableError(PylearnError, TypeError):
    """A value has no canonical hash, so it cannot be part of a cache key.

    Parameters
    ----------
    path : str
        Where the value sits in the call, e.g. ``"argument 'model'"`` or
        ``"argument 'cfg'['opt']"``.
    value : object
        The offending value (only its type is shown).
    """

    def __init__(self, path: str, value: Any, reason: str = "") -> None:
        self.path = path
        self.value_type = type(value)
        tname = f"{type(value).__module__}.{type(value).__qualname__}"
        msg = (
            f"cannot hash {path} of type {tname}{': ' + reason if reason else ''}. "
            "Expected numbers, strings, bytes, None, numpy arrays, tuples/lists/dicts/sets "
            "of those, functions, or an Expr. Fix: pass plain data instead, give the class a "
            "__pylearn_hash__(self) method returning a hashable value, or register a handler "
            "with pylearn_lab.register_hash(type, fn)."
        )
        super().__init__(msg)


class UnpicklableError(PylearnError, TypeError):
    """A value cannot be pickled, so it cannot be sent to a worker or stored."""

    def __init__(self, path: str, value: Any, cause: BaseException | None = None) -> None:
        self.path = path
        self.value_type = type(value)
        tname = f"{type(value).__module__}.{type(value).__qualname__}"
        msg = (
            f"cannot pickle {path} of type {tname}"
            f"{' (' + type(cause).__name__ + ': ' + str(cause) + ')' if cause else ''}. "
            "Values sent to workers or stored in the cache must be picklable (cloudpickle). "
            "Fix: pass the data the object is built from and build it inside the function, "
            "or run on the 'serial' or 'threads' backend."
        )
        super().__init__(msg)


class SignatureError(PylearnError, TypeError):
    """Arguments do not bind to a component's signature."""


class ParameterTypeError(PylearnError, TypeError):
    """A literal argument does not match the component's annotation."""


class GraphError(PylearnError, ValueError):
    """A graph is malformed."""


class CycleError(GraphError):
    """The graph contains a cycle; the message lists the keys on it."""


class UnresolvedRefError(GraphError):
    """A :class:`~pylearn_lab.graph.Ref` names a key that is not in the graph."""


class SpecError(GraphError):
    """A JSON graph specification cannot be read or rebuilt."""


class UnknownComponentError(PylearnError, LookupError):
    """No registered component has the requested name."""


class BackendError(PylearnError, RuntimeError):
    """A backend cannot be created, reached or used."""


class NoEnginesError(BackendError):
    """An ipyparallel cluster has no engines to run tasks on."""


class ClusterGoneError(BackendError):
    """An ipyparallel cluster stopped answering within the timeout."""


class CacheError(PylearnError, OSError):
    """The cache directory cannot be used."""


class CacheCorruptError(CacheError):
    """The cache index cannot be read; the message names the repair command."""


class IntegrityError(CacheError):
    """A stored entry fails its checksum or its signature and was not returned."""


class DataError(PylearnError, ValueError):
    """A component received data it cannot use (wrong shape, no labels, wrong model kind)."""


class NodeError(PylearnError, RuntimeError):
    """A node's function raised.

    Attributes
    ----------
    name : str
        Readable name of the failing node, e.g. ``"pca(standardize(...), n=2)"``.
    key : str
        The node's key.
    remote_traceback : str
        The traceback formatted where the function ran (a worker or an engine).
    engine : str or None
        The engine or worker that ran it, when known.
    cause_type : str
        Qualified name of the original exception type.
    others : list of NodeError
        Further failures of the same run, when several nodes failed.
    """

    def __init__(
        self,
        name: str,
        key: str,
        cause_type: str,
        cause_msg: str,
        remote_traceback: str = "",
        engine: str | None = None,
    ) -> None:
        self.name = name
        self.key = key
        self.cause_type = cause_type
        self.cause_msg = cause_msg
        self.remote_traceback = remote_traceback
        self.engine = engine
        self.others: list[NodeError] = []
        where = f" on {engine}" if engine else ""
        msg = (
            f"node {name} [key {key[:12]}] failed{where}: {cause_type}: {cause_msg}\n"
            "Independent branches finished and were cached; fix the cause and run again: "
            "only this node and what depends on it will be recomputed."
        )
        if remote_traceback:
            msg += "\n\n--- traceback where it ran ---\n" + remote_traceback.rstrip()
        super().__init__(msg)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self.name, self.key, self.cause_type, self.cause_msg,
             self.remote_traceback, self.engine),
        )


class RunCancelledError(PylearnError, RuntimeError):
    """A run was cancelled before it finished."""


class StaleKeyError(PylearnError, ValueError):
    """A node's arguments or code changed after its expression was built.

    Raised just before the node would run: its result would be stored under a
    key that describes other inputs. Build the expression again.
    """


class MissingDependencyError(PylearnError, ImportError):
    """An optional part needs a library that is not installed (``pip install 'pylearn_lab[extra]'``)."""

    def __init__(self, feature: str, module: str, extra: str) -> None:
        self.feature, self.module, self.extra = feature, module, extra
        super().__init__(
            f"{feature} needs the '{module}' package, which is not installed. "
            f"Install the '{extra}' extra: pip install 'pylearn_lab[{extra}]'."
        )

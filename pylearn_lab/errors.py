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
    │   ├── SpecError                     a JSON graph spec cannot be read
    │   └── EdgeTypeError(TypeError)      an edge's source returns what its input cannot take
    ├── UnknownComponentError(LookupError)  no registered component has that name
    ├── BackendError(RuntimeError)        a backend cannot be used
    │   ├── NoEnginesError                a cluster has no engines
    │   └── ClusterGoneError              a cluster stopped answering
    ├── CacheError(OSError)               the cache cannot be used
    │   ├── CacheCorruptError             the index cannot be read
    │   └── IntegrityError                an entry fails its checksum or signature
    ├── DataError(ValueError)             a component received data it cannot use
    ├── NodeError(RuntimeError)           a node's function raised; also an instance of
    │                                     the original type (``except ValueError`` catches it)
    ├── RunCancelledError(RuntimeError)   a run was cancelled before it finished
    │   └── TrainingStopped               a training was stopped remotely (checkpoint kept)
    ├── TrainingError(ValueError)         a training loop, schedule or plugin is misused
    ├── OptionError(ValueError)           an option (a timeout, a mode) has a value it cannot take
    └── MissingDependencyError(ImportError)  an optional extra is not installed

    CacheWarning(UserWarning)             a cache problem that was handled (entry dropped,
                                          result not stored, directory untrusted); shown
                                          once per cause per cache and run

Messages follow one rule: say what was expected, what was received, and what
to do next.

:class:`Status` lives here too (it is no exception, so ``__all__``, the list of
the tree, leaves it out) because every layer speaks it: the states of a node in
events, records and widget colours.

Examples
--------
>>> from pylearn_lab.errors import UnhashableError, PylearnError
>>> issubclass(UnhashableError, TypeError) and issubclass(UnhashableError, PylearnError)
True
"""

from __future__ import annotations

import builtins
import enum
import sys
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
    "TrainingError",
    "TrainingStopped",
    "EdgeTypeError",
    "MissingDependencyError",
    "OptionError",
]
# CacheWarning (below) is a warning, not an error: importable from here and from
# pylearn_lab.cache, kept out of __all__, which lists the error tree


class Status(enum.StrEnum):
    """The status of a node, as events, records and widgets name it.

    A ``str`` enum: every member *is* its string (``Status.DONE == "done"``,
    JSON writes ``"done"``, and it even prints as ``'done'`` inside a list or
    dict), so records and event consumers written against the strings keep
    working, and stored records stay readable.

    Examples
    --------
    >>> Status.CACHED == "cached", Status("skipped") is Status.SKIPPED
    (True, True)
    >>> [Status.DONE], Status.DONE.name
    (['done'], 'DONE')
    >>> Status.COMPUTED is Status.DONE
    True
    """

    QUEUED = "queued"      # planned, waiting for inputs
    STARTED = "started"    # sent to the backend (event kind)
    RUNNING = "running"    # sent to the backend (widget state)
    CACHED = "cached"      # served from the cache
    DONE = "done"          # computed (and stored)
    COMPUTED = "done"      # alias of DONE
    FAILED = "failed"      # its function raised
    SKIPPED = "skipped"    # an input failed, so it never ran
    STOPPED = "stopped"    # running when the run was cancelled (its worker may still finish)
    FINISHED = "finished"  # the run ended (event kind; key is empty)
    STORED = "stored"      # lineage: the result is in the cache
    MISSING = "missing"    # lineage: not computed, or evicted

    def __repr__(self) -> str:
        return str.__repr__(self.value)  # containers of statuses print as they always did


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


class EdgeTypeError(GraphError, TypeError):
    """An edge joins an output whose return annotation its input's annotation cannot admit."""


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

    What a run raises is made by :meth:`NodeError.of`: an instance of a class
    that derives from both ``NodeError`` and the original exception type
    (``NodeError[ValueError]``), so ``except ValueError`` around ``run()``
    catches a node's ``ValueError`` exactly as it would around a plain call,
    and ``except NodeError`` still catches every node failure. The original
    type is used only when it can be found on the client (its module already
    imported) and combined (``OSError`` subclasses, for one, have their own
    C layout); otherwise the error is a plain ``NodeError`` and
    :attr:`cause_type` names the type. The original's own attributes (say,
    ``errno``) do not travel: the message, the type and the traceback do.

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
    partial : dict
        ``key -> value`` of every requested output that *was* computed or
        served from the cache before the run ended (the failed ones are absent),
        so a caller can use the good part without running anything again.

    Examples
    --------
    >>> err = NodeError.of("f(1)", "k" * 32, "builtins.ValueError", "bad value")
    >>> isinstance(err, ValueError), isinstance(err, NodeError), err.cause_type
    (True, True, 'builtins.ValueError')
    >>> type(NodeError.of("f(1)", "k" * 32, "nowhere.Gone", "?")) is NodeError
    True
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
        self.partial: dict[str, Any] = {}
        where = f" on {engine}" if engine else ""
        msg = (
            f"node {name} [key {key[:12]}] failed{where}: {cause_type}: {cause_msg}\n"
            "Independent branches finished and were cached; fix the cause and run again: "
            "only this node and what depends on it will be recomputed."
        )
        if remote_traceback:
            msg += "\n\n--- traceback where it ran ---\n" + remote_traceback.rstrip()
        # BaseException's own __init__: the original type's __init__ may want other arguments
        BaseException.__init__(self, msg)

    @classmethod
    def of(cls, name: str, key: str, cause_type: str, cause_msg: str,
           remote_traceback: str = "", engine: str | None = None) -> NodeError:
        """The error for a node whose function raised ``cause_type`` (see the class docs)."""
        return _node_error_class(cause_type)(name, key, cause_type, cause_msg,
                                             remote_traceback, engine)

    def __str__(self) -> str:
        return BaseException.__str__(self)  # never the original type's own __str__

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_node_error,
            (self.name, self.key, self.cause_type, self.cause_msg,
             self.remote_traceback, self.engine),
        )


_NODE_ERROR_CLASSES: dict[type, type[NodeError]] = {}


def _original_type(cause_type: str) -> type | None:
    """The exception class named ``module.qualname``, if its module is already loaded."""
    module_name, _, qualname = cause_type.rpartition(".")
    # only modules the client already imported: a name in a receipt never imports code
    module = builtins if module_name == "builtins" else sys.modules.get(module_name)
    obj: Any = module
    for part in qualname.split(".") if module is not None else ():
        obj = getattr(obj, part, None)
    if not isinstance(obj, type) or not issubclass(obj, Exception) or issubclass(obj, NodeError):
        return None
    return obj


def _node_error_class(cause_type: str) -> type[NodeError]:
    orig = _original_type(cause_type)
    if orig is None:
        return NodeError
    cls = _NODE_ERROR_CLASSES.get(orig)
    if cls is None:
        try:
            cls = type(f"NodeError[{orig.__qualname__}]", (NodeError, orig),
                       {"__module__": __name__, "__qualname__": f"NodeError[{orig.__qualname__}]"})
        except TypeError:  # layout conflict (OSError...), or a final class: the plain error
            cls = NodeError
        _NODE_ERROR_CLASSES[orig] = cls
    return cls


def _rebuild_node_error(*args: Any) -> NodeError:
    """Unpickle a node error into the same dynamic class (or plain NodeError)."""
    return NodeError.of(*args)


class RunCancelledError(PylearnError, RuntimeError):
    """A run was cancelled before it finished."""


class TrainingError(PylearnError, ValueError):
    """A training loop, schedule or plugin was given something it cannot use."""


class TrainingStopped(RunCancelledError):
    """A training was stopped from the notebook; its last state is kept as a checkpoint.

    Nothing is cached under the training's key (a stopped training is not the
    result its arguments ask for); running it again resumes from the checkpoint.
    """


class CacheWarning(UserWarning):
    """A cache problem that was handled: an entry dropped and recomputed, a result not
    stored, a directory not trusted. Issued once per cause per cache (see
    :func:`pylearn_lab.cache.warn.warn_once`); a warning, not an error: the run goes on."""
class StaleKeyError(PylearnError, ValueError):
    """A node's arguments or code changed after its expression was built.

    Raised just before the node would run: its result would be stored under a
    key that describes other inputs. Build the expression again.
    """


class OptionError(PylearnError, ValueError):
    """An option of ``run()``, a component or a backend has a value it cannot take
    (e.g. ``node_timeout=-1``): the message names the option, what it expects and
    what it received."""


class MissingDependencyError(PylearnError, ImportError):
    """An optional part needs a library that is not installed (``pip install 'pylearn_lab[extra]'``)."""

    def __init__(self, feature: str, module: str, extra: str) -> None:
        self.feature, self.module, self.extra = feature, module, extra
        super().__init__(
            f"{feature} needs the '{module}' package, which is not installed. "
            f"Install the '{extra}' extra: pip install 'pylearn_lab[{extra}]'."
        )

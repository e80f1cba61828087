"""Checkpoints: a training's state at step t, stored as an ordinary cache entry.

The key of a checkpoint is the key of the training call *without its length
argument*, plus the step::

    base  = H("checkpoint", function identity, (name, input key | literal) for every
              argument but the length, the loop's name and its index in the call)
    key_t = H(base, t)

So ``logistic_regression(split, epochs=200)`` finds the state that
``epochs=100`` stored at step 100 and trains only the remaining 100 steps;
any other change -- a parameter, the data upstream (its node key), the code
(the function identity) -- gives another base and nothing is reused. This is
sound only because a loop's first t steps do not depend on how many steps
follow; :class:`~pylearn_lab.training.loop.Trainer` documents that contract.

A checkpoint holds the user state, the random generator's full state, the
per-step history and the timeline counters, so resuming is bitwise equal to
never having stopped. Entries go through the public :class:`Cache` API only:
they are signed and verified like every other entry, and a broken one is a
warning and an older checkpoint (or a fresh start), never a wrong state.

Examples
--------
>>> import tempfile
>>> from pylearn_lab.cache import Cache
>>> book = Checkpoints(Cache(tempfile.mkdtemp()), "ab" * 16, label="demo")
>>> book.save(3, {"t": 3, "state": [1, 2]})
True
>>> book.latest(10)
(3, {'t': 3, 'state': [1, 2]})
>>> book.latest(2)
(0, None)
"""

from __future__ import annotations

import inspect
import os
import socket
import time
from typing import Any

from ..errors import TrainingError
from ..hashing.digest import new_digest
from ..hashing.functions import function_identity
from ..hashing.values import feed_value

__all__ = ["FORMAT", "Checkpoints", "base_key"]

FORMAT = 1  # bump when the checkpoint payload changes shape: old ones are then ignored


def base_key(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], length: str,
             name: str = "", index: int = 0) -> str:
    """The key shared by every checkpoint of one training, whatever its length.

    ``args``/``kwargs`` are the node's arguments as the graph holds them
    (upstream values as :class:`~pylearn_lab.graph.nodes.Ref` keys, literals as
    themselves); ``length`` names the argument left out.

    Examples
    --------
    >>> def fit(data, lr=0.1, epochs=10): ...
    >>> base_key(fit, ([1, 2],), {"epochs": 5}, "epochs") == base_key(fit, ([1, 2], 0.1, 50), {}, "epochs")
    True
    >>> base_key(fit, ([1, 2],), {"lr": 0.2}, "epochs") == base_key(fit, ([1, 2],), {}, "epochs")
    False
    """
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"cannot name the arguments of {func!r:.60} to key its checkpoints: "
                            f"{exc}. Give the training an explicit key=.") from exc
    bound.apply_defaults()
    if length not in bound.arguments:
        raise TrainingError(
            f"length={length!r}: expected the name of the argument that sets how long "
            f"{getattr(func, '__name__', func)} trains, among {list(bound.arguments)}."
        )
    d = new_digest()
    d.update(b"checkpoint\0%d\0" % FORMAT + function_identity(func).digest.encode())
    for arg in sorted(bound.arguments):
        if arg != length:
            d.update(arg.encode() + b"\0")
            feed_value(d, bound.arguments[arg], f"argument {arg!r} of {func!r:.40}")
    d.update(b"\0loop\0" + name.encode() + b"\0%d" % index)
    return str(d.hexdigest())


class Checkpoints:
    """The checkpoints of one training (one base key) in one cache.

    Parameters
    ----------
    cache : Cache
        Where they are stored (the run's cache).
    base : str
        :func:`base_key` of the training.
    label : str
        The training's name, shown in the cache's records.
    func : str
        ``module.qualname`` of the training function (what :func:`forget` matches).
    """

    def __init__(self, cache: Any, base: str, label: str = "", func: str = "") -> None:
        self.cache, self.base, self.label, self.func = cache, base, label, func

    def key(self, step: int) -> str:
        """The cache key of the checkpoint at ``step``."""
        d = new_digest()
        d.update(b"checkpoint-step\0" + self.base.encode() + b"\0%d" % step)
        return str(d.hexdigest())

    def latest(self, upto: int) -> tuple[int, Any]:
        """``(step, payload)`` of the newest valid checkpoint at or before ``upto``, else ``(0, None)``."""
        steps = {self.key(t): t for t in range(upto, 0, -1)}
        stored = sorted((steps[k] for k in self.cache.contains_many(list(steps))), reverse=True)
        for t in stored:
            hit, payload = self.cache.lookup(self.key(t), count_miss=False)
            if hit and isinstance(payload, dict) and payload.get("t") == t:
                return t, payload
        return 0, None

    def save(self, step: int, payload: dict[str, Any], metrics: dict[str, Any] | None = None) -> bool:
        """Store ``payload`` as the checkpoint at ``step``; True when stored now."""
        from ..vm.task import worker_name  # lazily: checkpoints sit below the VM layer

        record = {
            "host": socket.gethostname(), "pid": os.getpid(), "engine": worker_name(),
            "func": "pylearn_lab.training.checkpoint", "label": "checkpoint",
            "version": str(FORMAT),
            "params": {"of": self.label, "func": self.func, "step": step,
                       "training": self.base[:16]},
            "summary": {"step": step, **(metrics or {})}, "created": time.time(),
        }
        return bool(self.cache.save(self.key(step), payload, record))


def forget(target: Any, cache: Any) -> int:
    """Remove the checkpoints of a training function, so its next run starts from scratch.

    ``cache.invalidate(component)`` removes a component's results but not its
    checkpoints (they are entries of their own): a recompute would then resume
    from the stored final state -- the same value, bitwise, but not the fresh
    computation someone who invalidates may want. ``target`` is a component,
    a function or its ``module.qualname``; returns how many entries went.

    Examples
    --------
    >>> import tempfile
    >>> from pylearn_lab.cache import Cache
    >>> c = Cache(tempfile.mkdtemp())
    >>> _ = Checkpoints(c, "ab" * 16, "fit", func="mymod.fit").save(1, {"t": 1})
    >>> forget("mymod.fit", c), forget("mymod.fit", c)
    (1, 0)
    """
    from ..hashing.functions import qualified_name

    name = target if isinstance(target, str) else qualified_name(getattr(target, "fn", target))
    keys = [r.key for r in cache.records(func="pylearn_lab.training.checkpoint")
            if r.params.get("func") == name]
    return sum(cache.invalidate(k) for k in keys)

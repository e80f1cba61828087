"""Components that count their calls in files (visible across processes), for VM tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pylearn_lab as pl


def _mark(where: str, name: str) -> None:
    # one file per call: appends from several processes never interleave
    Path(where, f"{name}-{os.getpid()}-{os.urandom(4).hex()}").touch()


@pl.component
def source(log: str, n: int = 5):
    _mark(log, "source")
    return np.arange(float(n))


@pl.component
def double(log: str, x):
    _mark(log, "double")
    return x * 2


@pl.component
def total(log: str, x):
    _mark(log, "total")
    return float(x.sum())


@pl.component
def explode(log: str, x, flag: str = ""):
    _mark(log, "explode")
    if not flag or os.path.exists(flag):
        raise ValueError("boom on purpose")
    return x


def count(log: str | Path, name: str | None = None) -> int:
    """How many calls were recorded (of ``name``, or of everything)."""
    return sum(1 for p in Path(log).iterdir() if name is None or p.name.startswith(name + "-"))


class OddError(ValueError):
    """A user exception whose __init__ takes two arguments (NodeError must still build)."""

    def __init__(self, what: str, code: int) -> None:
        super().__init__(f"{what} ({code})")
        self.code = code


@pl.component
def odd(log: str, x):
    _mark(log, "odd")
    raise OddError("odd on purpose", 7)

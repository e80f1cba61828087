"""Node functions of the backend conformance suite (importable by workers and engines).

Each call leaves one file in the test's ``log`` directory, so calls are counted
whatever process ran them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pylearn_lab as pl


class ConformanceError(ValueError):
    """Raised on purpose: a node's error must stay catchable as this type."""


def _mark(log: str, name: str) -> None:
    Path(log, f"{name}-{os.getpid()}-{os.urandom(4).hex()}").touch()


@pl.component
def numbers(log: str, n: int) -> list:
    _mark(log, "numbers")
    return [float(i) for i in range(n)]


@pl.component
def scaled(log: str, xs: list, f: float) -> list:
    _mark(log, "scaled")
    return [x * f for x in xs]


@pl.component
def total(log: str, xs: list) -> float:
    _mark(log, "total")
    return float(sum(xs))


@pl.component
def fails(log: str, xs: list) -> list:
    _mark(log, "fails")
    raise ConformanceError("fails on purpose")


@pl.component
def inc(i: int) -> int:
    return i + 1


class Unpicklable:
    """A careless user's argument: it has a key (``__pylearn_hash__``) but cannot be pickled,
    so it can reach a worker only in this process."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __pylearn_hash__(self) -> str:
        return self.tag

    def __reduce_ex__(self, protocol: object) -> object:
        raise TypeError(f"Unpicklable({self.tag!r}) refuses to be pickled")


@pl.component
def tag_of(log: str, obj: object) -> str:
    _mark(log, "tag_of")
    return str(getattr(obj, "tag", obj))


def count(log: str, name: str | None = None) -> int:
    """Calls recorded (of ``name``, or of everything)."""
    return sum(1 for p in Path(log).iterdir() if name is None or p.name.startswith(name + "-"))

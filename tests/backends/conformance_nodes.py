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


def count(log: str, name: str | None = None) -> int:
    """Calls recorded (of ``name``, or of everything)."""
    return sum(1 for p in Path(log).iterdir() if name is None or p.name.startswith(name + "-"))

"""Fixtures for VM tests."""

from __future__ import annotations

import pytest
from vm_windowed import Windowed

import pylearn_lab as pl


@pytest.fixture
def log(tmp_path):
    d = tmp_path / "calls"
    d.mkdir()
    return str(d)


@pytest.fixture
def cache(tmp_path):
    return pl.Cache(tmp_path / "cache")


@pytest.fixture
def windowed():
    """``windowed(window, lose=...)`` makes a :class:`vm_windowed.Windowed`, closed after."""
    made: list[Windowed] = []

    def make(window: int | None, **kw) -> Windowed:
        made.append(Windowed(window, **kw))
        return made[-1]

    yield make
    for b in made:
        b.close()


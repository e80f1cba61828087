"""Each store behind ``Cache`` passes the store conformance suite (``store_conformance.py``)."""

from __future__ import annotations

import pytest
from store_conformance import StoreConformance

import pylearn_lab as pl
from pylearn_lab.cache import MemoryStore


class TestDiskStore(StoreConformance):
    """The default: an SQLite index and blob files in a directory."""

    @pytest.fixture
    def make_cache(self, tmp_path):
        return lambda: pl.Cache(tmp_path / "cache")


class TestMemoryStore(StoreConformance):
    """``Cache(":memory:")``: process-local, each one its own."""

    @pytest.fixture
    def make_cache(self):
        return lambda: pl.Cache(":memory:")


class TestExplicitMemoryStore(StoreConformance):
    """A store object handed to ``Cache(store=...)`` (the seam custom stores use)."""

    @pytest.fixture
    def make_cache(self):
        return lambda: pl.Cache(store=MemoryStore())

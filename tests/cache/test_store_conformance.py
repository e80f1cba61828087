"""Each store behind ``Cache`` passes the store conformance suite (``store_conformance.py``)."""

from __future__ import annotations

import pytest
from store_conformance import StoreConformance

import pylearn_lab as pl
from pylearn_lab.cache import MemoryStore
from pylearn_lab.cache.keyring import create_team_key


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


class TestTeamStore(StoreConformance):
    """``Cache("postgresql://...", blobs=DIR)``: rows in a real PostgreSQL server, blobs
    in a shared directory, signed with a team key file."""

    @pytest.fixture
    def make_cache(self, request, tmp_path):
        pytest.importorskip("psycopg")
        db = request.getfixturevalue("pg_server").new_database()
        key = tmp_path / "team.key"
        create_team_key(key)
        return lambda: pl.Cache(db, blobs=tmp_path / "blobs", trust=key)

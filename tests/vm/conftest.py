"""Fixtures for VM tests."""

from __future__ import annotations

import pytest

import pylearn_lab as pl


@pytest.fixture
def log(tmp_path):
    d = tmp_path / "calls"
    d.mkdir()
    return str(d)


@pytest.fixture
def cache(tmp_path):
    return pl.Cache(tmp_path / "cache")

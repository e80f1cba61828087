"""A real IPython shell with ``%load_ext pylearn_lab`` and a fresh cache per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

from pylearn_lab.backends.registry import set_current_cluster, set_default_backend
from pylearn_lab.cache import set_default_cache


@pytest.fixture
def ip(tmp_path: Path) -> Iterator[InteractiveShell]:
    cfg = Config()
    cfg.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=cfg)
    shell.run_line_magic("load_ext", "pylearn_lab")
    shell.run_line_magic("pylearn", f"cache {tmp_path / 'cache'}")
    yield shell
    shell.run_line_magic("unload_ext", "pylearn_lab")
    InteractiveShell.clear_instance()
    set_default_cache(None)
    set_default_backend("serial")
    set_current_cluster(None)


@pytest.fixture
def magic(ip: InteractiveShell):
    """``magic("cache info")`` -> what ``%pylearn cache info`` printed (and its value)."""

    def run(line: str) -> tuple[str, object]:
        with capture_output() as cap:
            value = ip.run_line_magic("pylearn", line)
        return cap.stdout, value

    return run


@pytest.fixture
def cell(ip: InteractiveShell):
    """``cell("-o y", "y = 1")`` -> (stdout, value) of a ``%%pylearn`` cell."""

    def run(args: str, body: str) -> tuple[str, object]:
        with capture_output() as cap:
            value = ip.run_cell_magic("pylearn", args, body)
        return cap.stdout, value

    return run

"""Local backends: names, objects, executors, and notebook functions on worker processes."""

from __future__ import annotations

import concurrent.futures as cf

import pytest

import pylearn_lab as pl
from pylearn_lab.backends import ProcessBackend, SerialBackend, ThreadBackend, resolve_backend
from pylearn_lab.errors import BackendError


def test_names_resolve_to_shared_backends():
    assert resolve_backend("threads") is resolve_backend("threads")
    assert isinstance(resolve_backend("serial"), SerialBackend)
    with pytest.raises(BackendError, match="unknown backend 'gpu'"):
        resolve_backend("gpu")
    with pytest.raises(BackendError, match="needs a cluster"):
        resolve_backend("ipyparallel")
    with pytest.raises(BackendError, match="submit"):
        resolve_backend(42)


def test_any_executor_is_a_backend(tmp_path):
    @pl.component
    def inc(x: int) -> int:
        return x + 1

    with cf.ThreadPoolExecutor(2) as pool:
        assert pl.run([inc(1), inc(2)], backend=pool, cache=pl.Cache(tmp_path)) == [2, 3]


def test_context_managers_close_pools():
    with ThreadBackend(2) as t:
        assert t.submit(sum, [1, 2]).result() == 3
    with ProcessBackend(1) as p:
        assert p.submit(sum, [1, 2]).result() == 3


def test_notebook_functions_run_on_worker_processes_with_the_same_keys(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False
    ip = InteractiveShell.instance(config=cfg)
    try:
        ip.run_cell(
            "import pylearn_lab as pl\n"
            "OFFSET = 100\n"
            "def helper(x):\n    return x + OFFSET\n"
            "@pl.component\n"
            "def nb_step(x: int) -> int:\n    return helper(x) * 2\n"
        )
        nb_step = ip.user_ns["nb_step"]
        e = nb_step(1)
        assert nb_step.qualname == "__main__.nb_step"
        key_before = e.key
        c = pl.Cache(tmp_path)
        assert pl.run(e, backend="processes", cache=c) == 202
        assert pl.run(e, backend="serial", cache=pl.Cache(tmp_path / "other")) == 202
        assert c.contains(key_before)
        ip.run_cell("OFFSET = 1")  # a changed constant the helper reads changes the key
        assert nb_step(1).key != key_before
    finally:
        InteractiveShell.clear_instance()


def test_serial_backend_reports_exceptions_through_the_future():
    fut = SerialBackend().submit(int, "x")
    with pytest.raises(ValueError):
        fut.result()

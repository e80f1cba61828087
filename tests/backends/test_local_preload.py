"""Process workers start with the backend and preload the parent's scientific libraries.

Real spawned workers. What must hold: every worker exists once the backend is
built; the default preload is the parent's imported modules of the scientific
libraries and never the user's own; a task that waits cuts a preload short (and
only as many workers stop as there are tasks); the thread budget covers what
the preload loaded; a user module preloaded at start and edited later still runs
its new code.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import time
from pathlib import Path

import pytest

import pylearn_lab as pl
from pylearn_lab.backends import ProcessBackend
from pylearn_lab.backends.preload import Board, parent_modules
from pylearn_lab.errors import BackendError


def _loaded(name: str) -> bool:
    return name in sys.modules


def _pid_and_loaded(name: str, pause: float) -> tuple[int, bool]:
    time.sleep(pause)  # keeps this worker busy so the next task goes to another one
    return os.getpid(), name in sys.modules


def _pools() -> list[tuple[str, int]]:
    from threadpoolctl import threadpool_info

    return [(p["user_api"], p["num_threads"]) for p in threadpool_info()]


def test_every_worker_starts_when_the_backend_is_created():
    before = {p.pid for p in multiprocessing.active_children()}
    with ProcessBackend(2, preload=[]) as b:
        started = {p.pid for p in multiprocessing.active_children()} - before
        assert len(started) == 2  # before any task was submitted
        assert b.wait_ready(120)
        pids = {b.submit(os.getpid).result() for _ in range(6)}
        assert pids <= started


def test_the_default_preload_is_the_parents_libraries_never_user_modules(tmp_path, monkeypatch):
    import sklearn.ensemble  # noqa: F401  (the parent uses it: its workers will)

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "pl_user_helpers.py").write_text("VALUE = 1\n")
    importlib.import_module("pl_user_helpers")
    try:
        names = parent_modules()
        assert "sklearn.ensemble" in names and "numpy" in names
        assert "pl_user_helpers" not in names
        assert not any(n.startswith(("pylearn_lab", "_pytest", "IPython")) for n in names)
        assert not any(part.startswith("_") for n in names for part in n.split("."))
        with ProcessBackend(1) as b:
            assert "sklearn.ensemble" in b.preload
            assert b.wait_ready(120)
            # the task itself imports nothing: the worker had it from its start-up
            assert b.submit(_loaded, "sklearn.ensemble").result() is True
            assert b.submit(_loaded, "pl_user_helpers").result() is False
        with ProcessBackend(1, preload=[]) as b:
            assert b.preload == () and b.wait_ready(120)
            assert b.submit(_loaded, "sklearn.ensemble").result() is False
    finally:
        sys.modules.pop("pl_user_helpers", None)


def _gate_module(tmp_path: Path) -> Path:
    """A module whose import blocks until a file exists: holds a worker mid-preload."""
    gate = tmp_path / "open"
    (tmp_path / "pl_preload_gate.py").write_text(
        "import os, time\n"
        f"_t = time.monotonic()\n"
        f"while not os.path.exists({str(gate)!r}) and time.monotonic() - _t < 60:\n"
        "    time.sleep(0.01)\n")
    return gate


def test_a_waiting_task_cuts_the_preload_short(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    gate = _gate_module(tmp_path)
    with ProcessBackend(1, preload=["pl_preload_gate", "sklearn.ensemble"]) as b:
        fut = b.submit(_loaded, "sklearn.ensemble")  # waits while the worker is held
        gate.touch()
        # the worker stopped before sklearn.ensemble: the task did not wait for it
        assert fut.result(timeout=120) is False
        assert b.wait_ready(120)


def test_only_as_many_workers_stop_preloading_as_tasks_wait(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    gate = _gate_module(tmp_path)
    with ProcessBackend(2, preload=["pl_preload_gate", "sklearn.ensemble"]) as b:
        first = b.submit(_loaded, "sklearn.ensemble")  # one task, two workers preloading
        gate.touch()
        first.result(timeout=120)
        assert b.wait_ready(120)
        # one task each (the pause keeps the first worker busy while the second takes its own)
        futs = [b.submit(_pid_and_loaded, "sklearn.ensemble", 1.0) for _ in range(2)]
        got = dict(f.result(timeout=120) for f in futs)
    assert len(got) == 2, got  # both workers answered
    assert sorted(got.values()) == [False, True], got  # one stopped for the task, one went on


def test_the_thread_budget_covers_what_the_preload_loaded():
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime in the parent)

    with ProcessBackend(2) as b:
        assert b.wait_ready(120)
        pools = b.submit(_pools).result()
    budget = b.threads_per_worker
    assert pools and {n for _, n in pools} == {budget}, pools
    parent_apis = {api for api, _ in _pools()}
    assert {api for api, _ in pools} >= parent_apis  # the preload loaded the same libraries


def test_a_preloaded_user_module_edited_later_runs_its_new_code(tmp_path, monkeypatch):
    # a module imported at start-up is stamped then: an edit made after that is re-imported
    # before the next task, as it is for a module a task imported
    monkeypatch.syspath_prepend(str(tmp_path))
    src = tmp_path / "pl_preloaded_edit.py"
    src.write_text("from pylearn_lab import component\n\ndef helper(x):\n    return x + 1\n\n"
                   "@component\ndef answer(x: int) -> int:\n    return helper(x)\n")
    mod = importlib.import_module("pl_preloaded_edit")
    try:
        with ProcessBackend(1, preload=["pl_preloaded_edit"]) as b:
            assert b.wait_ready(120)  # imported at start-up; no task has run yet
            src.write_text(src.read_text().replace("x + 1", "x + 100"))
            st = src.stat()
            os.utime(src, (st.st_atime + 10, st.st_mtime + 10))
            mod = importlib.reload(mod)
            assert pl.run(mod.answer(1), backend=b, cache=False) == 101
            assert b.submit(_loaded, "pl_preloaded_edit").result() is True
    finally:
        sys.modules.pop("pl_preloaded_edit", None)


@pytest.mark.parametrize("bad", [5, [""], ["numpy", 3], [None]])
def test_a_bad_preload_says_what_it_expects(bad):
    with pytest.raises(BackendError, match=r"preload= expected a list of module names"):
        ProcessBackend(1, preload=bad)


def test_the_board_claims_one_stop_per_waiting_task():
    b = Board(multiprocessing.get_context("spawn"))
    assert b.should_stop() is False  # nothing waits
    b.submitted()
    b.submitted()
    assert [b.should_stop() for _ in range(3)] == [True, True, False]
    b.ready(claimed=True)
    b.ready(claimed=True)
    assert b.counts() == (2, 2, 0) and b.up == 2
    b.started()
    b.started()
    b.submitted()
    assert b.should_stop() is True  # a third task, both workers busy: a third worker stops
    b.finished()
    b.submitted()
    assert b.counts() == (2, 1, 1)
    assert b.should_stop() is False  # the idle worker and the claim cover both tasks


def test_a_module_that_fails_to_preload_leaves_the_worker_working(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "pl_raises_on_import.py").write_text("raise RuntimeError('broken module')\n")
    (tmp_path / "pl_exits_on_import.py").write_text("raise SystemExit(3)\n")
    names = ["pl_raises_on_import", "pl_exits_on_import", "no_such_module_anywhere", "json"]
    with ProcessBackend(1, preload=names) as b:
        assert b.wait_ready(120)
        assert b.submit(_loaded, "json").result() is True  # the rest of the list still loaded
        assert b.submit(_loaded, "pl_raises_on_import").result() is False
        # the task that needs the module gets the real error, where it is used
        with pytest.raises(RuntimeError, match="broken module"):
            b.submit(importlib.import_module, "pl_raises_on_import").result()


def test_wait_ready_reports_a_worker_that_died_starting(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "pl_kills_its_worker.py").write_text("import os\nos._exit(7)\n")
    with ProcessBackend(1, preload=["pl_kills_its_worker"]) as b:
        with pytest.raises(BrokenProcessPool):
            b.wait_ready(120)  # raises instead of waiting for a worker that never comes

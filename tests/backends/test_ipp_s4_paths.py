"""Session 4's per-task shortcuts on the ipyparallel path, each tried against what it must keep.

* file names travel only for code pickled by value, and an engine restores them
  walking only the functions the client scanned: a by-value function's traceback
  still names the user's file and line;
* the cache-directory identity check runs at the start of every run and then at
  most every ``RECHECK`` seconds while it passes; a failed check is never remembered.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys

import cloudpickle
import pytest

from pylearn_lab.backends.ipp import root as rootmod
from pylearn_lab.backends.ipp.blobs import run_with_blobs
from pylearn_lab.backends.ipp.packing import pack, travels_by_value
from pylearn_lab.backends.ipp.remote import call_pickled, code_files
from pylearn_lab.cache import Cache
from pylearn_lab.graph.nodes import Call
from pylearn_lab.vm.task import Task, execute

_SOURCE = '''
def helper(x):
    raise ValueError(f"helper says no to {x}")


def node(x):
    return helper(x) + 1
'''


@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    (tmp_path / "s4_user_mod.py").write_text(_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("s4_user_mod")
    yield mod
    sys.modules.pop("s4_user_mod", None)


def test_only_code_travelling_by_value_carries_file_names(user_module) -> None:
    assert travels_by_value("s4_user_mod") and travels_by_value("__main__")
    assert not travels_by_value("pylearn_lab.vm.task") and not travels_by_value("json")
    files = code_files([run_with_blobs, user_module.node], travels_by_value)
    assert files and all(f.endswith("s4_user_mod.py") for f in files.values())
    assert any(k.startswith("helper:") for k in files)  # the helper it calls, too


def test_a_by_value_function_fails_naming_the_users_file_and_line(user_module) -> None:
    task = Task(Call(user_module.node, (3,), {}, "k" * 32, "node"), return_value=True)
    payload = pack(execute, (task,), [execute, user_module.node])
    _, _, files, _ = cloudpickle.loads(payload)
    assert "s4_user_mod.py" in "".join(files.values())
    receipt = cloudpickle.loads(call_pickled(payload, ["k" * 32]))
    assert not receipt.ok and "helper says no to 3" in receipt.error_msg
    assert "s4_user_mod.py" in receipt.traceback and "in helper" in receipt.traceback
    assert "<dynamic-code>" not in receipt.traceback


def test_an_old_payload_without_the_scanned_list_still_runs(user_module) -> None:
    payload = cloudpickle.dumps((abs, (-4,), {}), protocol=5)  # the 3-field form
    assert cloudpickle.loads(call_pickled(payload, [])) == 4


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_directory_check_is_made_again_at_each_run_and_after_recheck(tmp_path, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(rootmod.time, "monotonic", clock)
    d = tmp_path / "c"
    cache = Cache(d)
    watch = rootmod.RootWatch()
    watch.note(cache)
    assert watch.ok(str(d))
    shutil.rmtree(d)
    # within a run, a passed check holds for RECHECK seconds ...
    assert watch.ok(str(d))
    clock.now += rootmod.RECHECK * 1.01
    assert not watch.ok(str(d))  # ... then the deletion is seen
    assert not watch.ok(str(d))  # and a failed check is never remembered
    os.mkdir(d)  # an empty directory where the cache was: still not it
    clock.now += rootmod.RECHECK * 10
    assert not watch.ok(str(d))
    cache.close()


def test_a_new_run_sees_a_directory_replaced_since_the_last_check(tmp_path, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(rootmod.time, "monotonic", clock)
    d = tmp_path / "c"
    old = Cache(d)
    watch = rootmod.RootWatch()
    watch.note(old)
    assert watch.ok(str(d))
    shutil.rmtree(d)
    Cache(d).close()  # another cache at the same path, within the same instant
    watch.note(old)  # the next run with the old Cache object
    assert not watch.ok(str(d))
    new = Cache(d)
    watch.note(new)  # the user opened it again: met afresh
    assert watch.ok(str(d))
    new.close()
    old.close()

"""Process workers: a thread budget of cores ÷ workers, a clear main-guard error, quiet Ctrl-C.

Real worker processes (spawn), real scripts run with the venv's Python.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pylearn_lab.backends import ProcessBackend
from pylearn_lab.backends.threadlimits import limit_threads, thread_budget

ROOT = Path(__file__).parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)
    return env


def _pools() -> list[int]:
    from threadpoolctl import threadpool_info

    return [p["num_threads"] for p in threadpool_info()]


def test_thread_budget_rule():
    assert thread_budget(2, cores=2) == 1 and thread_budget(4, cores=2) == 1
    assert thread_budget(2, cores=8) == 4 and thread_budget(3, cores=8) == 2
    assert thread_budget(2, cores=8, threads=1) == 1
    assert thread_budget(2, cores=8, threads=False) is None
    with pytest.raises(ValueError, match="positive int"):
        thread_budget(2, threads=-1)


def test_workers_get_cores_divided_by_workers_by_default():
    cores = len(os.sched_getaffinity(0))
    with ProcessBackend(2) as b:
        assert b.threads_per_worker == max(1, cores // 2)
        env = b.submit(os.getenv, "OMP_NUM_THREADS").result()
        pools = b.submit(_pools).result()
    assert env == str(max(1, cores // 2))
    assert pools and set(pools) == {max(1, cores // 2)}  # numpy's BLAS, already loaded


def test_the_budget_is_overridable():
    with ProcessBackend(1, threads_per_worker=2) as b:
        assert b.submit(os.getenv, "OMP_NUM_THREADS").result() == "2"
    with ProcessBackend(1, threads_per_worker=False) as b:
        assert b.threads_per_worker is None
        # False: the workers' environment is left as the parent's (which an earlier library,
        # e.g. dask.distributed, may have set)
        assert b.submit(os.getenv, "OMP_NUM_THREADS").result() == os.environ.get("OMP_NUM_THREADS")


def test_limit_threads_is_callable_on_an_engine_like_process():
    # what the ipp backend calls on each engine: plain function, importable, picklable
    with ProcessBackend(1, threads_per_worker=False) as b:
        assert b.submit(limit_threads, 1).result() == 1
        assert b.submit(limit_threads, None).result() is None


def test_a_script_without_the_main_guard_fails_once_with_the_advice(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent("""
        import pylearn_lab as pl

        @pl.component
        def double(x: int) -> int:
            return 2 * x

        print(pl.run(double(21), backend="processes", cache=False))
        """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=_env(), cwd=tmp_path, timeout=120)
    assert out.returncode != 0
    assert out.stderr.count("BackendError:") == 1, out.stderr  # once, not once per retry
    assert 'under `if __name__ == "__main__":`' in out.stderr and "BrokenProcessPool" not in out.stderr
    assert "bootstrapping" not in out.stderr  # no worker ever started
    guarded = tmp_path / "guarded.py"
    guarded.write_text(script.read_text().replace(
        "print(pl.run", 'if __name__ == "__main__":\n    print(pl.run'))
    ok = subprocess.run([sys.executable, str(guarded)], capture_output=True, text=True,
                        env=_env(), cwd=tmp_path, timeout=120)
    assert ok.returncode == 0 and ok.stdout.strip() == "42", ok.stderr


def test_ctrl_c_to_the_process_group_prints_nothing_from_workers(tmp_path):
    script = tmp_path / "interrupted.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys, time
        from pylearn_lab.backends import ProcessBackend

        if __name__ == "__main__":
            # a launcher may start us with SIGINT ignored (inherited by workers): restore it
            signal.signal(signal.SIGINT, signal.default_int_handler)
            b = ProcessBackend(2)
            futs = [b.submit(time.sleep, 1.5) for _ in range(2)]
            time.sleep(0.5)
            [b.submit(os.getpid).result() for _ in range(2)]  # both workers are up
            print("ready", flush=True)
            try:
                os.killpg(os.getpgid(0), signal.SIGINT)  # what a terminal or a kernel does
                time.sleep(5)
            except KeyboardInterrupt:
                print("parent interrupted", flush=True)
            b.close()
            print("closed", flush=True)
        """))
    err = tmp_path / "stderr.txt"
    with err.open("w") as f:  # a file, as a kernel's log: workers write to it directly
        out = subprocess.run([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=f,
                             text=True, env=_env(), cwd=tmp_path, timeout=120,
                             start_new_session=True)
    time.sleep(0.5)  # let any worker finish writing
    assert out.stdout.split() == ["ready", "parent", "interrupted", "closed"], out
    text = err.read_text()
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text


def test_workers_leave_sigint_to_the_parent():
    # the mechanism behind the quiet shutdown above: a worker ignores SIGINT, the parent
    # (the kernel) decides what happens to the run and shuts the pool down
    with ProcessBackend(2) as b:
        got = {b.submit(signal.getsignal, signal.SIGINT).result() for _ in range(4)}
    assert got == {signal.SIG_IGN}


def test_a_module_edited_and_reloaded_runs_its_new_code_on_live_workers(tmp_path, monkeypatch):
    import importlib

    import pylearn_lab as pl

    monkeypatch.syspath_prepend(str(tmp_path))
    src = tmp_path / "pl_edit_me.py"
    src.write_text("from pylearn_lab import component\n\ndef helper(x):\n    return x + 1\n\n"
                   "@component\ndef answer(x: int) -> int:\n    return helper(x)\n")
    mod = importlib.import_module("pl_edit_me")
    try:
        with ProcessBackend(1) as b:
            assert pl.run(mod.answer(1), backend=b, cache=False) == 2
            src.write_text(src.read_text().replace("x + 1", "x + 100"))
            st = src.stat()
            os.utime(src, (st.st_atime + 10, st.st_mtime + 10))
            mod = importlib.reload(mod)
            # same worker process, which imported the old module (the helper travels by
            # reference): it must not run the old helper under the new key
            assert pl.run(mod.answer(1), backend=b, cache=False) == 101
    finally:
        sys.modules.pop("pl_edit_me", None)

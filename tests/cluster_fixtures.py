"""The shared ipyparallel cluster fixture and helpers for cluster tests.

See ``tests/conftest.py`` for how to use ``ipp_cluster``; test modules import the
helpers from here: ``from cluster_fixtures import wait_until, use_cluster``.
"""


from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ipp_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A 2-engine ipyparallel cluster on loopback, shared by the whole session."""
    pytest.importorskip("ipyparallel")
    from pylearn_lab.backends.ipp import IPyParallelBackend

    profile = tmp_path_factory.mktemp("ipp-profile")
    backend = IPyParallelBackend.start(n=2, profile_dir=str(profile), cluster_id="pytest")
    try:
        yield backend
    finally:
        backend.stop()


def use_cluster(backend: Any) -> None:
    """Make ``backend`` the session's cluster, so ``backend="ipyparallel"`` resolves to it."""
    from pylearn_lab.backends.registry import set_current_cluster

    set_current_cluster(backend)


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``predicate`` every 20 ms until it is truthy; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(0.02)


# -- engines that live on "another host" ------------------------------------------------------
def unshare_works() -> bool:
    """True when this process may create UTS + mount namespaces (root on Linux)."""
    import shutil
    import subprocess

    if shutil.which("unshare") is None:
        return False
    try:
        r = subprocess.run(["unshare", "--uts", "--mount", "--fork", "sh", "-c",
                            "hostname probe-host && mount --make-rprivate /"],
                           capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


class OtherHosts:
    """Engines started under ``unshare --uts --mount``: their own hostname and their own
    view of the filesystem, connected to a controller of this host over 127.0.0.1.

    ``add(hostname, binds=[(src, dst, read_only)], hide=[dir])`` starts one engine whose
    namespace bind-mounts ``src`` at ``dst`` (``dst`` must exist, e.g. an empty dir under
    the test's tmp) and mounts an empty tmpfs over each ``hide`` directory. The mounts
    live only in that namespace and vanish with it. :meth:`stop` ends every engine this
    helper started, by its process handle.
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.procs: list[Any] = []

    def add(self, hostname: str, binds: list[tuple[str, str, bool]] = (),  # type: ignore[assignment]
            hide: list[str] = (), wait: bool = True) -> int:  # type: ignore[assignment]
        """Start one engine; returns its engine id once registered (``wait``), else -1."""
        import shlex
        import subprocess
        import sys
        from pathlib import Path

        cl = self.backend.cluster
        url = Path(cl.profile_dir, "security", f"ipcontroller-{cl.cluster_id}-engine.json")
        steps = [f"hostname {shlex.quote(hostname)}", "mount --make-rprivate /"]
        for src, dst, ro in binds:
            steps.append(f"mount --bind {shlex.quote(src)} {shlex.quote(dst)}")
            if ro:
                steps.append(f"mount -o remount,bind,ro {shlex.quote(dst)}")
        for d in hide:
            steps.append(f"mount -t tmpfs -o size=1m,mode=0700 pylearn-hide {shlex.quote(d)}")
        steps.append(f"exec {shlex.quote(sys.executable)} -m ipyparallel.engine "
                     f"--file={shlex.quote(str(url))} --log-level=ERROR")
        before = set(self.backend.client.ids)
        # --kill-child: ending unshare (stop()) ends the engine it forked, too
        proc = subprocess.Popen(["unshare", "--uts", "--mount", "--fork", "--kill-child=SIGTERM",
                                 "sh", "-c", " && ".join(steps)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(proc)
        if not wait:
            return -1
        new = wait_until(lambda: (set(self.backend.client.ids) - before) or proc.poll() is not None,
                         timeout=60, what=f"engine on {hostname} registered")
        if proc.poll() is not None:
            pytest.fail(f"engine on {hostname} exited: {proc.stderr.read().decode()[-2000:]}")
        return max(new)

    def stop(self) -> None:
        import subprocess

        import psutil

        for p in self.procs:
            if p.poll() is None:
                # the engine (and its nanny) first: unshare did not pass a SIGTERM on, so
                # each teardown waited 10 s per engine before killing it
                try:
                    kids = psutil.Process(p.pid).children(recursive=True)
                except psutil.Error:
                    kids = []
                for k in kids:
                    try:
                        k.terminate()
                    except psutil.Error:
                        pass
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        self.procs.clear()


class PeakRSS:
    """The peak resident memory of this process while the ``with`` block runs (sampled
    every 5 ms in a thread), relative to its value on entry: ``.peak_mib``."""

    def __enter__(self) -> "PeakRSS":
        import threading

        import psutil

        self._proc = psutil.Process()
        self.base = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()

        def sample() -> None:
            while not self._stop.wait(0.005):
                self.peak = max(self.peak, self._proc.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def peak_mib(self) -> float:
        return (self.peak - self.base) / 2**20

"""``%pylearn cluster``: real ipyparallel clusters started, used and stopped by the magics.

The promise under test: a cluster the magics start is gone (controller,
engines, nannies) after ``%pylearn cluster stop``, after ``%unload_ext``, and
after the kernel shuts down. Processes are identified as the children that
appeared during ``cluster start`` (the suite's shared cluster is left alone).
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest
from cluster_fixtures import wait_until
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from pylearn_lab.backends.registry import current_cluster, get_default_backend, set_current_cluster

pytestmark = pytest.mark.cluster
pytest.importorskip("ipyparallel")


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _magic(ip, line: str) -> str:
    with capture_output() as cap:
        ip.run_line_magic("pylearn", line)
    return cap.stdout


def _start(ip, n: int) -> set[int]:
    before = _children()
    out = _magic(ip, f"cluster start -n {n}")
    assert f"cluster started: {n} engine" in out
    started = _children() - before
    assert started, "cluster start launched no process"
    return started


@pytest.mark.timeout(240)
def test_start_run_cells_stop_leaves_nothing_running(ip, tmp_path):
    pids = _start(ip, 2)
    assert get_default_backend() == "ipyparallel"
    assert "cluster   2 engines (ipyparallel, started by %pylearn)" in _magic(ip, "")
    assert "\n  2 engines, " in _magic(ip, "cluster status")
    with pytest.raises(UsageError, match="already has a cluster.*cluster stop"):
        _magic(ip, "cluster start -n 1")

    # a graph runs on the engines (other processes), through the session default backend
    ip.run_cell("import os, pylearn_lab as pl\n@pl.component\ndef where(i):\n"
                "    return os.getpid()\nwhere_all = [where(i) for i in range(4)]")
    out = _magic(ip, "run where_all -o pids")
    assert "4 computed" in out
    assert os.getpid() not in ip.user_ns["pids"] and set(ip.user_ns["pids"]) <= pids

    # a cell runs on an engine as a function of its inputs, and is then served from the cache
    ip.run_cell(f"log = {str(tmp_path / 'log')!r}\nbase = 7")
    body = "import os\nopen(log, 'a').write('.')\nengine_pid = os.getpid()\nout = base * 6\n"
    with capture_output() as cap:
        ip.run_cell_magic("pylearn", "--backend ipyparallel", body)
    assert ip.user_ns["out"] == 42 and ip.user_ns["engine_pid"] in pids
    with capture_output() as cap:
        ip.run_cell_magic("pylearn", "--backend ipyparallel", body)
    assert "served from cache" in cap.stdout and len((tmp_path / "log").read_text()) == 1

    out = _magic(ip, "cluster stop")
    assert "cluster stopped; default backend: serial" in out
    assert current_cluster() is None and get_default_backend() == "serial"
    wait_until(lambda: not _alive(pids), timeout=60, what=f"cluster processes {pids} to exit")
    assert "no cluster" in _magic(ip, "cluster status")
    with pytest.raises(UsageError, match="needs a cluster"):
        ip.run_cell_magic("pylearn", "--backend ipyparallel", "v = 1\n")


@pytest.mark.timeout(180)
def test_unloading_the_extension_stops_the_cluster(ip):
    pids = _start(ip, 1)
    ip.run_line_magic("unload_ext", "pylearn_lab")
    assert current_cluster() is None
    wait_until(lambda: not _alive(pids), timeout=60, what="cluster processes to exit")
    ip.run_line_magic("load_ext", "pylearn_lab")  # the fixture unloads it again


@pytest.mark.timeout(180)
def test_connect_and_disconnect_leave_the_cluster_running(ip, ipp_cluster):
    set_current_cluster(None)  # starting the shared cluster made it current; connect anew
    security = Path(ipp_cluster.cluster.profile_dir) / "security"
    (url_file,) = security.glob("ipcontroller-*-client.json")
    out = _magic(ip, f"cluster connect --file {url_file}")
    assert "connected: 2 engines (ipyparallel, connected)" in out
    assert get_default_backend() == "ipyparallel"
    ip.run_cell("import pylearn_lab as pl\n@pl.component\ndef triple(i):\n    return 3 * i\n"
                "t = triple(5)")
    assert "1 computed" in _magic(ip, "run t --no-cache")
    out = _magic(ip, "cluster stop")
    assert "disconnected from the cluster; default backend: serial" in out
    # the shared cluster still answers
    assert ipp_cluster.submit(pow, 2, 5).result(timeout=30) == 32
    with pytest.raises(UsageError, match="could not connect"):
        _magic(ip, f"cluster connect --file {url_file.parent / 'nope.json'}")


@pytest.mark.timeout(240)
def test_kernel_shutdown_stops_the_cluster(tmp_path):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        code = ("import psutil\n%load_ext pylearn_lab\n%pylearn cluster start -n 1\n"
                "print('PIDS', sorted(p.pid for p in psutil.Process().children(recursive=True)\n"
                "                     if 'ipyparallel' in ' '.join(p.cmdline())))")
        lines: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                lines.append(msg["content"]["text"])

        reply = kc.execute_interactive(code, timeout=180, output_hook=hook)
        assert reply["content"]["status"] == "ok", reply["content"]
        text = "".join(lines)
        assert "cluster started: 1 engine" in text
        pids = {int(p) for p in text.split("PIDS [")[1].split("]")[0].split(",")}
        assert len(pids) >= 2 and _alive(pids) == pids  # a controller and an engine at least
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    wait_until(lambda: not _alive(pids), timeout=60, what="cluster processes to exit")

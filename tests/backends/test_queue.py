"""QueueBackend and ``python -m pylearn_lab worker`` against a real PostgreSQL server.

Workers are real subprocesses started with the command a Slurm array would run.
Side effects are counted in files (``ipp_nodes``): nodes run in the workers.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import ipp_nodes as nodes
import pytest
from cluster_fixtures import wait_until

import pylearn_lab as pl
from pylearn_lab.backends.queue_backend import QueueBackend
from pylearn_lab.cache.keyring import create_team_key
from pylearn_lab.errors import BackendError, IntegrityError, NodeError

psycopg = pytest.importorskip("psycopg")

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]
HERE = Path(__file__).resolve().parent


class Team:
    """One test's queue: a database, a shared directory, a team key file, its workers
    (stopped at the end)."""

    def __init__(self, url: str, root: Path) -> None:
        self.url, self.root = url, root
        self.blobs = root / "shared"
        (root / "keys").mkdir(mode=0o750)
        self.key = create_team_key(root / "keys" / "team.key")
        self.log = root / "log"
        self.log.mkdir()
        self.procs: list[subprocess.Popen] = []

    def cache(self, path: Path | None = None) -> pl.Cache:
        return pl.Cache(self.url, blobs=path or self.blobs, trust=self.key)

    def backend(self, **kw) -> QueueBackend:
        return QueueBackend(self.url, key=self.key, **kw)

    def start_workers(self, n: int, *extra: str, blobs: Path | None = None,
                      key: Path | None | str = "team") -> list[int]:
        keyarg = [] if key is None else ["--key", str(self.key if key == "team" else key)]
        new = [subprocess.Popen([sys.executable, "-m", "pylearn_lab", "worker", self.url,
                                 "--blobs", str(blobs or self.blobs), *keyarg, "--poll", "0.05",
                                 *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(n)]
        self.procs += new
        return [p.pid for p in new]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def team(pg_server, tmp_path):
    t = Team(pg_server.new_database(), tmp_path)
    t.cache()  # creates the shared directory and its marker, as the first client does
    try:
        yield t
    finally:
        t.stop()


def _tracked(log: Path):
    made = nodes.make(str(log), 50_000, os.getpid())
    return nodes.sum_of(str(log), nodes.scale(str(log), made, 2.0))


def test_workers_run_the_jobs_and_store_them_in_the_team_cache(team) -> None:
    pids = team.start_workers(2)
    q = team.backend()
    cache = team.cache()
    assert q.sees_store(cache) and not q.sees_store(pl.Cache(team.root / "private"))
    total = pl.run(_tracked(team.log), backend=q, cache=cache, progress=False)
    assert total == pytest.approx(2 * sum(range(50_000)))
    assert nodes.count(team.log, "client-unpickled") == 0  # intermediates stayed in the store
    recs = cache.records()
    assert len(recs) == 3 and {r.pid for r in recs} <= set(pids)
    # blob files are named by key alone now: the large values are files the workers wrote
    blobs = {p.name for p in (team.blobs / "blobs").glob("*/*")}
    assert blobs and blobs <= {r.key for r in recs}
    st = wait_until(lambda: (s := q.status())["workers"] == 2 and s, what="both workers seen")
    assert st["done"] == 3 and st["queued"] == st["running"] == 0
    assert "2 workers" in str(st)
    assert pl.run([nodes.tiny(i) for i in range(40)], backend=q, cache=cache,
                  progress=False) == [i * i + 1 for i in range(40)]
    assert pl.call(nodes.plus.fn, (str(team.log), 2, 3), backend=q, cache=cache).result(60) == 5
    password = team.url.split(":")[2].split("@")[0]
    with psycopg.connect(team.url) as conn:  # job rows never hold the database password
        payloads = [bytes(r[0]) for r in conn.execute("SELECT payload FROM pylearn_jobs")]
    assert len(payloads) == 44 and not any(password.encode() in p for p in payloads)
    assert q.purge(older_than=3600) == 0 and q.purge() >= 44  # 3 + 40 nodes + the call
    assert q.status()["done"] == 0 and cache.contains(nodes.tiny(3))  # results stay cached
    q.close()


def test_without_a_team_cache_values_travel_back_and_the_client_stores_them(team) -> None:
    pids = team.start_workers(1)
    q = team.backend()
    local = pl.Cache(team.root / "laptop")
    assert pl.run(_tracked(team.log), backend=q, cache=local, progress=False) == \
        pytest.approx(2 * sum(range(50_000)))
    assert nodes.count(team.log, "client-unpickled") >= 2
    recs = local.records()
    # computed by the worker (the record says where), stored here from the job rows
    assert len(recs) == 3 and {r.pid for r in recs} == set(pids)
    q.close()


def test_a_queue_run_survives_the_notebook_exiting(team) -> None:
    """A client queues a graph and exits before any worker exists; workers started later
    run it; a later run of the same graph collects everything, computing nothing again."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(HERE)!r})
        import ipp_nodes as nodes, pylearn_lab as pl
        from pylearn_lab.backends.queue_backend import QueueBackend
        q = QueueBackend({team.url!r}, key={str(team.key)!r})
        cache = pl.Cache({team.url!r}, blobs={str(team.blobs)!r}, trust={str(team.key)!r})
        leaves = [nodes.plus({str(team.log)!r}, i, 1) for i in range(4)]
        handle = pl.run(leaves, backend=q, cache=cache, wait=False, progress=False)
        import time
        while q.status()["queued"] < 4:
            time.sleep(0.05)
        os._exit(0)   # the notebook's kernel dies: no cleanup of any kind
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    q = team.backend()
    assert q.status()["queued"] == 4
    team.start_workers(2)
    wait_until(lambda: q.status()["done"] == 4, timeout=60, what="the queued jobs to finish")
    leaves = [nodes.plus(str(team.log), i, 1) for i in range(4)]
    total = nodes.plus(str(team.log), nodes.plus(str(team.log), leaves[0], leaves[1]),
                       nodes.plus(str(team.log), leaves[2], leaves[3]))
    assert pl.run(total, backend=q, cache=team.cache(), progress=False) == 1 + 2 + 3 + 4
    assert nodes.count(team.log, "plus") == 4 + 3  # the leaves ran once, in the workers
    q.close()


def test_a_worker_killed_mid_job_loses_nothing(team) -> None:
    gate = team.root / "gate"
    pids = team.start_workers(2, "--lease", "1.5")
    q = team.backend()
    cache = team.cache()
    done_first = nodes.plus(str(team.log), 2, 3)
    assert pl.run(done_first, backend=q, cache=cache, progress=False) == 5
    handle = pl.run([nodes.retried(str(team.log), str(gate)), done_first], backend=q,
                    cache=cache, wait=False, progress=False)
    pid_file = wait_until(lambda: next(team.log.glob("pid-retried-*"), None),
                          what="the job started")
    victim = int(pid_file.name.rsplit("-", 1)[1])
    assert victim in pids
    os.kill(victim, signal.SIGKILL)  # no cleanup: its lease must lapse
    assert handle.result(timeout=60) == [7, 5]
    assert nodes.count(team.log, "retried-start") == 2  # killed once, then on the other worker
    assert nodes.count(team.log, "retried-done") == 1
    assert nodes.count(team.log, "plus") == 1  # the finished node was not run again
    with psycopg.connect(team.url) as conn:
        attempts = conn.execute("SELECT attempts FROM pylearn_jobs WHERE label = 'retried'"
                                ).fetchone()[0]
    assert attempts == 2
    gate.touch()
    q.close()


class _Canary:
    """Unpickling this creates a directory: proof that a planted payload ran."""

    def __init__(self, where: Path) -> None:
        self.where = str(where)

    def __reduce__(self):
        return (os.mkdir, (self.where,))


def test_a_planted_job_is_never_unpickled_by_a_worker(team) -> None:
    canary = team.root / "payload-ran"
    with psycopg.connect(team.url, autocommit=True) as conn:
        team.backend().close()  # the tables exist
        conn.execute("INSERT INTO pylearn_jobs (job_key, keys, label, payload, payload_mac) "
                     "VALUES ('planted', '{}', 'evil', %s, %s)",
                     (pickle.dumps(_Canary(canary)), "0" * 64))
    team.start_workers(1)
    with psycopg.connect(team.url) as conn:
        wait_until(lambda: conn.execute("SELECT state FROM pylearn_jobs WHERE job_key = "
                                        "'planted'").fetchone()[0] == "failed", what="refusal")
        error = conn.execute("SELECT error FROM pylearn_jobs WHERE job_key = 'planted'"
                             ).fetchone()[0]
    assert "no valid signature" in error and not canary.exists()


def test_a_forged_result_is_refused_by_the_client(team) -> None:
    canary = team.root / "result-ran"
    q = team.backend()
    fut = q.submit(abs, -3)  # no worker yet: the "attacker" answers first
    with psycopg.connect(team.url, autocommit=True) as conn:
        conn.execute("UPDATE pylearn_jobs SET state = 'done', result = %s, result_mac = 'f00' "
                     "WHERE label = 'abs'", (pickle.dumps(_Canary(canary)),))
    with pytest.raises(IntegrityError, match="not signed with this queue's key"):
        fut.result(timeout=30)
    assert not canary.exists()
    q.close()


def test_workers_and_clients_need_the_same_key(team, tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pylearn_lab", "worker", team.url, "--blobs",
                           str(team.blobs), "--key", str(tmp_path / "no-such.key"),
                           "--idle-exit", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no key file at" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "pylearn_lab", "worker",
                           "postgresql://nobody:hunter2@127.0.0.1:9/x", "--blobs",
                           str(team.blobs)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "cannot reach the PostgreSQL cache index" in proc.stderr
    assert "hunter2" not in proc.stderr
    with pytest.raises(BackendError, match="expected the path of a team key file"):
        QueueBackend(team.url, key=42)  # type: ignore[arg-type]


@pytest.mark.parametrize("worker_key", ["other", "personal"])
def test_a_worker_with_another_key_fails_jobs_with_a_clear_error(team, tmp_path,
                                                                 worker_key) -> None:
    """A worker given another team key, or none (its user's personal key), refuses the
    team's jobs unread, and the client says why."""
    other = create_team_key(team.root / "keys" / "other.key")
    team.start_workers(1, key=other if worker_key == "other" else None)
    q = team.backend()
    with pytest.raises(BackendError, match="another key than its clients"):
        pl.run(nodes.tiny(5), backend=q, cache=team.cache(), progress=False, timeout=60)
    q.close()


def test_a_personal_key_queue_needs_no_key_file(team) -> None:
    """Default: client and worker of one user sign with that user's personal key."""
    team.start_workers(1, key=None)
    q = QueueBackend(team.url)
    assert q.submit(abs, -7).result(timeout=60) == 7
    q.close()


def test_two_clients_queueing_the_same_node_share_one_job(team) -> None:
    """Single flight in the queue itself: a job is its node keys, whoever queues it (the VM
    sends nodes through the backend's task plane, which names their keys)."""
    from pylearn_lab.vm.task import Task

    def queue_node(backend):
        plane = backend.capabilities().task_plane
        return plane.submit_tasks([Task(expr.call, return_value=True)])

    expr = nodes.plus(str(team.log), 40, 2)
    a, b = team.backend(), team.backend()
    fa, fb = queue_node(a), queue_node(b)
    assert fa.job == fb.job and a.status()["queued"] == 1
    team.start_workers(2)
    assert fa.result(timeout=60).value == fb.result(timeout=60).value == 42
    assert nodes.count(team.log, "plus") == 1
    # the notebook left and came back: the finished job's value is collected, not recomputed
    again = queue_node(team.backend())
    assert again.done() and again.result().value == 42 and nodes.count(team.log, "plus") == 1
    # a plain call is a job of its own, never merged with an equal one
    assert a.submit(abs, -5).job != b.submit(abs, -5).job
    a.close()
    b.close()


@pl.component
def kills_its_worker(log: str) -> int:
    Path(log, f"fatal-{os.getpid()}-{os.urandom(4).hex()}").touch()  # as nodes.mark does
    os._exit(3)  # as a segfault or the OOM killer would: no cleanup, no result


def test_a_job_that_kills_every_worker_fails_after_its_attempts(team) -> None:
    team.start_workers(6, "--lease", "0.6")
    q = team.backend(max_attempts=3)
    ok = nodes.plus(str(team.log), 1, 1)
    with pytest.raises(NodeError, match="worker was lost") as info:
        pl.run([kills_its_worker(str(team.log)), ok], backend=q, cache=team.cache(),
               progress=False, retries=1, timeout=120)
    assert "lost 3 times" in str(info.value)
    assert nodes.count(team.log, "fatal") == 6  # 3 attempts per job, and one retry by the run
    assert team.cache().contains(ok)  # the other branch finished
    q.close()


def test_a_queue_and_a_team_cache_with_different_keys_is_a_clear_error(team) -> None:
    q = QueueBackend(team.url)  # the personal key; the team cache signs with the team key
    with pytest.raises(BackendError, match="QueueBackend\\(url, key=KEYFILE\\)"):
        pl.run(nodes.tiny(2), backend=q, cache=team.cache(), progress=False, timeout=60)
    assert q.status()["queued"] == 0  # nothing was queued
    q.close()

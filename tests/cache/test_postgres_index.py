"""The PostgreSQL index against a real server (``pg_server``, see ``tests/pg_fixtures.py``).

Each test gets its own database. Side effects of nodes that run in other
processes are counted in files (``ipp_nodes``), never in memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning
from pylearn_lab.cache.postgres_index import PostgresIndex, is_database_url, masked_url
from pylearn_lab.errors import CacheError

psycopg = pytest.importorskip("psycopg")

BACKENDS = Path(__file__).resolve().parents[1] / "backends"  # ipp_nodes: counting node functions
sys.path.insert(0, str(BACKENDS))
sys.path.insert(0, str(BACKENDS.parent))  # pg_fixtures
import ipp_nodes as nodes  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def db(pg_server) -> str:
    return pg_server.new_database()


@pytest.fixture
def log(tmp_path: Path) -> str:
    d = tmp_path / "log"
    d.mkdir()
    return str(d)


@pl.component
def add(x: int, y: int) -> int:
    return x + y


@pl.component
def make(n: int = 10, seed: int = 0) -> list:
    return [(i * 7 + seed) % 5 for i in range(n)]


@pl.component
def fit(data: list, lr: float = 0.1, l2: float = 0.0) -> dict:
    return {"acc": round(1 - abs(lr - 0.2) - l2, 6), "loss": round(sum(data) * lr, 6)}


def test_values_small_and_large_round_trip_through_the_database(db, tmp_path) -> None:
    cache = pl.Cache(db, blobs=tmp_path / "blobs")
    assert cache.shareable and cache.location == str(tmp_path / "blobs")
    big = np.arange(100_000.0)  # 800 kB: a blob file; the small one lives in its row
    assert cache.save("a" * 32, {"acc": 0.9}, {"func": "m.f", "params": {"lr": 0.1}})
    assert cache.save("b" * 32, big)
    assert not cache.save("a" * 32, {"acc": 0.1})  # the first writer wins
    assert cache.lookup("a" * 32) == (True, {"acc": 0.9})
    hit, value = cache.lookup("b" * 32)
    assert hit and np.array_equal(value, big)
    assert len(list((tmp_path / "blobs" / "blobs").glob("*/*"))) == 1
    assert not (tmp_path / "blobs" / "index.sqlite").exists()  # rows are in the database
    assert cache.contains_many(["a" * 32, "b" * 32, "c" * 32]) == {"a" * 32, "b" * 32}
    rec = cache.record("a" * 32)
    assert (rec.func, rec.params, rec.summary) == ("m.f", {"lr": 0.1}, {"acc": 0.9})
    info = cache.info()
    assert info.entries == 2 and info.bytes > 800_000
    assert cache.invalidate("b" * 32) == 1
    assert cache.lookup("b" * 32) == (False, None)
    assert not list((tmp_path / "blobs" / "blobs").glob("*/*"))  # its blob went with the row
    assert cache.verify().ok
    cache.close()


def test_max_bytes_evicts_least_recently_used_rows_and_blobs(db, tmp_path) -> None:
    cache = pl.Cache(db, blobs=tmp_path / "b", max_bytes="2MB")
    for i in range(4):
        cache.save(f"{i}" * 32, np.full(100_000, float(i)))  # 800 kB each
        time.sleep(0.01)
    assert cache.info().bytes <= 2_000_000
    assert cache.contains_many([f"{i}" * 32 for i in range(4)]) == {"2" * 32, "3" * 32}


def test_a_planted_row_is_refused_and_removed(db, tmp_path) -> None:
    """Whoever can write the database but lacks the secret cannot make an entry appear."""
    cache = pl.Cache(db, blobs=tmp_path / "b")
    cache.save("k" * 32, 1)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE pylearn_entries SET inline = (SELECT inline FROM pylearn_entries "
                     "WHERE key = %s), key = %s WHERE key = %s", ("k" * 32, "p" * 32, "k" * 32))
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup("p" * 32) == (False, None)
    assert not cache.contains("p" * 32)


def test_claims_are_single_flight_and_expire_on_the_servers_clock(db, tmp_path) -> None:
    ix = PostgresIndex(db)
    assert ix.try_claim_many(["x", "y", "x"], "host-a:1:a", 60) == {"x", "y"}
    assert ix.try_claim_many(["x", "z"], "host-b:2:b", 60) == {"z"}  # x is held
    assert ix.claim_owner("x") == "host-a:1:a" and ix.try_claim("x", "host-a:1:a", 60)
    assert not ix.try_claim("x", "host-b:2:b", 60)
    ix.release_many(["x"], "host-b:2:b")  # not the owner: nothing happens
    assert ix.claim_owner("x") == "host-a:1:a"
    ix.release("x", "host-a:1:a")
    assert ix.try_claim("x", "host-b:2:b", 0.2)
    time.sleep(0.4)  # lapsed: anyone may take it
    assert ix.claim_owner("x") is None and ix.try_claim("x", "host-c:3:c", 60)
    assert ix.take_over("x", "host-d:4:d", 60, "host-c:3:c")
    assert ix.claim_owner("x") == "host-d:4:d"
    ix.close()


def test_two_processes_with_different_paths_to_one_blob_dir_compute_each_node_once(
        db, log, tmp_path) -> None:
    """Two "hosts": separate processes reach the shared directory by different paths (a
    path through another directory stands in for another mount point -- not a symlink,
    which a cache refuses to follow) and share the database. Both plan the same
    graph while its leaves block; each node runs once, and both get the answer."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (tmp_path / "mnt-on-host-b").mkdir()
    other_path = tmp_path / "mnt-on-host-b" / ".." / "shared"
    gate = str(tmp_path / "gate")
    script = textwrap.dedent("""
        import sys, pathlib
        sys.path.insert(0, {backends!r})
        import ipp_nodes as nodes, pylearn_lab as pl
        log, gate, who = {log!r}, {gate!r}, sys.argv[1]
        leaves = [nodes.gated(log, i, gate) for i in range(3)]
        graph = nodes.plus(log, nodes.plus(log, leaves[0], leaves[1]), leaves[2])
        seen = []
        def note(e):
            seen.append(e)
            if e.kind == "queued":
                pathlib.Path(log, "..", "planned-" + who).touch()
        cache = pl.Cache({db!r}, blobs=sys.argv[2])
        value = pl.run(graph, backend="threads", cache=cache, callbacks=[note], progress=False)
        waited = sum(1 for e in seen if e.info.get("computed_by") == "another run")
        print(value, waited, cache.location)
    """).format(backends=str(BACKENDS), log=log, gate=gate, db=db)
    procs = [subprocess.Popen([sys.executable, "-c", script, who, str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who, path in (("a", shared), ("b", other_path))]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"planned-{w}").exists() for w in "ab"):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
                [p.communicate() for p in procs if p.poll() is not None]
            time.sleep(0.05)
        Path(gate).touch()
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        Path(gate).touch()
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    results = [out.split() for out, _ in outs]
    assert [r[0] for r in results] == ["3", "3"]
    assert {r[2] for r in results} == {str(shared), str(other_path)}  # two different paths
    assert sum(int(r[1]) for r in results) >= 3  # one process waited for the other's nodes
    assert [nodes.count(log, f"done{i}") for i in range(3)] == [1, 1, 1]
    assert nodes.count(log, "plus") == 2
    assert len(pl.Cache(db, blobs=shared).records()) == 5


def test_results_lineage_and_why_read_the_database(db, tmp_path) -> None:
    cache = pl.Cache(db, blobs=tmp_path / "b")
    sw = pl.sweep(fit(make(n=12)), grid={"lr": [0.1, 0.2], "l2": [0.0, 0.5]}, cache=cache)
    t = pl.results(fit, cache=cache)
    assert len(t) == 4
    got = {(r["lr"], r["l2"]): r for r in t.to_dict("records")}
    for p, v, k in zip(sw.points, sw.values, sw.keys):
        row = got[(p["lr"], p["l2"])]
        assert row["acc"] == v["acc"] and row["key"] == k and row["make.n"] == 12  # upstream: label.param
    root = pl.lineage(sw.keys[0], cache=cache)
    assert root.label == "fit" and [n.label for n in root.walk()] == ["fit", "make"]
    w = pl.why(fit(make(n=12), lr=0.3), cache=cache)
    assert not w.hit and [(d.kind, d.name) for d in w.differences] == [("argument", "lr")]
    assert pl.why(fit(make(n=12), lr=0.2, l2=0.5), cache=cache).hit


def test_pylearn_cache_and_pylearn_blobs_select_a_team_cache(db, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PYLEARN_CACHE", db)
    monkeypatch.setenv("PYLEARN_BLOBS", str(tmp_path / "b"))
    cache = pl.Cache()
    assert cache.index_url == db and cache.location == str(tmp_path / "b")
    assert pl.run(add(2, 3), cache=cache, progress=False) == 5
    assert pl.Cache(db).contains(add(2, 3))  # the blobs directory from PYLEARN_BLOBS
    spec = cache.spec()
    assert spec[0] == "postgresql" and pl.Cache.from_spec(spec).contains(add(2, 3))


def test_a_counted_function_runs_once_then_hits(db, tmp_path, log) -> None:
    cache = pl.Cache(db, blobs=tmp_path / "b")
    exprs = [nodes.plus(log, i, 1) for i in range(20)]
    assert pl.run(exprs, cache=cache, progress=False) == list(range(1, 21))
    assert pl.run(exprs, cache=pl.Cache(db, blobs=tmp_path / "b"), progress=False) == \
        list(range(1, 21))
    assert nodes.count(log, "plus") == 20


def test_bad_urls_missing_blobs_and_a_missing_driver_give_clear_errors(pg_server, tmp_path,
                                                                      monkeypatch) -> None:
    with pytest.raises(CacheError, match="blobs='/shared/dir'") as info:
        pl.Cache(pg_server.url)
    assert pg_server.password not in str(info.value)
    dead = f"postgresql://pylearn:{pg_server.password}@127.0.0.1:9/nothing"
    with pytest.raises(CacheError, match=r"cannot reach the PostgreSQL cache index at "
                                         r"postgresql://pylearn@127\.0\.0\.1:9/nothing") as info:
        pl.Cache(dead, blobs=tmp_path / "b")
    assert pg_server.password not in str(info.value)
    wrong = pg_server.url.replace(pg_server.password, "guess")
    with pytest.raises(CacheError, match="password authentication failed"):
        pl.Cache(wrong, blobs=tmp_path / "b")
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    with pytest.raises(CacheError, match=r"pip install 'pylearn_lab\[postgres\]'"):
        pl.Cache(pg_server.url, blobs=tmp_path / "b")


@settings(max_examples=200, deadline=None)
@given(user=st.text("abcxyz_", min_size=1, max_size=8),
       password=st.text(st.characters(blacklist_characters="@/:?#[]%", min_codepoint=33,
                                      max_codepoint=126), min_size=1, max_size=12),
       host=st.sampled_from(["db", "127.0.0.1", "db.lab.example"]),
       port=st.one_of(st.none(), st.integers(1, 65535)))
def test_masked_urls_never_contain_the_password(user, password, host, port) -> None:
    url = f"postgresql://{user}:{password}@{host}{f':{port}' if port else ''}/results"
    masked = masked_url(url)
    assert is_database_url(url) and is_database_url(masked)
    assert f":{password}@" not in masked and masked.startswith(f"postgresql://{user}@{host}")
    assert masked.endswith("/results")


def test_the_pylearn_cache_magic_opens_a_team_cache(db, tmp_path, monkeypatch) -> None:
    """``%pylearn cache postgresql://...`` with the shared directory from ``PYLEARN_BLOBS``."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    monkeypatch.setenv("PYLEARN_BLOBS", str(tmp_path / "shared"))
    cfg = Config()
    cfg.HistoryManager.enabled = False
    ip = InteractiveShell.instance(config=cfg)
    previous = pl.get_default_cache()
    try:
        ip.run_line_magic("load_ext", "pylearn_lab")
        with capture_output() as out:
            ip.run_line_magic("pylearn", f"cache {db}")
        cache = pl.get_default_cache()
        assert cache.index_url == db and cache.location == str(tmp_path / "shared")
        assert str(tmp_path / "shared") in out.stdout
        password = urlsplit(db).password
        assert password and password not in out.stdout + repr(cache)  # never shown
        assert pl.run(add(20, 22), progress=False) == 42
        assert pl.Cache(db, blobs=tmp_path / "shared").contains(add(20, 22))
    finally:
        pl.set_default_cache(previous)
        InteractiveShell.clear_instance()


def test_a_database_that_goes_away_means_recompute_not_crash_and_it_reconnects(
        tmp_path_factory, tmp_path, log) -> None:
    """A private server (the shared one must stay up) is stopped between two runs: the
    second run computes uncached with warnings, never a wrong value or a hang; once the
    server is back, the same Cache object reconnects and serves hits again."""
    import pg_fixtures

    bindir, why = pg_fixtures.find_or_install()
    if bindir is None:
        pytest.skip(why)
    with pg_fixtures.temporary_server(tmp_path_factory.mktemp("pg-private"), bindir) as srv:
        cache = pl.Cache(srv.url, blobs=tmp_path / "b")
        exprs = [nodes.plus(log, i, 1) for i in range(3)]
        assert pl.run(exprs, cache=cache, progress=False) == [1, 2, 3]
        env = {"PATH": os.environ["PATH"], "LC_ALL": "C"}
        ctl = [str(bindir / "pg_ctl"), "-D", str(srv.data), "-w"]
        run_as = pg_fixtures._as(srv.user)
        subprocess.run([*ctl, "-m", "fast", "stop"], check=True, capture_output=True, env=env,
                       cwd=srv.data.parent, **run_as)
        with pytest.warns(CacheWarning):
            assert pl.run(exprs, cache=cache, progress=False) == [1, 2, 3]
        assert nodes.count(log, "plus") == 6  # recomputed: nothing could be read
        opts = (f"-c listen_addresses=127.0.0.1 -p {srv.port} -c unix_socket_directories='' "
                "-c fsync=off")
        subprocess.run([*ctl, "-l", str(srv.data.parent / "server.log"), "-o", opts, "start"],
                       check=True, capture_output=True, env=env, cwd=srv.data.parent, **run_as)
        assert pl.run(exprs, cache=cache, progress=False) == [1, 2, 3]
        assert nodes.count(log, "plus") == 6 and cache.info().hits >= 3  # reconnected: hits



def test_engine_results_are_adopted_in_one_batch_first_writer_wins(db, tmp_path) -> None:
    from pylearn_lab.cache.serialize import encode

    cache = pl.Cache(db, blobs=tmp_path / "blobs")
    keys = [f"{i:032x}" for i in range(6)]
    values = [np.arange(9000 + i, dtype=np.float64) if i % 2 else {"i": i} for i in range(6)]

    def receipts(vals: list) -> list[dict]:
        out = []
        for k, v in zip(keys, vals):
            head, payload, _ = encode(v)
            out.append({"key": k, "head": head, "record": {"func": "t.f"},
                        "payload": b"".join(bytes(p) for p in payload)})
        return out

    cache.save(keys[0], "stored before")
    assert cache.store.adopt(receipts(values)) == set(keys[1:])  # blobs and inline rows
    assert cache.lookup(keys[0]) == (True, "stored before")  # the first writer's value stays
    for k, v in zip(keys[1:], values[1:]):
        hit, got = cache.lookup(k)
        assert hit and (np.array_equal(got, v) if isinstance(v, np.ndarray) else got == v)
    assert cache.store.adopt(receipts([0] * 6)) == set()  # all present: nothing replaced
    assert cache.lookup(keys[2]) == (True, {"i": 2})

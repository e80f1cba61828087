"""The PostgreSQL fixture itself: a real server, unprivileged, loopback only, password login."""

from __future__ import annotations

import pwd
import subprocess

import pytest

psycopg = pytest.importorskip("psycopg")


def test_the_server_runs_unprivileged_on_loopback_with_a_password(pg_server) -> None:
    with psycopg.connect(pg_server.url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert conn.execute("SHOW unix_socket_directories").fetchone()[0] == ""
        assert conn.execute("SELECT 1 + 1").fetchone()[0] == 2
    pid = int((pg_server.data / "postmaster.pid").read_text().split()[0])
    owner = subprocess.run(["ps", "-o", "user=", "-p", str(pid)], capture_output=True,
                           text=True).stdout.strip()
    assert owner == pg_server.user and pwd.getpwnam(owner).pw_uid != 0
    wrong = pg_server.url.replace(pg_server.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


def test_each_test_gets_a_fresh_database(pg_server) -> None:
    a, b = pg_server.new_database(), pg_server.new_database()
    assert a != b
    with psycopg.connect(a, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
    with psycopg.connect(b) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'").fetchone()[0] == 0

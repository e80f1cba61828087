"""A real PostgreSQL server for the tests, started and stopped by the session.

``pg_server`` runs Debian's PostgreSQL binaries (``/usr/lib/postgresql/<ver>/bin``,
package ``postgresql``; ``./lab test`` installs it when missing) as an
*unprivileged* user -- PostgreSQL refuses to run as root; as root the tests use
the ``postgres`` account the package creates, or make a system user
``pylearn-pg`` -- with ``initdb`` and ``pg_ctl`` in a temporary directory:

* it listens on 127.0.0.1 only, on a free port, with no Unix socket;
* the role ``pylearn`` has a random password (scram-sha-256; no ``trust``
  login, since any local user can reach a loopback port);
* ``fsync=off``: a test server never survives a power cut, and need not;
* it is stopped (``pg_ctl stop -m fast``) and its directory removed at the end.

The server user must reach the data directory, which lives under the test
session's private temporary directory: the fixture adds search permission
(``o+x``, never read) to the ancestors it owns that lack it, and puts the old
modes back at teardown. Without binaries that can be installed, the fixture
skips and says why.

``pg_server.new_database()`` gives each test a fresh, empty database URL.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROLE = "pylearn"


@dataclass
class PgServer:
    """A running test server: ``url`` is the admin URL of its ``postgres`` database."""

    bindir: Path
    data: Path
    port: int
    password: str
    user: str
    _dbs: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, db: str) -> str:
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._dbs.append(name)
        return self.url_for(name)


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _install() -> str:
    """Try Debian's package (as root, with apt-get); the reason it failed, or ''."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not root or no apt-get, so `apt-get install -y postgresql` cannot run here"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "postgresql"],
                ["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        if cmd[1] == "install" and proc.returncode == 0:
            return ""
    return f"`apt-get install -y postgresql` failed: {proc.stderr.strip()[-300:]}"


def _server_user() -> str:
    me = pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() != 0:
        return me
    for name in ("postgres", "pylearn-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "pylearn-pg"], check=True, capture_output=True)
    return "pylearn-pg"


def _open_path_for(user: str, target: Path) -> list[tuple[Path, int]]:
    """Give ``user`` search permission on ``target``'s ancestors; the old modes to restore."""
    uid = pwd.getpwnam(user).pw_uid
    changed: list[tuple[Path, int]] = []
    if uid == os.geteuid():
        return changed
    for p in reversed(target.parents):
        st = p.stat()
        if st.st_mode & stat.S_IXOTH or st.st_uid != os.geteuid():
            continue  # already searchable, or not ours to change
        changed.append((p, stat.S_IMODE(st.st_mode)))
        os.chmod(p, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
    return changed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as(user: str) -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def find_or_install() -> tuple[Path | None, str]:
    """PostgreSQL's bin directory (installing Debian's package if needed), or why not."""
    bindir = _bindir()
    if bindir is not None:
        return bindir, ""
    why = _install()
    bindir = _bindir()
    if bindir is None:
        return None, (f"PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                      f"and {why or 'installing them did not provide them'}")
    return bindir, ""


@contextlib.contextmanager
def temporary_server(root: Path, bindir: Path) -> Iterator[PgServer]:
    """Run a throwaway server in ``root`` (an empty directory) while the block runs.

    Also used by ``benchmarks/bench_postgres.py`` (P15b), outside pytest.
    """
    user = _server_user()
    data = root / "data"
    restore = _open_path_for(user, data)
    run_as = _as(user)
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "HOME": str(root)}
    password = secrets.token_hex(16)
    pwfile = root / "pw"
    pwfile.write_text(password)
    if user != pwd.getpwuid(os.geteuid()).pw_name:
        pw = pwd.getpwnam(user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
    os.chmod(pwfile, 0o600)
    server: PgServer | None = None
    try:
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", ROLE, f"--pwfile={pwfile}",
                        "--auth=scram-sha-256", "-E", "UTF8", "--no-instructions"],
                       check=True, capture_output=True, env=env, cwd=root, **run_as)  # type: ignore[call-overload]
        pwfile.unlink()
        for _attempt in range(3):  # another process may take the free port before we do
            port = _free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                    "-c max_connections=200")
            proc = subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-l",
                                   str(root / "server.log"), "-o", opts, "-w", "-t", "60",
                                   "start"], capture_output=True, text=True, env=env, cwd=root,
                                  **run_as)  # type: ignore[call-overload]
            if proc.returncode == 0:
                server = PgServer(bindir, data, port, password, user)
                break
            time.sleep(0.5)
        if server is None:
            log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {proc.stderr}\n{log[-2000:]}")
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, env=env, cwd=root, **run_as)  # type: ignore[call-overload]
        shutil.rmtree(root, ignore_errors=True)
        for p, mode in reversed(restore):
            try:
                os.chmod(p, mode)
            except OSError:
                pass


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """A PostgreSQL server on 127.0.0.1 for the whole session (see the module docstring)."""
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed: pip install "
                                          "'pylearn_lab[postgres]'")
    bindir, why = find_or_install()
    if bindir is None:
        pytest.skip(why)
    with temporary_server(tmp_path_factory.mktemp("postgres"), bindir) as server:
        yield server

"""Fixtures for real-browser tests: a JupyterLab server on loopback and Debian's Chromium.

The Lab server is started once per session with this venv's Python, in a scratch
root directory, with its own HOME and Jupyter/IPython directories (nothing is
read from or written to the user's), a random token, and notification settings
that keep toasts off the page. It is terminated through its ``Popen`` handle.
Chromium is driven by Playwright's ``sync_api`` with ``/usr/bin/chromium``:
``playwright install`` (a browser download) is never needed. Without that
binary every browser test is skipped with the install command in the reason.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@dataclass
class Lab:
    """A running JupyterLab: where it serves, its token and its root directory."""

    url: str
    token: str
    root: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _isolated_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "HOME": str(home),
        "IPYTHONDIR": str(home / ".ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / ".local" / "share" / "jupyter" / "runtime"),
        # the kernel imports this checkout even when it is not installed
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "MPLBACKEND": "Agg",
    })
    return env


def _write_settings(settings: Path) -> None:
    quiet = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    quiet.parent.mkdir(parents=True, exist_ok=True)
    quiet.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.25)  # polling a server that is starting, not a timed assertion
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    pytest.importorskip("jupyterlab")
    base = tmp_path_factory.mktemp("lab")
    root, home, settings = base / "root", base / "home", base / "settings"
    for d in (root, home, settings):
        d.mkdir()
    _write_settings(settings)
    env = _isolated_env(home)
    token = secrets.token_hex(16)
    log = base / "lab.log"
    proc, url = None, ""
    # The free port is probed, then bound by Lab: another process may take it in between
    # (other servers start on this machine too), so a Lab that exits at once gets a new port.
    for _attempt in range(3):
        port = _free_port()
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.allow_root=True",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
               f"--LabApp.user_settings_dir={settings}"]
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(f"{url}/api/status?token={token}", proc, log, timeout=120)
            break
        except RuntimeError:
            if proc.poll() is None:  # alive but not answering: a real problem, not a port race
                proc.terminate()
                proc.wait(timeout=20)
                raise
    else:
        raise RuntimeError(f"JupyterLab could not start:\n{log.read_text()[-3000:]}")
    assert proc is not None
    try:
        yield Lab(url, token, root, env, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser(lab: Lab) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.browser_failed = report.failed  # the page fixture screenshots a failure


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1800, "height": 1050},
                                  device_scale_factor=1)
    page = context.new_page()
    try:
        yield page
    finally:
        if getattr(request.node, "browser_failed", False):  # what the page showed, to look at
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:
                page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"))
            except Exception:  # a crashed page has no picture; the failure itself is reported
                pass
        context.close()


def _open_and_run_all(page: Any, lab: Lab, name: str, timeout_ms: int = 120_000) -> None:
    """Open notebook ``name`` in Lab, wait for an idle kernel, run every cell."""
    page.goto(lab.notebook_url(name))
    # Lab restores the tabs earlier tests opened: wait for *this* notebook to be the current
    # widget, or "run all" would run another tab's cells
    page.wait_for_function(
        "(name) => { const w = window.jupyterapp?.shell?.currentWidget;"
        " return w?.context?.path === name"
        " && w?.sessionContext?.session?.kernel?.status === 'idle'; }",
        arg=name, timeout=timeout_ms)
    # more room for wide widgets: fold the file browser away
    page.evaluate("() => window.jupyterapp.shell.collapseLeft?.()")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def _write_notebook(path: Path, cells: list[str]) -> None:
    """A minimal nbformat-4 notebook of code cells, bound to the ``python3`` kernel."""
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}",
                   "metadata": {}, "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1))


@pytest.fixture
def run_notebook(lab: Lab, page: Any) -> Any:
    """``run_notebook(name, cells)``: write a notebook into the Lab root, open it in the
    page and run all its cells; returns the page."""

    def run(name: str, cells: list[str]) -> Any:
        _write_notebook(lab.root / name, cells)
        _open_and_run_all(page, lab, name)
        return page

    return run

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

"""Suite-wide fixtures. For now ONLY the shared ipyparallel cluster and its helpers.

``ipp_cluster`` is one real 2-engine cluster on 127.0.0.1 for the whole test
session (controller heartbeat ``--ping=500``, profile in a temporary directory),
started on first use and stopped at the end of the session. It yields a
started :class:`pylearn_lab.backends.ipp.IPyParallelBackend`:

* ``ipp_cluster.client`` -- the ``ipyparallel.Client``;
* ``ipp_cluster.cluster.profile_dir`` and ``.cluster_id`` -- to connect a
  second client (``IPyParallelBackend.connect(profile_dir=..., cluster_id=...)``
  or ``%pylearn cluster connect``), e.g. from a subprocess.

Tests share it: never stop it, never kill its engines (start your own with
``IPyParallelBackend.start(n=...)`` for that), and pass ``backend=ipp_cluster``
explicitly -- or call ``use_cluster(ipp_cluster)`` -- because other fixtures
reset the session's current cluster. Mark such tests ``cluster``.

Helpers for cluster tests (``wait_until``, ``use_cluster``) live in
``tests/cluster_fixtures.py``: ``from cluster_fixtures import wait_until``.

Other fixtures may be appended below by other parts of the suite.
"""

from cluster_fixtures import ipp_cluster  # noqa: F401  (the shared cluster fixture)
from pg_fixtures import pg_server  # noqa: F401  (a PostgreSQL server, for the team-cache tests)


import pytest as _pytest  # noqa: E402


def pytest_configure(config):
    """The default cache of every test is in a temp dir, also when pytest is run by hand.

    ``./lab test`` points ``PYLEARN_CACHE`` at its scratch dir; without it, tests that
    use the default cache would write ``./.pylearn`` into the checkout (and read a
    developer's own). Removed at the end of the session.
    """
    import os
    import tempfile

    if not os.environ.get("PYLEARN_CACHE"):
        config._pylearn_cache_dir = tempfile.TemporaryDirectory(prefix="pylearn-test-cache-")
        os.environ["PYLEARN_CACHE"] = os.path.join(config._pylearn_cache_dir.name, "cache")


@_pytest.fixture(autouse=True)
def _fresh_cache_warnings():
    """Each test is its own run for cache warnings (one warning per cause per run)."""
    from pylearn_lab.cache.warn import new_run

    new_run()
    yield


def pytest_unconfigure(config):
    """End the IPython shells the tests made, without their at-exit garbage collections.

    Every ``InteractiveShell`` registers ``atexit_operations``, whose namespace reset
    ends in ``gc.collect()``: with a few hundred shells left by the magics and
    notebook-free kernel tests, each a full collection of the suite's large heap,
    the process outlived its summary line by minutes. Their history sessions are
    closed here; their temp files live in the run's scratch directory.
    """
    import atexit
    import gc
    import sys

    shells = sys.modules.get("IPython.core.interactiveshell")
    if shells is None:
        return
    for obj in gc.get_objects():
        if isinstance(obj, shells.InteractiveShell):
            atexit.unregister(obj.atexit_operations)
            history = getattr(obj, "history_manager", None)
            if history is not None:
                try:
                    history.end_session()
                    history.close()
                except Exception:  # a shell torn down half-way: nothing left to save
                    pass

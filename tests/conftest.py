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

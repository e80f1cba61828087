"""``%pylearn cluster start | connect | status | stop``: the session's ipyparallel cluster.

The work is done by :class:`pylearn_lab.backends.ipp.IPyParallelBackend`
(imported on first use); these functions only translate the magic's words and
keep track of what the magics started, so that :func:`shutdown` -- run by
``cluster stop``, ``%unload_ext`` and at interpreter exit -- never leaves a
cluster behind. Starting or connecting makes ``ipyparallel`` the session's
default backend; stopping puts ``serial`` back.

Examples
--------
>>> s = MagicSession()
>>> shutdown(s)  # nothing started: nothing to do
False
"""

from __future__ import annotations

import logging
import os
from typing import Any

from IPython.core.error import UsageError

from ..backends.registry import (
    current_cluster,
    get_default_backend,
    set_current_cluster,
    set_default_backend,
)
from ..errors import BackendError
from .session import MagicSession
from .status import cluster_summary

__all__ = ["backend_class", "connect", "shutdown", "start", "status", "stop"]

log = logging.getLogger(__name__)


def backend_class() -> Any:
    """``IPyParallelBackend``, or a one-line UsageError when it cannot be imported."""
    try:
        from ..backends.ipp import IPyParallelBackend
    except ImportError as exc:
        raise UsageError(
            "ipyparallel clusters are not available: pylearn_lab.backends.ipp could not be "
            f"imported ({exc}). Install ipyparallel (pip install ipyparallel) and try again."
        ) from None
    return IPyParallelBackend


def _adopt(session: MagicSession, backend: Any, owns: bool) -> None:
    session.cluster, session.owns_cluster = backend, owns
    if current_cluster() is not backend:
        set_current_cluster(backend)
    set_default_backend("ipyparallel")


def _refuse_second(session: MagicSession) -> None:
    existing = current_cluster()
    if existing is not None:
        raise UsageError(
            f"this session already has a cluster ({cluster_summary(session, existing)}): stop it "
            "first with %pylearn cluster stop."
        )


def start(session: MagicSession, n: int | None) -> str:
    """Start a local cluster of ``n`` engines (default: one per CPU); make it the default backend."""
    if n is not None and n < 1:
        raise UsageError(f"-n expected a number of engines >= 1, received {n}.")
    _refuse_second(session)
    cls = backend_class()
    # ipyparallel logs every step of a local cluster's life (and each engine's output when
    # it is stopped) to the notebook: only errors belong there.
    backend = cls.start(n=n if n is not None else max(1, os.cpu_count() or 1),
                        log_level=logging.ERROR)
    _adopt(session, backend, owns=True)
    return f"cluster started: {cluster_summary(session, backend)}; default backend: ipyparallel"


def connect(session: MagicSession, profile: str | None, cluster_id: str | None,
            file: str | None, profile_dir: str | None = None) -> str:
    """Connect to a running cluster (by profile / cluster id, or a connection file)."""
    if file and (profile or cluster_id or profile_dir):
        raise UsageError(
            "connect takes either --file, or --profile/--profile-dir/--cluster-id, not both.")
    if profile and profile_dir:
        raise UsageError("connect takes --profile (a name) or --profile-dir (a path), not both.")
    _refuse_second(session)
    cls = backend_class()
    kwargs: dict[str, Any] = {}
    if profile:
        kwargs["profile"] = profile
    if profile_dir:
        kwargs["profile_dir"] = profile_dir
    if cluster_id:
        kwargs["cluster_id"] = cluster_id
    if file:
        kwargs["url_file"] = file
    try:
        backend = cls.connect(**kwargs)
    except BackendError as exc:  # a wrong file or profile: the message says what to do
        raise UsageError(str(exc).replace("\n", " ")) from None
    _adopt(session, backend, owns=False)
    return f"connected: {cluster_summary(session, backend)}; default backend: ipyparallel"


def status(session: MagicSession) -> str:
    """What the session's cluster reports about itself."""
    cluster = current_cluster()
    if cluster is None:
        return "no cluster: start one with %pylearn cluster start -n 2"
    report = getattr(cluster, "status", None)
    detail = report() if callable(report) else None
    lines = [f"cluster: {cluster_summary(session, cluster)}"]
    if isinstance(detail, dict):
        lines += [f"  {k}: {v}" for k, v in detail.items()]
    elif detail is not None:
        lines.append(f"  {detail}")
    return "\n".join(lines)


def stop(session: MagicSession) -> str:
    """Stop the cluster the magics started (or disconnect from a connected one)."""
    cluster = current_cluster()
    if cluster is None and session.cluster is None:
        return "no cluster to stop"
    owned = session.owns_cluster and (cluster is None or cluster is session.cluster)
    shutdown(session, also=cluster)
    return ("cluster stopped" if owned else "disconnected from the cluster") + \
        f"; default backend: {get_default_backend()}"


def shutdown(session: MagicSession, also: Any = None) -> bool:
    """Stop what the magics started (and ``also``); reset the backend. True if anything stopped."""
    targets = [b for b in (session.cluster, also) if b is not None]
    targets = list({id(b): b for b in targets}.values())
    for backend in targets:
        try:
            backend.stop()
        except Exception as exc:  # keep going: the point is to leave nothing running
            log.warning("stopping the cluster failed: %s", exc)
        if current_cluster() is backend:
            set_current_cluster(None)
    if targets and get_default_backend() == "ipyparallel":
        set_default_backend("serial")
    session.cluster, session.owns_cluster = None, False
    return bool(targets)

"""The direct send path (``backends/ipp/send.py``) against the shared real cluster.

It must be taken on the installed ipyparallel (else the per-task saving is
silently lost), and it must behave exactly like ``apply_async``: the same
values, the same errors raised the same way, and the public path still works
when the direct one is unavailable.
"""

from __future__ import annotations

import threading

import ipp_nodes as nodes
import pytest
from ipyparallel.error import RemoteError

import pylearn_lab as pl
from pylearn_lab.backends.ipp.send import Sender, Sent

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_the_direct_path_is_taken_and_returns_what_apply_async_returns(ipp_cluster) -> None:
    view = ipp_cluster.client.load_balanced_view()
    sender = Sender(view, pow)
    assert sender.direct, "the installed ipyparallel should allow the direct send"
    sent = [sender.send(2, i) for i in range(20)]
    assert all(isinstance(s, Sent) for s in sent)
    assert [s.result(30) for s in sent] == [view.apply_async(pow, 2, i).get(30) for i in range(20)]
    assert all(s.done() and s.exception() is None for s in sent)


def test_an_engine_error_is_raised_as_apply_async_raises_it(ipp_cluster) -> None:
    view = ipp_cluster.client.load_balanced_view()
    sent = Sender(view, int).send("seven")  # raises ValueError on the engine
    with pytest.raises(RemoteError, match="seven") as direct:
        sent.result(30)
    with pytest.raises(RemoteError) as public:
        view.apply_async(int, "seven").get(30)
    assert direct.value.ename == public.value.ename == "ValueError"
    assert isinstance(sent.exception(), RemoteError)
    seen = []
    sent.add_done_callback(seen.append)  # already done: called at once, with the Sent
    assert seen == [sent]


def test_a_view_with_its_own_flags_takes_the_public_path(ipp_cluster) -> None:
    view = ipp_cluster.client.load_balanced_view()
    view.retries = 1  # its metadata is no longer the default one the direct path sends
    sender = Sender(view, pow)
    assert not sender.direct
    assert sender.send(3, 2).get(30) == 9  # an AsyncResult


def test_runs_are_the_same_on_the_public_path(ipp_cluster, tmp_path, monkeypatch) -> None:
    """With the direct path off (an ipyparallel without it), a run still computes and
    caches every node once."""
    from pylearn_lab.backends.ipp import send

    real_init, real_send = send.Sender.__init__, send.Sender.send
    direct: list[bool] = []

    def public_only(self, view, fn):
        real_init(self, view, fn)
        self._direct = None

    def recorded(self, *args):
        direct.append(self.direct)
        return real_send(self, *args)

    monkeypatch.setattr(send.Sender, "__init__", public_only)
    monkeypatch.setattr(send.Sender, "send", recorded)
    backend = pl.IPyParallelBackend.connect(client=ipp_cluster.client)
    try:
        log = tmp_path / "log"
        log.mkdir()
        cache = pl.Cache(str(tmp_path / "c"))
        exprs = [nodes.plus(str(log), i, 1) for i in range(6)]
        backend.batch_cap = 1
        assert pl.run(exprs, backend=backend, cache=cache, progress=False) == [
            i + 1 for i in range(6)]
        assert len(direct) == 6 and not any(direct)  # one task per node, all public
        assert pl.run(exprs, backend=backend, cache=cache, progress=False) == [
            i + 1 for i in range(6)]
        assert nodes.count(str(log), "plus") == 6  # computed once each, then hits
    finally:
        backend.stop()


def test_one_node_per_task_keeps_a_window_outstanding_not_the_whole_graph(ipp_cluster,
                                                                         tmp_path) -> None:
    """300 one-per-task nodes: never more than the reported window in flight, each once."""
    backend = pl.IPyParallelBackend.connect(client=ipp_cluster.client)
    window = backend.capabilities().max_pending
    assert window == max(64, backend.window_per_engine * len(ipp_cluster.client.ids))
    plane = backend.capabilities().task_plane  # the object the VM sends nodes through
    real, lock = plane.submit_tasks, threading.Lock()
    out, most = [0], [0]

    def settled(_f) -> None:
        with lock:
            out[0] -= 1

    def counted(tasks):
        fut = real(tasks)
        with lock:
            out[0] += 1
            most[0] = max(most[0], out[0])
        fut.add_done_callback(settled)
        return fut

    plane.submit_tasks = counted
    log = tmp_path / "log"
    log.mkdir()
    try:
        backend.batch_cap = 1
        cache = pl.Cache(str(tmp_path / "c"))
        exprs = [nodes.plus(str(log), i, 7) for i in range(300)]
        assert pl.run(exprs, backend=backend, cache=cache, progress=False) == [
            i + 7 for i in range(300)]
        assert 1 < most[0] <= window and nodes.count(str(log), "plus") == 300
    finally:
        backend.stop()


@pytest.mark.parametrize("bad", ["16", 0, 2.5, True])
def test_a_bad_window_per_engine_is_refused_at_the_run(ipp_cluster, bad) -> None:
    backend = pl.IPyParallelBackend.connect(client=ipp_cluster.client)
    try:
        backend.window_per_engine = bad
        with pytest.raises(pl.errors.OptionError, match="window_per_engine must be a number"):
            pl.run(nodes.tiny(3), backend=backend, cache=False, progress=False)
    finally:
        backend.stop()

"""DaskBackend's pieces without a cluster: the probe adapter and the store verdicts."""

from __future__ import annotations

from pylearn_lab.backends.dask_remote import WorkerView
from pylearn_lab.backends.ipp.remote import read_probe
from pylearn_lab.backends.ipp.store import StoreProbe


class _DaskClientElsewhere:
    """Answers ``client.run`` / ``scheduler_info`` as a dask Client whose workers read the
    probe file fine but run on ``machine`` (another host, e.g. over NFS)."""

    def __init__(self, machine: str | None) -> None:
        self.machine = machine
        self.asked: list[list[str]] = []

    def scheduler_info(self):
        return {"workers": {"tcp://10.0.0.2:4000": {"nthreads": 1},
                            "tcp://10.0.0.1:4000": {"nthreads": 1}}}

    def run(self, fn, *args, workers, wait, on_error):
        self.asked.append(list(workers))
        out = {}
        for w in workers:
            text, here = fn(*args)
            out[w] = (text, self.machine or here)
        return out


def test_worker_view_presents_a_dask_client_to_the_store_probe(tmp_path) -> None:
    client = _DaskClientElsewhere(None)
    view = WorkerView(client)
    assert view.ids == ["tcp://10.0.0.1:4000", "tcp://10.0.0.2:4000"]  # sorted addresses
    (tmp_path / "p").write_text("tok")
    assert view[view.ids].apply_async(read_probe, str(tmp_path / "p")).get(1.0) == \
        [read_probe(str(tmp_path / "p"))] * 2
    assert StoreProbe(view).sees(str(tmp_path))
    assert client.asked[-1] == view.ids
    assert not StoreProbe(view).sees(str(tmp_path / "missing"))


def test_other_hosts_may_write_a_team_cache_but_not_a_sqlite_one(tmp_path) -> None:
    view = WorkerView(_DaskClientElsewhere("another-boot-id"))
    probe = StoreProbe(view)
    assert not probe.sees(str(tmp_path))  # SQLite WAL: writers must share one kernel
    assert probe.sees(str(tmp_path), any_machine=True)  # a PostgreSQL index has no such rule
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # probe files removed

"""Live progress and remote stop of a training that runs on a real ipyparallel engine."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from cluster_fixtures import wait_until  # type: ignore[import-not-found]

from pylearn_lab import Cache
from pylearn_lab.errors import NodeError

from .slow import slow_fit

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


@pytest.fixture
def engines_see_this_channel_root(ipp_cluster: Any) -> Any:
    """The shared engines started before this test's channel root existed: point them at it
    (what PYLEARN_TRAINING_DIR on a shared filesystem does for a real cluster)."""
    root = os.environ["PYLEARN_TRAINING_DIR"]
    view = ipp_cluster.client[:]
    before = view.apply_sync(os.getenv, "PYLEARN_TRAINING_DIR")
    view.execute(f"import os; os.environ['PYLEARN_TRAINING_DIR'] = {root!r}", block=True)
    try:
        yield ipp_cluster
    finally:
        for eid, old in zip(ipp_cluster.client.ids, before):
            code = ("os.environ.pop('PYLEARN_TRAINING_DIR', None)" if old is None
                    else f"os.environ['PYLEARN_TRAINING_DIR'] = {old!r}")
            ipp_cluster.client[eid].execute("import os; " + code, block=True)


def test_live_plot_follows_an_engine_and_stop_reaches_it(engines_see_this_channel_root: Any,
                                                         tmp_path: Path) -> None:
    pytest.importorskip("anywidget")
    from pylearn_lab.widgets import TrainingPlot

    cluster = engines_see_this_channel_root
    cache = Cache(tmp_path / "c")
    e = slow_fit(epochs=200, pause=0.02, seed=5)
    plot = TrainingPlot(e, interval=0.05)
    out: dict[str, Any] = {}

    def train() -> None:
        try:
            out["value"] = e.compute(backend=cluster, cache=cache, progress=False)
        except BaseException as exc:  # noqa: BLE001 -- the test inspects it
            out["error"] = exc

    t = threading.Thread(target=train, daemon=True)
    t.start()
    try:
        wait_until(lambda: plot.canvas.status == "running" and plot.canvas.step >= 5, 60,
                   "progress published by the engine")
        first = plot.canvas.step
        wait_until(lambda: plot.canvas.step > first, 30, "the curve to move on")
        assert len(plot.canvas.curves["norm"]) >= 2 and plot.canvas.step < 200  # mid-run
        plot.stop_button.click()
        t.join(60)
        assert isinstance(out.get("error"), NodeError), out
        assert "TrainingStopped" in str(out["error"]) and "engine" in str(out["error"])
        wait_until(lambda: plot.canvas.status == "stopped", 10, "the stopped status")
        stopped_at = plot.canvas.step
        ckpts = [r for r in cache.records() if r.label == "checkpoint"]
        assert max(r.params["step"] for r in ckpts) == stopped_at
        assert {r.engine for r in ckpts} <= {"engine 0", "engine 1"}  # written by the engine
    finally:
        plot.close()
    resumed = e.compute(backend=cluster, cache=cache, progress=False)
    fresh = e.compute(cache=False)
    # Since engines no longer open the index (the trusted engine data plane), an engine
    # sees only the entries its task was planned with, not checkpoints an earlier task
    # stored: the rerun may start over there -- and must still equal a fresh run bitwise
    assert resumed["from"] in (0, stopped_at)
    assert resumed["w"].tobytes() == fresh["w"].tobytes() and resumed["norm"] == fresh["norm"]

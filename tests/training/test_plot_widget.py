"""The live plot widget without a browser: its curves move while a real training runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pylearn_lab import Cache
from pylearn_lab.errors import NodeError

from .slow import slow_fit

pytest.importorskip("anywidget")
from pylearn_lab.widgets import TrainingPlot


def _wait(pred: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_curves_update_while_training_and_buttons_steer_it(tmp_path: Path) -> None:
    e = slow_fit(epochs=200, pause=0.01)
    plot = TrainingPlot(e, interval=0.05)
    sizes: list[int] = []
    plot.canvas.observe(lambda ch: sizes.append(len(ch["new"].get("norm", []))), names="curves")
    errors: list[BaseException] = []

    def train() -> None:
        try:
            e.compute(cache=Cache(tmp_path / "c"))
        except BaseException as exc:  # noqa: BLE001 -- the test inspects it
            errors.append(exc)

    t = threading.Thread(target=train, daemon=True)
    t.start()
    try:
        _wait(lambda: len(sizes) >= 3 and plot.canvas.status == "running")
        assert sizes == sorted(sizes) and sizes[-1] > sizes[0]  # more points each redraw
        assert plot.canvas.steps == 200 and 0 < plot.canvas.step < 200
        state = plot.canvas.get_state()
        assert all(len(p) == 2 and 1 <= p[0] <= 200 for p in state["curves"]["norm"])  # synced
        plot.pause_button.click()
        _wait(lambda: plot.canvas.status == "paused")
        held = plot.canvas.step
        time.sleep(0.3)
        assert plot.canvas.step == held
        plot.resume_button.click()
        _wait(lambda: plot.canvas.status == "running" and plot.canvas.step > held)
        plot.stop_button.click()
        t.join(30)
        _wait(lambda: plot.canvas.status == "stopped")
        assert isinstance(errors[0], NodeError) and plot.stop_button.disabled
    finally:
        plot.close()


def test_a_finished_training_shows_done_with_every_step(tmp_path: Path) -> None:
    e = slow_fit(epochs=12, pause=0.0)
    plot = TrainingPlot(e, interval=None)
    assert plot.canvas.status == "waiting"
    e.compute(cache=Cache(tmp_path / "c"))
    plot.refresh()
    assert plot.canvas.status == "done" and plot.canvas.step == 12
    assert plot.canvas.curves["norm"][-1][0] == 12
    plot.close()


def test_a_diverged_metric_reaches_the_widget_as_json(tmp_path: Path) -> None:
    import json

    from pylearn_lab import component
    from pylearn_lab.training import Trainer

    @component
    def diverge(epochs: int = 4) -> int:
        losses = [1.0, float("inf"), float("nan"), 2.0]
        return Trainer(lambda rng: {}, lambda s, t, rng: {"loss": losses[t - 1]}, epochs,
                       length="epochs").run().steps_done

    e = diverge()
    plot = TrainingPlot(e, interval=None)
    e.compute(cache=Cache(tmp_path / "c"))
    plot.refresh()
    sent = json.dumps(plot.canvas.get_state()["curves"], allow_nan=False)  # what the comm sends
    points = json.loads(sent)["loss"]
    assert points[-1] == [4, 2.0] and all(v is None or v in (1.0, 2.0) for _, v in points)
    plot.monitor.channel.publish({"t": 5, "steps": 5, "status": "running",
                                  "metrics": {"loss": float("nan")}})
    plot.refresh()
    assert plot.canvas.curves["loss"][-1] == [5, None]  # sent as null, drawn as a gap
    json.dumps(plot.canvas.get_state()["curves"], allow_nan=False)
    plot.close()

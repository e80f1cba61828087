"""Remote control and progress through the file channel: pause, resume, stop, live curves."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pylearn_lab import Cache
from pylearn_lab.errors import NodeError, TrainingError, TrainingStopped
from pylearn_lab.training import Channel, watch

from .slow import slow_fit


def _wait(pred: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _in_thread(expr: Any, cache: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = expr.compute(cache=cache)
        except BaseException as exc:  # noqa: BLE001 -- the test inspects it
            out["error"] = exc

    out["thread"] = threading.Thread(target=target, daemon=True)
    out["thread"].start()
    return out


def test_progress_curves_grow_while_training_runs(tmp_path: Path) -> None:
    e = slow_fit(epochs=40, pause=0.02)
    m = watch(e)
    job = _in_thread(e, Cache(tmp_path / "c"))
    _wait(lambda: m.poll() is not None and m.status == "running" and m.step >= 5)
    seen_mid = m.step
    job["thread"].join(30)
    m.poll()
    assert 5 <= seen_mid < 40 and m.status == "done" and m.step == 40
    steps, values = m.curves()["norm"]
    assert steps == sorted(set(steps)) and steps[-1] == 40 and values[-1] == job["value"]["norm"][-1]


def test_pause_resume_and_stop_from_the_notebook(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    e = slow_fit(epochs=150, pause=0.01)
    m = watch(e)
    job = _in_thread(e, cache)
    _wait(lambda: m.poll() is not None and m.step >= 3)
    m.pause()
    _wait(lambda: m.poll() is not None and m.status == "paused")
    held = m.step
    time.sleep(0.4)
    m.poll()
    assert m.status == "paused" and m.step == held  # no step while paused
    m.resume()
    _wait(lambda: m.poll() is not None and m.step > held)
    m.stop()
    job["thread"].join(30)
    m.poll()
    err = job["error"]
    assert isinstance(err, NodeError) and "TrainingStopped" in str(err) and m.status == "stopped"
    stopped_at = m.step
    assert held < stopped_at < 150 and not cache.contains(e)  # a stopped training is no result
    ckpts = sorted(r.params["step"] for r in cache.records() if r.label == "checkpoint")
    assert ckpts[-1] == stopped_at
    # running it again resumes where it stopped (the old stop command is not obeyed again)
    m2 = watch(e)
    assert m2.status == "waiting"
    resumed = e.compute(cache=cache)
    assert resumed["from"] == stopped_at
    fresh = e.compute(cache=False)
    assert resumed["w"].tobytes() == fresh["w"].tobytes() and resumed["norm"] == fresh["norm"]


def test_a_stale_stop_does_not_stop_the_next_run(tmp_path: Path) -> None:
    e = slow_fit(epochs=5, pause=0.0)
    m = watch(e)
    m.stop()  # sent before the run started: meant for an earlier run
    assert e.compute(cache=Cache(tmp_path / "c"))["from"] == 0
    assert issubclass(TrainingStopped, RuntimeError)


def test_unwatched_trainings_touch_no_file(tmp_path: Path) -> None:
    root = Path(os.environ["PYLEARN_TRAINING_DIR"])
    slow_fit(epochs=3, pause=0.0).compute(cache=Cache(tmp_path / "c"))
    assert list(root.iterdir()) == []


def test_channel_refuses_symlinks_bad_names_and_bad_commands(tmp_path: Path) -> None:
    root = Path(os.environ["PYLEARN_TRAINING_DIR"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / ("cd" * 16)).symlink_to(elsewhere)
    with pytest.raises(TrainingError, match="symbolic link"):
        Channel("cd" * 16)
    assert Channel.open_if_watched("cd" * 16) is None
    for bad in ("../../etc", "ab/cd" * 8, 42, "XYZ" * 10):
        with pytest.raises(TrainingError, match="node key"):
            Channel(bad)  # type: ignore[arg-type]
    ch = Channel("ef" * 16, create=True)
    with pytest.raises(TrainingError, match="expected one of"):
        ch.send("rm -rf /")
    (ch.path / "control.json").write_text('{"command": "__import__(\'os\')"}')
    assert ch.command() is None  # unknown words are ignored, never evaluated
    (ch.path / "progress.jsonl").write_text('{"t": 1}\nnot json\n[1, 2]\n{"t": 2}\n{"t": 3')
    assert ch.progress() == [{"t": 1}, {"t": 2}]  # a half-written last line waits


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.binary(max_size=200))
def test_whatever_lands_in_a_channel_is_read_safely(progress: bytes, control: bytes) -> None:
    ch = Channel("0123456789abcdef" * 2, create=True)
    (ch.path / "progress.jsonl").write_bytes(progress)
    (ch.path / "control.json").write_bytes(control)
    ch._seen_control = None  # the same size and mtime as the last example: force a reread
    events, offset = ch.read(0)
    assert all(isinstance(e, dict) for e in events) and 0 <= offset <= len(progress)
    assert ch.command() in (None, "pause", "resume", "stop")


def test_two_loops_in_one_node_keep_separate_checkpoints(tmp_path: Path) -> None:
    from pylearn_lab import component
    from pylearn_lab.training import Trainer

    @component
    def two(epochs: int = 4) -> tuple:
        a = Trainer(lambda rng: {"v": 0}, lambda s, t, rng: s.update(v=s["v"] + 1), epochs,
                    length="epochs").run()
        b = Trainer(lambda rng: {"v": 0}, lambda s, t, rng: s.update(v=s["v"] + 10), epochs,
                    length="epochs").run()
        return a.state["v"], b.state["v"], a.resumed_from, b.resumed_from

    cache = Cache(tmp_path / "c")
    assert two(epochs=4).compute(cache=cache) == (4, 40, 0, 0)
    assert two(epochs=6).compute(cache=cache) == (6, 60, 4, 4)  # each resumed its own state


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown needs root")
def test_a_channel_root_planted_by_another_user_is_refused(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    planted = tmp_path / "shared-tmp-root"
    planted.mkdir()
    os.chown(planted, 4242, 4242)  # as if another user made the predictable temp dir first
    monkeypatch.setenv("PYLEARN_TRAINING_DIR", str(planted))
    with pytest.raises(TrainingError, match="belongs to user 4242"):
        watch(slow_fit(epochs=3))
    assert Channel.open_if_watched("ab" * 16) is None
    assert not list(planted.iterdir())  # nothing written into it

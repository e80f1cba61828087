"""The Trainer loop: explicit state, plugin order, timelines, early stopping, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pylearn_lab.errors import TrainingError
from pylearn_lab.training import Trainer, after, at, each, early_stopping, every, log_metric, plugin


def _init(rng: np.random.Generator) -> dict[str, float]:
    return {"w": float(rng.normal())}


def _step(state: dict[str, float], t: int, rng: np.random.Generator) -> dict[str, float]:
    state["w"] += 0.3 * (2.0 - state["w"]) + 0.01 * rng.normal()
    return {"loss": (2.0 - state["w"]) ** 2}


def test_state_history_and_seed_are_explicit() -> None:
    a = Trainer(_init, _step, steps=12, seed=3).run()
    b = Trainer(_init, _step, steps=12, seed=3).run()
    c = Trainer(_init, _step, steps=12, seed=4).run()
    assert a.state == b.state and a.history == b.history and a.state != c.state
    assert a.steps_done == 12 and len(a.history["loss"]) == 12 and a.resumed_from == 0
    assert a.history["loss"][-1] < a.history["loss"][0]


def test_plugins_run_in_the_documented_order() -> None:
    calls: list[tuple[str, int]] = []
    rec = lambda name: (lambda loop: calls.append((name, loop.t)))
    plugins = [
        plugin(each(2), rec("late"), order=60),
        plugin(each(1), rec("first-given"), final=True),
        plugin(each(2), rec("early"), order=-5),
        plugin(each(1), rec("second-given")),
    ]
    Trainer(_init, _step, steps=3, plugins=plugins).run()
    assert calls == [
        ("first-given", 1), ("second-given", 1),
        ("early", 2), ("first-given", 2), ("second-given", 2), ("late", 2),
        ("first-given", 3), ("second-given", 3),
    ]  # final plugins already fired at the last step: not again


def test_final_plugins_fire_once_at_the_end() -> None:
    calls: list[int] = []
    Trainer(_init, _step, steps=7, plugins=[plugin(each(5), lambda lp: calls.append(lp.t),
                                                   final=True)]).run()
    assert calls == [5, 7]


def test_examples_timeline_jumps_and_is_asked_about_ranges() -> None:
    fired: list[tuple[int, int]] = []
    p = plugin(each(100), lambda lp: fired.append((lp.t, lp.examples)), timeline="examples")
    Trainer(_init, _step, steps=10, examples_per_step=32, plugins=[p]).run()
    # 32-example steps cross 100, 200, 300 at steps 4, 7, 10 (examples 128, 224, 320)
    assert fired == [(4, 128), (7, 224), (10, 320)]


def test_schedule_combinations_drive_plugins() -> None:
    fired: list[int] = []
    p = plugin(each(10) & ~at(20) & after(5), lambda lp: fired.append(lp.t))
    Trainer(_init, _step, steps=40, plugins=[p]).run()
    assert fired == [10, 30, 40]


def test_wall_clock_plugin_fires(monkeypatch: pytest.MonkeyPatch) -> None:
    import pylearn_lab.training.loop as loop_mod

    clock = iter(range(1000))  # each perf_counter call advances one "second"
    monkeypatch.setattr(loop_mod.time, "perf_counter", lambda: float(next(clock)))
    fired: list[int] = []
    Trainer(_init, _step, steps=6, plugins=[plugin(every(seconds=3), lambda lp: fired.append(lp.t))],
            checkpoint=None).run()
    assert fired and all(1 <= t <= 6 for t in fired) and fired == sorted(set(fired))


def test_log_metric_makes_a_curve_of_step_value_pairs() -> None:
    r = Trainer(_init, _step, steps=9,
                plugins=[log_metric("w", lambda lp: lp.state["w"], each(3))]).run()
    assert [t for t, _ in r.logged["w"]] == [3, 6, 9]


def test_early_stopping_stops_when_the_metric_stalls() -> None:
    def stall(state: dict[str, float], t: int, rng: np.random.Generator) -> dict[str, float]:
        return {"loss": max(10.0 - t, 4.0)}  # improves until t=6, then flat

    r = Trainer(_init, stall, steps=100, plugins=[early_stopping("loss", patience=3)]).run()
    assert r.steps_done == 9 and "did not improve" in (r.stop_reason or "")
    r2 = Trainer(_init, stall, steps=100, plugins=[early_stopping("accuracy", patience=3,
                                                                   mode="max")])
    with pytest.raises(TrainingError, match="reports no such metric"):
        r2.run()


@pytest.mark.parametrize("make, match", [
    (lambda: Trainer(_init, _step, steps=-1), "int >= 0"),
    (lambda: Trainer(_init, _step, steps=2.5), "int >= 0"),  # type: ignore[arg-type]
    (lambda: Trainer(_init, _step, steps=3, plugins=[print]), "Plugin objects"),  # type: ignore[list-item]
    (lambda: plugin(10, print), "expected a Schedule"),  # type: ignore[arg-type]
    (lambda: plugin(each(1), 3), "function"),  # type: ignore[arg-type]
    (lambda: plugin(every(seconds=1), print, timeline="examples"), "timeline"),
    (lambda: early_stopping(patience=0), "int >= 1"),
    (lambda: early_stopping(mode="up"), "'min' or 'max'"),  # type: ignore[arg-type]
])
def test_bad_loops_fail_at_the_call_with_a_clear_error(make, match) -> None:
    with pytest.raises(TrainingError, match=match):
        make()

"""Checkpoints: a longer training resumes a shorter one, bitwise; anything else invalidates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from pylearn_lab import Cache, component, untracked
from pylearn_lab.components import (
    load_iris,
    logistic_regression,
    mlp,
    standardize,
    train_test_split,
)
from pylearn_lab.errors import NodeError, TrainingError
from pylearn_lab.training import Trainer, each, early_stopping

STEPS: list[int] = untracked([])  # steps `fit` below executed (not part of any key): proves what was resumed


@component
def fit(data: list, lr: float = 0.5, epochs: int = 10, seed: int = 0) -> dict:
    x = np.asarray(data, dtype=float)

    def init(rng: np.random.Generator) -> dict:
        return {"w": rng.normal(size=x.shape)}

    def step(s: dict, t: int, rng: np.random.Generator) -> dict:
        STEPS.append(t)
        s["w"] += lr * (x - s["w"]) + 0.01 * rng.normal(size=x.shape)
        return {"loss": float(((x - s["w"]) ** 2).sum())}

    r = Trainer(init, step, epochs, seed=seed, length="epochs", checkpoint=each(5)).run()
    return {"w": r.state["w"], "loss": r.history["loss"], "from": r.resumed_from}


def _same(a: dict, b: dict) -> bool:
    return a["w"].tobytes() == b["w"].tobytes() and a["loss"] == b["loss"]


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def test_longer_training_resumes_the_shorter_one_bitwise(cache: Cache) -> None:
    STEPS.clear()
    short = fit([1.0, 2.0], epochs=12).compute(cache=cache)
    assert STEPS == list(range(1, 13)) and short["from"] == 0
    STEPS.clear()
    longer = fit([1.0, 2.0], epochs=30).compute(cache=cache)
    assert STEPS == list(range(13, 31)) and longer["from"] == 12  # only the 18 new steps ran
    STEPS.clear()
    fresh = fit([1.0, 2.0], epochs=30).compute(cache=False)
    assert STEPS == list(range(1, 31)) and _same(longer, fresh)
    STEPS.clear()
    shorter = fit([1.0, 2.0], epochs=7).compute(cache=cache)  # from the step-5 checkpoint
    assert STEPS == [6, 7] and _same(shorter, fit([1.0, 2.0], epochs=7).compute(cache=False))


@pytest.mark.parametrize("change", [{"lr": 0.4}, {"seed": 1}, {"data": [1.0, 2.5]}])
def test_any_other_argument_change_starts_from_scratch(cache: Cache, change: dict) -> None:
    fit([1.0, 2.0], epochs=10).compute(cache=cache)
    STEPS.clear()
    args = {"data": [1.0, 2.0], "epochs": 20, **change}
    fit(args.pop("data"), **args).compute(cache=cache)
    assert STEPS == list(range(1, 21))


def test_code_change_starts_from_scratch(cache: Cache) -> None:
    def make(gain: float):
        ns: dict = {}
        src = textwrap.dedent(f"""
            def edited(epochs: int = 5) -> float:
                r = Trainer(lambda rng: {{"v": 0.0}},
                            lambda s, t, rng: STEPS.append(t) or s.update(v=s["v"] + {gain}),
                            epochs, length="epochs").run()
                return r.state["v"]
        """)
        # two versions of one function, as an edit in a notebook makes them
        code = compile(src, f"<edited {gain}>", "exec")
        exec(code, {"Trainer": Trainer, "STEPS": STEPS}, ns)  # noqa: S102
        return component(version=None)(ns["edited"])

    assert make(1.0)(epochs=4).compute(cache=cache) == 4.0
    STEPS.clear()
    assert make(2.0)(epochs=6).compute(cache=cache) == 12.0 and STEPS == list(range(1, 7))


def test_shipped_models_resume_bitwise(cache: Cache) -> None:
    split = train_test_split(standardize(load_iris()), seed=1)
    for model, kw in ((logistic_regression, {}), (mlp, {"hidden": 6})):
        model(split, epochs=40, **kw).compute(cache=cache)
        resumed = model(split, epochs=80, **kw).compute(cache=cache)
        fresh = model(split, epochs=80, **kw).compute(cache=False)
        assert resumed.history == fresh.history and len(fresh.history["loss"]) == 80
        for k in fresh.params:
            assert resumed.params[k].tobytes() == fresh.params[k].tobytes(), (model, k)
    steps = sorted(r.params["step"] for r in cache.records() if r.label == "checkpoint")
    assert steps == [40, 40, 80, 80]  # default schedule: only the ends of these short runs


def test_early_stopped_training_resumes_to_the_same_stop(cache: Cache) -> None:
    @component
    def stall(epochs: int = 10) -> tuple:
        r = Trainer(lambda rng: {}, lambda s, t, rng: STEPS.append(t) or {"loss": max(9.0 - t, 3.0)},
                    epochs, length="epochs", plugins=[early_stopping(patience=2)]).run()
        return r.steps_done, r.stop_reason

    STEPS.clear()
    assert stall(epochs=20).compute(cache=cache)[0] == 8
    STEPS.clear()
    assert stall(epochs=50).compute(cache=cache) == stall(epochs=50).compute(cache=False)
    assert STEPS == list(range(1, 9))  # only the fresh run stepped


def test_a_tampered_checkpoint_is_a_warning_and_an_older_one(cache: Cache, tmp_path: Path) -> None:
    fit([3.0], epochs=12).compute(cache=cache)
    book_keys = {r.params["step"]: r.key for r in cache.records() if r.label == "checkpoint"}
    assert set(book_keys) == {5, 10, 12}
    cache.store.delete([book_keys[12]])  # gone: the step-10 one serves
    STEPS.clear()
    out = fit([3.0], epochs=15).compute(cache=cache)
    assert STEPS == [11, 12, 13, 14, 15] and out["from"] == 10
    assert _same(out, fit([3.0], epochs=15).compute(cache=False))


def test_steps_must_come_from_the_length_argument(cache: Cache) -> None:
    @component
    def wrong(epochs: int = 3) -> int:
        return Trainer(lambda rng: {}, lambda s, t, rng: None, epochs + 1, length="epochs").run().steps_done

    @component
    def unnamed(n: int = 3) -> int:
        return Trainer(lambda rng: {}, lambda s, t, rng: None, n, length="epochs").run().steps_done

    with pytest.raises(NodeError, match="steps must be that argument"):
        wrong().compute(cache=cache)
    with pytest.raises(NodeError, match="expected the name of the argument"):
        unnamed().compute(cache=cache)
    assert isinstance(TrainingError("x"), ValueError)


def test_no_cache_no_checkpoint_and_plain_calls_train_from_scratch(cache: Cache) -> None:
    STEPS.clear()
    fit.fn([1.0], epochs=4)
    fit([1.0], epochs=4).compute(cache=False)
    assert STEPS == [1, 2, 3, 4] * 2 and not [r for r in cache.records()]


def test_explicit_key_and_cache_for_plain_scripts(cache: Cache) -> None:
    counted: list[int] = []
    loop = lambda n: Trainer(lambda rng: {"v": 0}, lambda s, t, rng: counted.append(t) or s.update(v=t),
                             n, key="ab" * 16, cache=cache)
    loop(5).run()
    counted.clear()
    assert loop(9).run().state == {"v": 9} and counted == [6, 7, 8, 9]


_SCRIPT = '''
import os, sys, time, hashlib
import numpy as np
from pylearn_lab import Cache, component
from pylearn_lab.training import Trainer, each

@component
def slow(epochs: int = 60, seed: int = 0) -> bytes:
    def step(s, t, rng):
        with open(os.environ["STEP_LOG"], "a") as f:
            f.write(f"{t}\\n")
        time.sleep(float(os.environ.get("STEP_SLEEP", "0")))
        s["w"] = s["w"] * 0.9 + rng.normal(size=4)
        return {"norm": float(np.abs(s["w"]).sum())}
    r = Trainer(lambda rng: {"w": rng.normal(size=4)}, step, epochs, seed=seed,
                length="epochs", checkpoint=each(5)).run()
    return r.state["w"].tobytes() + repr(r.history["norm"]).encode()

out = slow(epochs=60).compute(cache=Cache(sys.argv[1]))
print(hashlib.sha256(out).hexdigest())
'''


@pytest.mark.crash
def test_training_killed_by_sigkill_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "slow_train.py"
    script.write_text(_SCRIPT)
    log = tmp_path / "steps.log"
    env = {**os.environ, "STEP_LOG": str(log), "STEP_SLEEP": "0.05",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "c")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not log.exists() or len(log.read_text().split()) < 23):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = int(log.read_text().split()[-1])
    assert 23 <= killed_at < 60
    log.write_text("")
    env["STEP_SLEEP"] = "0"
    resumed = subprocess.run([sys.executable, str(script), str(tmp_path / "c")], env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert resumed.returncode == 0, resumed.stderr
    first = int(log.read_text().split()[0])
    resumed_from = first - 1  # a checkpoint step (each(5)) at most one interval before the kill
    assert resumed_from % 5 == 0 and killed_at - 10 < resumed_from <= killed_at, (killed_at, first)
    fresh = subprocess.run([sys.executable, str(script), str(tmp_path / "fresh")], env=env,
                           capture_output=True, text=True, timeout=120, check=False)
    assert fresh.returncode == 0 and fresh.stdout == resumed.stdout  # bitwise equal results


def test_forget_makes_the_next_run_start_from_scratch(cache: Cache) -> None:
    from pylearn_lab.training import forget

    fit([2.0], epochs=10).compute(cache=cache)
    cache.invalidate(fit)  # the result goes; its checkpoints stay (entries of their own)
    STEPS.clear()
    fit([2.0], epochs=10).compute(cache=cache)
    assert STEPS == []  # resumed from the stored final state: nothing left to step
    cache.invalidate(fit)
    assert forget(fit, cache) == 2  # the checkpoints of steps 5 and 10 (10 is also the end)
    STEPS.clear()
    fit([2.0], epochs=10).compute(cache=cache)
    assert STEPS == list(range(1, 11))

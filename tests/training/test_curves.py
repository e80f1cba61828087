"""Training curves in the experiment database: per-step rows, sweep plots, marginals at a step."""

from __future__ import annotations

from pathlib import Path

import pytest

from pylearn_lab import Cache, results, run
from pylearn_lab.components import load_iris, logistic_regression, standardize, train_test_split
from pylearn_lab.errors import TrainingError
from pylearn_lab.training import at_step, curves, marginals, plot_curves, plot_marginals


@pytest.fixture
def sweep(tmp_path: Path) -> tuple[Cache, list]:
    cache = Cache(tmp_path / "c")
    split = train_test_split(standardize(load_iris()), seed=0)
    exprs = [logistic_regression(split, lr=lr, l2=l2, epochs=12)
             for lr in (0.01, 0.1, 1.0) for l2 in (0.0, 0.01)]
    return cache, run(exprs, cache=cache)


def test_curves_have_one_row_per_run_and_step(sweep) -> None:
    cache, models = sweep
    t = curves(logistic_regression, cache=cache, pandas=False)
    assert len(t) == 6 * 12 and {"lr", "l2", "step", "loss", "accuracy", "key"} <= set(t.columns)
    rows = t.to_dicts()
    for m in models:  # every stored value, step by step, exactly
        mine = sorted((r for r in rows if r["lr"] == m.settings["lr"] and r["l2"] == m.settings["l2"]),
                      key=lambda r: r["step"])
        assert [r["loss"] for r in mine] == m.history["loss"]
    frame = results(logistic_regression, cache=cache, steps=True)  # the hook in results()
    assert len(frame) == 72 and list(frame.columns[-4:]) == ["step", "loss", "accuracy", "key"]
    assert len(curves(logistic_regression, {"lr": 0.1}, cache=cache, pandas=False)) == 24


def test_marginals_at_a_chosen_step(sweep) -> None:
    cache, models = sweep
    out = marginals(logistic_regression, "accuracy", step=4, over="lr", cache=cache)
    assert [v for v, *_ in out] == [0.01, 0.1, 1.0] and all(n == 2 for *_, n in out)
    for value, mean, _std, _n in out:
        expect = [m.history["accuracy"][3] for m in models if m.settings["lr"] == value]
        assert mean == pytest.approx(sum(expect) / 2)
    with pytest.raises(TrainingError, match="not a parameter"):
        marginals(logistic_regression, "accuracy", step=4, over="hidden", cache=cache)


def test_at_step_takes_the_last_step_of_shorter_runs() -> None:
    rows = [{"lr": 1, "step": s, "acc": s, "key": "a"} for s in (1, 2, 3)] + \
           [{"lr": 2, "step": s, "acc": 10 * s, "key": "b"} for s in (1, 2)]
    assert sorted(r["acc"] for r in at_step(rows, 3)) == [3, 20]


def test_plots_draw_every_run(sweep) -> None:
    cache, _ = sweep
    t = curves(logistic_regression, cache=cache)
    fig = plot_curves(t, "loss", hue="lr")
    assert len(fig.axes[0].lines) == 6 and len(fig.axes[0].get_legend().get_texts()) == 3
    fig2 = plot_marginals(t, "accuracy", step=6)
    assert len(fig2.axes) == 2 and "step 6" in fig2._suptitle.get_text()
    with pytest.raises(TrainingError, match="no metric"):
        plot_curves(t, "f1")
    with pytest.raises(TrainingError, match="cache=False"):
        curves(logistic_regression, cache=False)


def test_sparse_logged_curves_join_the_per_step_rows(tmp_path: Path) -> None:
    import numpy as np

    from pylearn_lab import component
    from pylearn_lab.training import Trainer, each, log_metric

    @component
    def walk(lr: float = 0.5, epochs: int = 9) -> dict:
        r = Trainer(lambda rng: {"w": 0.0}, lambda s, t, rng: s.update(w=s["w"] + lr) or {"w": s["w"]},
                    epochs, length="epochs",
                    plugins=[log_metric("w2", lambda lp: lp.state["w"] ** 2, each(3))]).run()
        return {"history": r.history, "logged": r.logged, "w": np.float64(r.state["w"])}

    cache = Cache(tmp_path / "c")
    run([walk(lr=0.5), walk(lr=1.0)], cache=cache)
    rows = curves(walk, cache=cache, pandas=False).to_dicts()
    mine = sorted((r for r in rows if r["lr"] == 1.0), key=lambda r: r["step"])
    assert [r["w"] for r in mine] == [float(t) for t in range(1, 10)]
    assert [(r["step"], r.get("w2")) for r in mine if r.get("w2") is not None] == \
        [(3, 9.0), (6, 36.0), (9, 81.0)]

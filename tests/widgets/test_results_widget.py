"""ResultsView: the table sorts on the chosen column, the best run is named, the plot follows."""

from __future__ import annotations

import io

from matplotlib.image import imread

import pylearn_lab as pl
from pylearn_lab.widgets.results import ResultsView


@pl.component
def fit(lr: float, hidden: int) -> dict:
    return {"acc": round(0.5 + lr + hidden / 100, 6), "loss": round(1 - lr, 6)}


def view_of(tmp_path) -> tuple[ResultsView, pl.Cache]:
    cache = pl.Cache(tmp_path)
    sw = pl.sweep(fit, grid={"lr": [0.1, 0.3], "hidden": [8, 16]}, cache=cache)
    return ResultsView(sw.results()), cache


def test_sorting_follows_the_controls(tmp_path):
    view, _ = view_of(tmp_path)
    assert view.metric.value == "acc" and view.goal.value == "max"
    assert view.sort_by.value == "acc" and view.order.value == "descending"
    assert [r["acc"] for r in view.sorted_rows()] == [0.96, 0.88, 0.76, 0.68]
    view.sort_by.value = "hidden"
    view.order.value = "ascending"
    assert [r["hidden"] for r in view.sorted_rows()] == [8, 8, 16, 16]
    # the rendered table is in that order too, with the sort column marked
    html = view.table.value
    assert "hidden ▲" in html
    assert html.index("<td>8</td>") < html.index("<td>16</td>")


def test_best_run_is_named_and_highlighted(tmp_path):
    view, _ = view_of(tmp_path)
    assert view.best()["acc"] == 0.96
    assert "best acc = 0.96" in view.summary.value and "lr=0.3" in view.summary.value
    assert view.table.value.count("font-weight:bold") == 1
    view.metric.value = "loss"  # lower is better for losses
    assert view.goal.value == "min" and view.best()["loss"] == 0.7


def test_plot_is_a_png_of_the_chosen_metric(tmp_path):
    view, _ = view_of(tmp_path)
    first = view.plot.value
    assert imread(io.BytesIO(first), format="png").shape[0] > 50
    view.metric.value = "loss"
    assert view.plot.value and view.plot.value != first

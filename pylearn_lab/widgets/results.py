"""The results widget: a sortable experiment table beside the marginal plot of a metric.

``ResultsView(table)`` shows a results table (``pylearn_lab.results(...)``,
``sweep.results()``, a DataFrame, a Table or a list of dicts): choose the
column to sort by and the order, the metric to plot and whether higher or
lower is better; the best run is highlighted and named, and the plot shows the
metric against each hyper-parameter (mean and spread over the others).

The widget only displays: it never runs, hashes or caches anything.

Examples
--------
>>> rows = [{"lr": lr, "hidden": h, "acc": 0.5 + lr + h / 100} for lr in (0.1, 0.2) for h in (8, 16)]
>>> view = ResultsView(rows, params=["lr", "hidden"], metrics=["acc"])
>>> view.sort_by.value = "acc"; view.order.value = "descending"
>>> view.sorted_rows()[0]["hidden"]
16
>>> len(view.plot.value) > 0
True
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

import ipywidgets as W

from ..experiments.plots import plot_marginal
from ..experiments.table import Table, best_row, format_cell, table_rows

__all__ = ["ResultsView"]

_LOWER_IS_BETTER = ("loss", "error", "inertia", "duration", "rmse", "mse")
_HIDDEN = {"host", "created", "current"}


def _goal(metric: str) -> str:
    return "min" if any(w in metric.lower() for w in _LOWER_IS_BETTER) else "max"


class ResultsView(W.VBox):
    """A results table that sorts, with the marginal plot of a chosen metric.

    Parameters
    ----------
    results : DataFrame, Table, SweepResult or list of dicts
        The experiment table.
    metric : str, optional
        The metric to plot first (default: the first metric column).
    params, metrics : list of str, optional
        Override which columns are hyper-parameters and metrics.
    max_rows : int
        Rows shown in the table (all rows count in the plot).
    """

    def __init__(self, results: Any, metric: str | None = None,
                 params: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                 max_rows: int = 50) -> None:
        rows, columns, known_params, known_metrics = table_rows(results)
        self.rows = rows
        self.columns = columns
        self.params = list(params if params is not None else known_params)
        self.metrics = list(metrics if metrics is not None else known_metrics) or [
            c for c in columns if c not in self.params and c not in _HIDDEN and c != "key"
            and any(isinstance(r.get(c), (int, float)) for r in rows)]
        self.max_rows = max_rows
        first = metric or (self.metrics[0] if self.metrics else None)
        self.sort_by = W.Dropdown(options=columns, value=first if first in columns else
                                  (columns[0] if columns else None), description="sort by")
        self.order = W.ToggleButtons(options=["ascending", "descending"],
                                     value="descending" if first and _goal(first) == "max"
                                     else "ascending")
        self.metric = W.Dropdown(options=self.metrics, value=first, description="plot")
        self.goal = W.ToggleButtons(options=["max", "min"],
                                    value=_goal(first) if first else "max",
                                    tooltips=["higher is better", "lower is better"])
        self.summary = W.HTML()
        self.table = W.HTML()
        self.plot = W.Image(format="png")
        for w in (self.sort_by, self.order, self.goal):
            w.observe(lambda _change: self._render_table(), names="value")
        self.metric.observe(self._metric_changed, names="value")
        super().__init__([
            W.HBox([self.sort_by, self.order]),
            W.HBox([self.metric, self.goal]),
            self.summary, self.table, self.plot,
        ])
        self._render_table()
        self._render_plot()

    # -- state ------------------------------------------------------------------------
    def sorted_rows(self) -> list[dict[str, Any]]:
        """The rows in the chosen order (missing values last)."""
        if not self.sort_by.value:
            return list(self.rows)
        t = Table(self.rows, self.columns).sort(self.sort_by.value,
                                                descending=self.order.value == "descending")
        return t.rows

    def best(self) -> dict[str, Any] | None:
        """The best row by the chosen metric and goal (None when nothing is numeric)."""
        if not self.metric.value:
            return None
        try:
            return best_row(self.rows, self.metric.value, self.goal.value)
        except KeyError:
            return None

    # -- rendering --------------------------------------------------------------------
    def _shown_columns(self) -> list[str]:
        varying = [c for c in self.params if len({repr(r.get(c)) for r in self.rows}) > 1]
        keep = varying + self.metrics + ["duration", "engine", "version", "key"]
        return [c for c in dict.fromkeys(keep) if c in self.columns] or self.columns

    def _metric_changed(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.goal.value = _goal(change["new"])
        self._render_table()
        self._render_plot()

    def _render_table(self) -> None:
        cols = self._shown_columns()
        best = self.best()
        arrow = " ▼" if self.order.value == "descending" else " ▲"
        head = "".join(f"<th>{html.escape(c)}{arrow if c == self.sort_by.value else ''}</th>"
                       for c in cols)
        body = []
        for r in self.sorted_rows()[: self.max_rows]:
            mark = " style='background:#e8f5e9;font-weight:bold'" if r == best else ""
            cells = "".join(f"<td>{html.escape(format_cell(r.get(c))[:8 if c == 'key' else None])}"
                            "</td>" for c in cols)
            body.append(f"<tr{mark}>{cells}</tr>")
        more = len(self.rows) - self.max_rows
        tail = f"<p>… {more} more rows</p>" if more > 0 else ""
        self.table.value = (f"<table class='pylearn-results'><thead><tr>{head}</tr></thead>"
                            f"<tbody>{''.join(body)}</tbody></table>{tail}")
        if best is None:
            self.summary.value = f"<b>{len(self.rows)} runs</b>"
        else:
            setting = ", ".join(f"{p}={format_cell(best.get(p))}" for p in self.params
                                if p in cols)
            self.summary.value = (
                f"<b>{len(self.rows)} runs</b>; best {html.escape(self.metric.value)} = "
                f"{format_cell(best.get(self.metric.value))} at "
                f"{html.escape(setting or str(best.get('key', ''))[:8])}")

    def _render_plot(self) -> None:
        metric = self.metric.value
        if not metric:
            self.plot.value = b""
            return
        params = [c for c in self.params
                  if len({repr(r.get(c)) for r in self.rows}) > 1] or None
        try:
            fig = plot_marginal(Table(self.rows, self.columns, self.params, self.metrics),
                                metric, params=params)
        except (KeyError, ValueError):  # nothing varies yet: no plot, not an error
            self.plot.value = b""
            return
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        self.plot.value = buf.getvalue()

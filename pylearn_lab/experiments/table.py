"""The results table: a pandas DataFrame when pandas is installed, a light Table otherwise.

Both know which columns are hyper-parameters and which are metrics (plots
use that) and both have ``best(metric, mode="max")``. :func:`make_table`
picks the kind; :func:`table_rows` reads any of them (or a list of dicts) back
as plain rows.

Examples
--------
>>> t = Table([{"lr": 0.1, "acc": 0.8}, {"lr": 0.5, "acc": 0.9}], params=["lr"], metrics=["acc"])
>>> t.best("acc")["lr"]
0.5
>>> t.sort("acc", descending=True)["lr"]
[0.5, 0.1]
>>> print(t)
lr   acc
0.1  0.8
0.5  0.9
"""

from __future__ import annotations

import datetime as _dt
import html
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["Table", "make_table", "table_rows", "best_row", "format_cell"]


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (
        isinstance(v, float) and math.isnan(v))


def best_row(rows: Sequence[dict[str, Any]], metric: str, mode: str = "max") -> dict[str, Any]:
    """The row with the largest (``"max"``) or smallest (``"min"``) numeric ``metric``."""
    if mode not in ("max", "min"):
        raise ValueError(f"best() expected mode='max' or 'min', received {mode!r}.")
    scored = [r for r in rows if _numeric(r.get(metric))]
    if not scored:
        cols = sorted({k for r in rows for k in r})
        raise KeyError(
            f"no row has a numeric {metric!r} (columns: {', '.join(cols) or 'none'}). "
            "Pass the name of a metric column."
        )
    pick = max if mode == "max" else min
    return pick(scored, key=lambda r: r[metric])


def format_cell(v: Any) -> str:
    """A short text for one cell (floats to 4 significant digits, times to seconds)."""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, _dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if v is None:
        return ""
    text = str(v)
    return text if len(text) <= 40 else text[:39] + "…"


class Table:
    """A list of rows (dicts) with named columns: the results table without pandas.

    Attributes
    ----------
    rows : list of dict
    columns : list of str
    params, metrics : list of str
        Which columns are hyper-parameters and which are returned metrics.
    """

    def __init__(self, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None,
                 params: Sequence[str] = (), metrics: Sequence[str] = ()) -> None:
        self.rows = [dict(r) for r in rows]
        if columns is None:
            columns = list(dict.fromkeys(k for r in self.rows for k in r))
        self.columns = list(columns)
        self.params, self.metrics = list(params), list(metrics)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, item: str | int) -> Any:
        if isinstance(item, int):
            return self.rows[item]
        if item not in self.columns:
            raise KeyError(f"no column {item!r}; columns are {', '.join(self.columns)}.")
        return [r.get(item) for r in self.rows]

    def _like(self, rows: Sequence[dict[str, Any]]) -> Table:
        return Table(rows, self.columns, self.params, self.metrics)

    def sort(self, by: str, descending: bool = False) -> Table:
        """A copy sorted by column ``by`` (missing values last)."""
        present = [r for r in self.rows if r.get(by) is not None]
        missing = [r for r in self.rows if r.get(by) is None]
        try:
            present.sort(key=lambda r: r[by], reverse=descending)
        except TypeError:  # mixed types: order by text
            present.sort(key=lambda r: str(r[by]), reverse=descending)
        return self._like(present + missing)

    def filter(self, predicate: Callable[[dict[str, Any]], bool]) -> Table:
        """A copy with the rows for which ``predicate(row)`` is true."""
        return self._like([r for r in self.rows if predicate(r)])

    def best(self, metric: str, mode: str = "max") -> dict[str, Any]:
        """The best row by ``metric`` (``mode="max"`` or ``"min"``)."""
        return best_row(self.rows, metric, mode)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as plain dicts."""
        return [dict(r) for r in self.rows]

    def to_pandas(self) -> Any:
        """The same table as a pandas DataFrame (needs pandas)."""
        return make_table(self.rows, self.columns, self.params, self.metrics, force_pandas=True)

    def __repr__(self) -> str:
        shown = self.rows[:20]
        cells = [self.columns] + [[format_cell(r.get(c)) for c in self.columns] for r in shown]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
        if len(self.rows) > len(shown):
            lines.append(f"... {len(self.rows) - len(shown)} more rows")
        return "\n".join(lines) if self.columns else "(empty table)"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(format_cell(r.get(c)))}</td>"
                             for c in self.columns) + "</tr>" for r in self.rows[:200])
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_FRAME: Any = None


def _frame_class() -> Any:
    """``ResultsFrame``: a DataFrame subclass with ``best`` (built on first use)."""
    global _FRAME
    if _FRAME is None:
        import pandas as pd

        class ResultsFrame(pd.DataFrame):  # type: ignore[misc]
            """A pandas DataFrame of experiment results, with :meth:`best`."""

            @property
            def _constructor(self) -> Any:  # keep the subclass through pandas operations
                return ResultsFrame

            def best(self, metric: str, mode: str = "max") -> Any:
                """The row (a Series) with the best numeric ``metric``."""
                if metric not in self.columns:
                    raise KeyError(f"no column {metric!r}; columns are {', '.join(self.columns)}.")
                col = pd.to_numeric(self[metric], errors="coerce")
                if col.notna().sum() == 0:
                    raise KeyError(f"no row has a numeric {metric!r}.")
                if mode not in ("max", "min"):
                    raise ValueError(f"best() expected mode='max' or 'min', received {mode!r}.")
                return self.loc[col.idxmax() if mode == "max" else col.idxmin()]

        _FRAME = ResultsFrame
    return _FRAME


def make_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], params: Sequence[str],
               metrics: Sequence[str], force_pandas: bool = False) -> Any:
    """A ResultsFrame when pandas imports (or ``force_pandas``), else a :class:`Table`."""
    try:
        cls = _frame_class()
    except ImportError:
        if force_pandas:
            raise
        return Table(rows, columns, params, metrics)
    frame = cls([{c: r.get(c) for c in columns} for r in rows], columns=list(columns))
    frame.attrs["params"], frame.attrs["metrics"] = list(params), list(metrics)
    return frame


def table_rows(table: Any) -> tuple[list[dict[str, Any]], list[str], list[str], list[str]]:
    """``(rows, columns, params, metrics)`` of a Table, a DataFrame, a sweep or a list of dicts."""
    if hasattr(table, "results") and callable(table.results) and hasattr(table, "exprs"):
        table = table.results()  # a SweepResult
    if isinstance(table, Table):
        return table.to_dicts(), list(table.columns), list(table.params), list(table.metrics)
    if hasattr(table, "to_dict") and hasattr(table, "attrs"):  # a pandas DataFrame
        rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                for r in table.to_dict("records")]
        return (rows, [str(c) for c in table.columns], list(table.attrs.get("params", [])),
                list(table.attrs.get("metrics", [])))
    rows = [dict(r) for r in table]
    return rows, list(dict.fromkeys(k for r in rows for k in r)), [], []

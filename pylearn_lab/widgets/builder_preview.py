"""The builder's result preview: a short, safe look at one node's value.

Arrays show shape, dtype and summary statistics plus a small plot; numbers and
strings show as text; dicts, tuples and dataclasses as a table of their fields.
Values get the picture that fits them: a ``Model`` its training curves and a
table of its settings and learned arrays; a ``Dataset`` or ``Split`` a scatter
of its first two features, named on the axes, coloured by class with the class
names in a legend (a Split's test part hollow); a matplotlib ``Figure``
returned by a component is rendered to PNG. Values are recognised by shape
(duck typing), so the preview imports no component module. Plots are drawn on a standalone
``matplotlib.figure.Figure`` (no pyplot), so previews never touch the user's
current figure or open windows.

Examples
--------
>>> import numpy as np
>>> "shape (3, 2)" in describe(np.zeros((3, 2)))
True
>>> describe(0.25)
'<code>0.25</code> <span class="pylearn-muted">(float)</span>'
"""

from __future__ import annotations

import dataclasses
import html
import io
from typing import Any

import ipywidgets as W
import numpy as np

__all__ = ["Preview", "describe", "plot_png"]


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, np.ndarray):
        return f"array {value.dtype} shape {value.shape}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fields(value: Any) -> list[tuple[str, Any]] | None:
    if isinstance(value, dict):
        return [(str(k), v) for k, v in list(value.items())[:40]]
    if isinstance(value, (tuple, list)) and len(value) <= 40 and not all(
        isinstance(v, (int, float)) for v in value
    ):
        return [(f"[{i}]", v) for i, v in enumerate(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    return None


def _is_model(value: Any) -> bool:
    return (isinstance(getattr(value, "history", None), dict)
            and isinstance(getattr(value, "params", None), dict) and hasattr(value, "kind"))


def _is_dataset(value: Any) -> bool:
    return isinstance(getattr(value, "X", None), np.ndarray) and hasattr(value, "feature_names")


def _is_split(value: Any) -> bool:
    return _is_dataset(getattr(value, "train", None)) and _is_dataset(getattr(value, "test", None))


def _describe_model(value: Any) -> str:
    rows = [("kind", value.kind)]
    rows += [(f"setting {k}", v) for k, v in list(getattr(value, "settings", {}).items())[:20]]
    rows += [(f"learned {k}", f"{getattr(v, 'dtype', '')} {getattr(v, 'shape', '')}")
             for k, v in value.params.items()]
    rows += [(f"final {k}", f"{v[-1]:.6g} after {len(v)} steps")
             for k, v in value.history.items() if v]
    body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(_short(v))}</td></tr>"
                   for k, v in rows)
    return f"<code>{html.escape(_short(value, 160))}</code><table class='pylearn-table'>{body}</table>"


def describe(value: Any) -> str:
    """HTML text summarising ``value`` (escaped, bounded in size)."""
    if _is_model(value):
        return _describe_model(value)
    if isinstance(value, np.ndarray):
        text = f"array, shape {value.shape}, dtype {value.dtype}"
        if value.size and value.dtype.kind in "biuf":
            finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
            if finite.size:
                text += (f"<br>min {finite.min():.4g} · mean {finite.mean():.4g} · "
                         f"max {finite.max():.4g}")
        return text
    if isinstance(value, (bool, int, float, complex, np.generic, str, bytes)) or value is None:
        return (f"<code>{html.escape(_short(value, 400))}</code> "
                f"<span class=\"pylearn-muted\">({type(value).__name__})</span>")
    fields = _fields(value)
    head = f"<code>{html.escape(_short(value, 160))}</code>"
    if fields is None:
        return head
    rows = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(_short(v))}</td></tr>"
                   for k, v in fields)
    return f"{head}<table class='pylearn-table'>{rows}</table>"


def _first_array(value: Any, depth: int = 0) -> np.ndarray | None:
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size:
        return value
    fields = _fields(value) if depth < 2 else None
    for _k, v in fields or ():
        found = _first_array(v, depth + 1)
        if found is not None:
            return found
    return None


def plot_png(value: Any) -> bytes | None:
    """A small PNG: the figure itself, or a plot of the first numeric array inside."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(value, Figure):
        fig = value
    elif _is_model(value) and any(value.history.values()):
        fig = Figure(figsize=(3.4, 2.3), dpi=90)
        ax = fig.add_subplot()
        for name, series in value.history.items():
            if series:
                ax.plot(np.arange(1, len(series) + 1), series, lw=1.2, label=str(name))
        ax.set_xlabel("step", fontsize=8)
        ax.set_title(f"training of {value.kind}", fontsize=8)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
        fig.tight_layout()
    elif (_is_split(value) or _is_dataset(value)) and _scatterable(value):
        fig = _scatter(value)
    else:
        arr = _first_array(value)
        if arr is None:
            return None
        fig = Figure(figsize=(3.4, 2.3), dpi=90)
        ax = fig.add_subplot()
        colour_by = getattr(value, "y", None)
        if arr.ndim == 1:
            if arr.size > 1:
                ax.plot(arr[:2000], lw=1)
            else:
                ax.bar([0], arr)
        elif arr.ndim == 2 and arr.shape[1] >= 2:
            c = colour_by if isinstance(colour_by, np.ndarray) and len(colour_by) == len(arr) else None
            if c is None:
                ax.scatter(arr[:2000, 0], arr[:2000, 1], s=8)
            else:
                ax.scatter(arr[:2000, 0], arr[:2000, 1], s=8, c=c[:2000], cmap="viridis")
            names: Any = getattr(value, "feature_names", None)  # Dataset-like values name columns
            if not (isinstance(names, (list, tuple)) and len(names) >= 2):
                names = ("column 0", "column 1")
            ax.set_xlabel(str(names[0]), fontsize=8)
            ax.set_ylabel(str(names[1]), fontsize=8)
        else:
            ax.imshow(np.atleast_2d(arr.reshape(arr.shape[0], -1))[:200], aspect="auto")
        ax.tick_params(labelsize=7)
        fig.tight_layout()
    buf = io.BytesIO()
    FigureCanvasAgg(fig)  # attach an Agg canvas so savefig works without pyplot
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _scatterable(value: Any) -> bool:
    part = value.train if _is_split(value) else value
    return part.X.ndim == 2 and part.X.shape[1] >= 1 and len(part.X) > 0


def _scatter(value: Any) -> Any:
    """First two features, coloured by class, named axes; a Split's test part hollow."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.4, 2.5), dpi=90)
    ax = fig.add_subplot()
    parts = [("train", value.train), ("test", value.test)] if _is_split(value) else [("", value)]
    first = parts[0][1]
    names = list(first.feature_names) + ["(none)"] * 2
    classes = list(getattr(first, "target_names", ()) or ())
    colours = [f"C{i % 10}" for i in range(max(1, len(classes)))]
    for part_name, ds in parts:
        X = ds.X[:2000]
        xs = X[:, 0]
        ys = X[:, 1] if X.shape[1] > 1 else np.zeros(len(X))
        y = getattr(ds, "y", None)
        hollow = part_name == "test"
        if y is None or not classes:
            ax.scatter(xs, ys, s=9, label=part_name or None,
                       facecolors="none" if hollow else "C0", edgecolors="C0")
            continue
        y = np.asarray(y)[:2000]
        for code, cname in enumerate(classes):
            m = y == code
            if m.any():
                label = cname if not hollow else None
                ax.scatter(xs[m], ys[m], s=9, label=label, edgecolors=colours[code],
                           facecolors="none" if hollow else colours[code], linewidths=0.8)
    ax.set_xlabel(str(names[0]), fontsize=8)
    ax.set_ylabel(str(names[1]) if first.X.shape[1] > 1 else "", fontsize=8)
    if parts[0][0]:
        ax.set_title("train (filled) · test (hollow)", fontsize=8)
    if classes or parts[0][0]:
        ax.legend(fontsize=6.5, markerscale=1.2, loc="best")
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


class Preview(W.VBox):
    """Shows one node's value (or its error) under the inspector."""

    def __init__(self, **kwargs: Any) -> None:
        self.text = W.HTML()
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", display="none"))
        super().__init__([self.text, self.image], **kwargs)
        self.add_class("pylearn-preview")
        self.clear()

    def clear(self, note: str = "") -> None:
        self.text.value = f"<i class='pylearn-muted'>{html.escape(note)}</i>" if note else ""
        self.image.layout.display = "none"

    def show(self, label: str, value: Any) -> None:
        self.text.value = f"<b>Result of {html.escape(label)}</b><br>{describe(value)}"
        try:
            png = plot_png(value)
        except Exception as exc:  # a preview must never break the builder
            png = None
            self.text.value += f"<div class='pylearn-muted'>(no plot: {html.escape(str(exc))})</div>"
        if png:
            self.image.value = png
            self.image.layout.display = None
        else:
            self.image.layout.display = "none"

    def show_error(self, label: str, error: str, traceback: str = "", where: str = "") -> None:
        """The error in full, where it ran, and the traceback folded (click to expand)."""
        ran = f" on {html.escape(where)}" if where else ""
        first = error.split("\n--- traceback where it ran ---")[0]
        tb = traceback or (error.split("--- traceback where it ran ---\n", 1)[1]
                           if "--- traceback where it ran ---\n" in error else "")
        fold = (f"<details class='pylearn-traceback'><summary>traceback</summary>"
                f"<pre class='pylearn-error-pre'>{html.escape(tb)}</pre></details>") if tb else ""
        self.text.value = (f"<b>{html.escape(label)} failed{ran}</b>"
                           f"<pre class='pylearn-error-pre'>{html.escape(first)}</pre>{fold}")
        self.image.layout.display = "none"

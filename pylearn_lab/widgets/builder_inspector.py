"""The builder's inspector: a form for the selected node, made from its signature.

One field per parameter, chosen from its :class:`~pylearn_lab.graph.ParamSpec`:
a slider for a bounded number, a dropdown for ``Literal[...]``/enums, a
checkbox for ``bool``, number boxes for ``int``/``float``, a text box for
``str``, and a Python-literal box for anything else (``None``, lists, ...).
An input fed by an edge shows "connected from <node>" instead. Each field
has an error line under it, filled from the model's problems.

Examples
--------
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.widgets.builder_model import BuilderModel
>>> @component(category="demo")
... def repeat(word: str = "a", times: int = 2) -> str:
...     '''Repeat a word.'''
...     return word * times
>>> m = BuilderModel()
>>> n = m.add(repeat)
>>> form = Inspector(m)
>>> form.show(n)
>>> form.fields["times"].value = 3
>>> m.nodes[n].params
{'times': 3}
"""

from __future__ import annotations

import ast
import html
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..graph.nodes import iter_refs

if TYPE_CHECKING:
    from ..graph.params import ParamSpec
    from .builder_model import BuilderModel

__all__ = ["Inspector", "field_for"]

_STYLE = {"description_width": "96px"}
_WIDTH = W.Layout(width="96%")
_UNSET = object()
_LITERAL = "pylearn-literal"  # marks the text boxes whose content is parsed as a Python literal


def field_for(spec: ParamSpec, value: Any) -> W.Widget:
    """The input widget for ``spec`` showing ``value`` (``_UNSET``: the default)."""
    shown = spec.default if value is _UNSET else value
    common: dict[str, Any] = {"description": spec.name, "style": _STYLE, "layout": _WIDTH}
    b = spec.bounds
    literal = spec.optional and shown is None
    if spec.kind == "choice" and not literal:
        options = [(getattr(c, "name", None) or str(c), c) for c in spec.choices]
        ok = shown in spec.choices
        return W.Dropdown(options=options, value=shown if ok else None, **common)
    if spec.kind == "bool" and isinstance(shown, bool):
        return W.Checkbox(value=shown, indent=False, **common)
    if spec.kind in ("int", "float") and isinstance(shown, (int, float)) and not literal:
        is_int = spec.kind == "int"
        if b is not None:
            cls = W.IntSlider if is_int else W.FloatSlider
            step = b.step if b.step is not None else (1 if is_int else (b.high - b.low) / 100)
            low, high = (int(b.low), int(b.high)) if is_int else (b.low, b.high)
            w = cls(min=low, max=high, step=step, continuous_update=False, **common)
            w.value = shown if low <= shown <= high else w.value
            return w
        cls2 = W.IntText if is_int and isinstance(shown, int) else W.FloatText
        return cls2(value=shown, **common)
    if spec.kind == "str" and isinstance(shown, str):
        return W.Text(value=shown, continuous_update=False, **common)
    text = "" if value is _UNSET and spec.required else repr(shown)
    box = W.Text(value=text, placeholder="a Python literal, e.g. 3 or [1, 2]",
                 continuous_update=False, **common)
    box.add_class(_LITERAL)
    return box


def _parse(widget: W.Widget, spec: ParamSpec) -> Any:
    """The value typed in a literal box; ``_UNSET`` for an empty box."""
    if _LITERAL in widget._dom_classes:
        text = widget.value.strip()
        if not text:
            return _UNSET
        return ast.literal_eval(text)
    return widget.value


class Inspector(W.VBox):
    """The parameter form of the selected node; see the module docstring."""

    def __init__(self, model: BuilderModel, **kwargs: Any) -> None:
        self.model = model
        self.node_id: str | None = None
        self.title = W.HTML()
        self.fields: dict[str, W.Widget] = {}
        self.errors: dict[str, W.HTML] = {}
        self.node_error = W.HTML()
        self.form = W.VBox()
        super().__init__([self.title, self.node_error, self.form],
                         layout=W.Layout(width="100%"), **kwargs)
        self.add_class("pylearn-inspector")
        self.show(None)

    def show(self, node_id: str | None) -> None:
        """Rebuild the form for ``node_id`` (``None``: a hint to select a node)."""
        self.node_id = node_id if node_id in self.model.nodes else None
        self.fields, self.errors = {}, {}
        if self.node_id is None:
            self.title.value = "<b>Inspector</b><br><i>Select a node to edit its parameters.</i>"
            self.form.children = ()
            self.node_error.value = ""
            return
        node = self.model.nodes[self.node_id]
        comp = self.model.component(self.node_id)
        summary = html.escape(comp.summary) if comp else "(component not registered)"
        self.title.value = (f"<b>{html.escape(self.model.label(self.node_id))}</b>"
                            f"<div class='pylearn-muted'>{summary}</div>")
        rows: list[W.Widget] = []
        for spec in (comp.params if comp else []):
            if spec.variadic and spec.name not in node.params:
                continue
            value = node.params.get(spec.name, _UNSET)
            if value is not _UNSET and any(iter_refs(value)):
                sources = ", ".join(self.model.label(r.key) for r in iter_refs(value))
                widget: W.Widget = W.HTML(
                    f"<div class='pylearn-linked'><span class='pylearn-param'>"
                    f"{html.escape(spec.name)}</span><span class='pylearn-connected'>"
                    f"connected from {html.escape(sources)}</span></div>")
            else:
                widget = field_for(spec, value)
                widget.observe(lambda ch, s=spec, w=widget: self._edited(s, w), names="value")
            widget.add_class("pylearn-field-" + spec.name)  # a handle for browser tests
            self.fields[spec.name] = widget
            self.errors[spec.name] = W.HTML()
            rows += [widget, self.errors[spec.name]]
        self.form.children = tuple(rows)
        self.update_problems()

    def update_problems(self) -> None:
        """Refresh the error lines from the model (no rebuild: typing keeps focus)."""
        if self.node_id is None or self.node_id not in self.model.nodes:
            return
        problems = self.model.problems().get(self.node_id, [])
        for name, line in self.errors.items():
            msgs = [p.message for p in problems if p.param == name]
            line.value = "".join(f"<div class='pylearn-error'>{html.escape(m)}</div>" for m in msgs)
        general = [p.message for p in problems if p.param not in self.errors]
        blocked = self.model.build().blocked.get(self.node_id)
        if blocked:
            general.append("waits for " + ", ".join(self.model.label(k) for k in blocked)
                           + " to be fixed")
        self.node_error.value = "".join(
            f"<div class='pylearn-error'>{html.escape(m)}</div>" for m in general)

    def _edited(self, spec: ParamSpec, widget: W.Widget) -> None:
        if self.node_id is None:
            return
        try:
            value = _parse(widget, spec)
        except (ValueError, SyntaxError):
            self.errors[spec.name].value = (
                f"<div class='pylearn-error'>{html.escape(repr(widget.value))} is not a Python "
                "literal: expected e.g. 3, 0.5, 'text', [1, 2] or None</div>")
            return
        if value is _UNSET:
            self.model.unset_param(self.node_id, spec.name)
        else:
            self.model.set_param(self.node_id, spec.name, value)

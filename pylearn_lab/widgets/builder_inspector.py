"""The builder's inspector: a form for the selected node, made from its signature.

One field per parameter, chosen from its :class:`~pylearn_lab.graph.ParamSpec`:
a dropdown for ``Literal[...]``/enums, a checkbox for ``bool``, a text box
for ``str``, an exact number box for ``int``/``float`` and a Python-literal
box for anything else (``None``, lists, ...). An input fed by an edge shows
"connected from <node>" instead.

Numbers are typed text parsed exactly, never clamped or rounded: ``"2.7"`` in
an ``int`` box is refused (not truncated to 2, not read as 27), ``0.001`` shows
as ``0.001``, and a value outside the bounds (shown beside the name) is kept
and flagged, not moved to the nearest bound. A value that is not a number is
kept as typed, so the node shows why it cannot run. Each literal parameter
has a toggle that turns it into an input port; each field has an error line
under it, filled from the model's problems.

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
>>> form.fields["times"].value = "3"
>>> m.nodes[n].params
{'times': 3}
>>> form.fields["times"].value = "2.7"
>>> m.nodes[n].params, m.problems()[n][0].param
({'times': '2.7'}, 'times')
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

__all__ = ["Inspector", "field_for", "parse_number"]

_STYLE = {"description_width": "96px"}
_WIDTH = W.Layout(width="96%")
_UNSET = object()
_LITERAL = "pylearn-literal"  # marks the text boxes whose content is parsed as a Python literal


_NUMBER = "pylearn-number"  # marks the text boxes parsed as an exact int or float


def parse_number(text: str, kind: str) -> Any:
    """``text`` as an exact ``int`` or ``float``; the text itself when it is not one.

    >>> parse_number("0.001", "float"), parse_number(" 27 ", "int"), parse_number("2.7", "int")
    (0.001, 27, '2.7')
    >>> parse_number("1e-3", "float"), parse_number("None", "int"), parse_number("", "int")
    (0.001, None, '')
    """
    t = text.strip()
    if t == "None":
        return None
    try:
        if kind == "int":
            return int(t.replace("_", "")) if t.lstrip("+-").replace("_", "").isdigit() else t
        return float(t)
    except ValueError:
        return t


def _number_text(value: Any) -> str:
    return repr(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else (
        value if isinstance(value, str) else repr(value))


def field_for(spec: ParamSpec, value: Any) -> W.Widget:
    """The input widget for ``spec`` showing ``value`` (``_UNSET``: the default)."""
    shown = spec.default if value is _UNSET else value
    b = spec.bounds
    label = spec.name if b is None else f"{spec.name} [{_num(b.low)}…{_num(b.high)}]"
    common: dict[str, Any] = {"description": label, "style": _STYLE, "layout": _WIDTH,
                              "description_allow_html": False}
    literal = spec.optional and shown is None
    if spec.kind == "choice" and not literal and shown in spec.choices:
        options = [(getattr(c, "name", None) or str(c), c) for c in spec.choices]
        return W.Dropdown(options=options, value=shown, **common)
    if spec.kind == "bool" and isinstance(shown, bool):
        return W.Checkbox(value=shown, indent=False, **common)
    if spec.kind in ("int", "float") and not isinstance(shown, bool) and (
            isinstance(shown, (int, float, str)) or literal):
        hint = f"{spec.kind}" + (f" in [{_num(b.low)}, {_num(b.high)}]" if b is not None else "")
        box = W.Text(value="" if value is _UNSET and spec.required else _number_text(shown),
                     placeholder=hint + (" or None" if spec.optional else ""),
                     tooltip=hint, continuous_update=False, **common)
        box.add_class(_NUMBER)
        return box
    if spec.kind == "str" and isinstance(shown, str):
        return W.Text(value=shown, continuous_update=False, **common)
    text = "" if value is _UNSET and spec.required else repr(shown)
    box = W.Text(value=text, placeholder="a Python literal, e.g. 3 or [1, 2]",
                 continuous_update=False, **common)
    box.add_class(_LITERAL)
    return box


def _num(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() else repr(x)


def _parse(widget: W.Widget, spec: ParamSpec) -> Any:
    """The value typed in a literal box; ``_UNSET`` for an empty box."""
    if _NUMBER in widget._dom_classes:
        value = parse_number(widget.value, spec.kind)
        return _UNSET if value == "" else value
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
            row: W.Widget = widget
            if spec.kind != "any" and not spec.variadic and not spec.required:
                row = W.HBox([widget, self._port_toggle(spec.name, spec.name in node.exposed)],
                             layout=W.Layout(width="100%", align_items="center"))
                widget.layout = W.Layout(flex="1 1 auto", width="auto")
            rows += [row, self.errors[spec.name]]
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

    def _port_toggle(self, name: str, on: bool) -> W.ToggleButton:
        t = W.ToggleButton(value=on, icon="sign-in", layout=W.Layout(width="34px", flex="0 0 34px"),
                           tooltip=f"take {name} from an edge: show it as an input port on the node")
        t.add_class("pylearn-port-toggle")
        t.add_class("pylearn-port-toggle-" + name)
        t.observe(lambda ch: self._exposed(name, bool(ch["new"])), names="value")
        return t

    def _exposed(self, name: str, on: bool) -> None:
        if self.node_id is not None:
            self.model.expose(self.node_id, name, on)

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

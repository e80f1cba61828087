"""The builder's canvas: an anywidget drawing nodes and edges in SVG.

The browser half is ``static/builder.js`` (plain ESM, no build step). The canvas
holds no graph logic: Python pushes what to draw through synced traits, and the
browser reports what the user did as small messages
(``{"kind": "connect", "src": ..., "dst": ..., "param": ...}``) that
:class:`~pylearn_lab.widgets.builder.GraphBuilder` applies to its model. Only
the selection travels as a trait (``selected``), so ``set_state`` simulates a
click in tests.

Synced traits
-------------
nodes : list of dict
    ``id, label, category, colour, x, y, inputs`` (port names), ``cached`` (the
    result is in the cache: the run will skip it), ``problem`` (why it cannot
    run, or ``""``), ``blocked`` (waits for a node with a problem).
edges : list of dict
    ``id, src, dst, param``.
status : dict
    ``node id -> {"state", "note", "error"}`` during and after a run;
    state is one of queued, running, done, cached, failed, skipped.
selected : str
    Id of the focused node (the one the inspector shows), ``""`` for none.
selection : list of str
    Every selected node (shift-click, box select); contains ``selected``.
notice : dict
    ``{"text", "error", "n"}``: a message shown on the canvas (a refused edge...);
    ``n`` increases with each notice so a repeated one shows again.
palette : list of dict
    ``name, qualname, category, summary`` of every registered component, for the
    double-click quick-add search and drags from the palette.
fit : int
    Incremented to ask the browser to fit the view to the graph.

The canvas's size is its ipywidgets ``layout`` (``layout.height``).

Examples
--------
>>> c = BuilderCanvas()
>>> seen = []
>>> c.on_action(seen.append)
>>> c.receive({"kind": "move", "id": "n1", "x": 10, "y": 20})
>>> seen
[{'kind': 'move', 'id': 'n1', 'x': 10, 'y': 20}]
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

__all__ = ["ACTIONS", "BuilderCanvas"]

_STATIC = pathlib.Path(__file__).parent / "static"

#: The messages the browser may send, with their required fields.
ACTIONS: dict[str, tuple[str, ...]] = {
    "move": ("id", "x", "y"),
    "move_many": ("moves",),
    "connect": ("src", "dst", "param"),
    "delete_node": ("id",),
    "delete_edge": ("id",),
    "layout": (),
    "delete": ("nodes", "edges"),
    "select": ("ids",),
    "duplicate": ("ids",),
    "copy": ("ids",),
    "paste": (),
    "add": ("component", "x", "y"),
    "undo": (),
    "redo": (),
    "code": (),
}


class BuilderCanvas(anywidget.AnyWidget):
    """SVG node editor; see the module docstring for the traits and messages."""

    _esm = _STATIC / "builder.js"
    _css = _STATIC / "builder.css"

    nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    edges = traitlets.List(traitlets.Dict()).tag(sync=True)
    status = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    selection = traitlets.List(traitlets.Unicode()).tag(sync=True)
    notice = traitlets.Dict().tag(sync=True)
    palette = traitlets.List(traitlets.Dict()).tag(sync=True)
    fit = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._actions: list[Callable[[dict[str, Any]], None]] = []
        self.on_msg(self._on_msg)

    def on_action(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(message)`` for every well-formed message from the browser."""
        self._actions.append(callback)

    def receive(self, content: Any) -> None:
        """Handle one message as if the browser sent it (tests use this too)."""
        if not isinstance(content, dict) or content.get("kind") not in ACTIONS:
            return  # stray messages (other frontends, old JS) are ignored, not fatal
        if any(f not in content for f in ACTIONS[content["kind"]]):
            return
        for cb in list(self._actions):
            cb(content)

    def say(self, text: str, error: bool = False) -> None:
        """Show ``text`` on the canvas (a toast near the top, gone after a few seconds)."""
        self.notice = {"text": text, "error": error, "n": int(self.notice.get("n", 0)) + 1}

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        self.receive(content)

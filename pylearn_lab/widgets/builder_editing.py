"""The builder's editing commands: selection, history, clipboard, files and code.

:class:`EditingMixin` holds what the mouse and the keyboard do besides adding and
connecting (those are :class:`~pylearn_lab.widgets.builder.GraphBuilder`'s own):
select one or several nodes, undo and redo, delete, copy, paste and duplicate a
selection with its internal edges, expose a parameter as a port, load a file into
the open builder, export the graph as code, and the dispatcher that applies the
canvas's messages (:data:`~pylearn_lab.widgets.builder_canvas.ACTIONS`). Every
edit goes through the :class:`~pylearn_lab.widgets.builder_model.BuilderModel`,
so each one is in its history. The clipboard is shared by the builders of one
kernel: copy in one, paste in another.

Examples
--------
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.widgets import GraphBuilder
>>> @component(category="demo")
... def one() -> int:
...     '''One.'''
...     return 1
>>> b = GraphBuilder(cache=False)
>>> n = b.add(one)
>>> b.copy([n]), len(b.paste()), len(b.model)
(1, 1, 2)
>>> b.undo(), len(b.model)
(True, 1)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import GraphError, PylearnError
from .builder_io import model_from_json

if TYPE_CHECKING:
    from .builder_canvas import BuilderCanvas
    from .builder_model import BuilderModel

__all__ = ["EditingMixin"]

#: The last copy (shared by every builder in the kernel, so copy in one, paste in another).
_CLIPBOARD: list[dict[str, Any]] = []


class EditingMixin:
    """Editing commands of the graph builder; see the module docstring."""

    model: BuilderModel
    canvas: BuilderCanvas

    # provided by GraphBuilder (first in the method order, so these never run)
    def _say(self, text: str, error: bool = False) -> None:
        raise NotImplementedError

    def _fit_height(self) -> None:
        raise NotImplementedError

    def to_code(self) -> str:
        raise NotImplementedError

    def layout(self) -> None:
        raise NotImplementedError

    def select(self, node_id: str | Iterable[str] | None) -> None:
        """Select a node (as a click on the canvas does), or several (a list; the
        first one is shown in the inspector)."""
        ids = [node_id] if isinstance(node_id, str) else list(node_id or [])
        ids = [k for k in ids if k in self.model.nodes]
        self.canvas.selection = ids
        self.canvas.selected = ids[0] if ids else ""

    @property
    def selection(self) -> list[str]:
        """The selected node ids."""
        return [k for k in self.canvas.selection if k in self.model.nodes]

    def undo(self) -> bool:
        """Revert the last edit (any kind: add, delete, connect, parameter, move, paste...)."""
        done = self.model.undo()
        self._say("" if done else "nothing to undo")
        return done

    def redo(self) -> bool:
        """Re-apply the last undone edit."""
        done = self.model.redo()
        self._say("" if done else "nothing to redo")
        return done

    def delete(self, node_ids: Iterable[str] | None = None) -> None:
        """Delete these nodes (default: the selection) as one edit."""
        ids = list(self.selection if node_ids is None else node_ids)
        self.model.remove_many(ids)
        self.select([k for k in self.selection if k not in ids])

    def copy(self, node_ids: Iterable[str] | None = None) -> int:
        """Copy these nodes (default: the selection) with the edges between them;
        return how many were copied."""
        clip = self.model.copy(self.selection if node_ids is None else node_ids)
        _CLIPBOARD[:] = [clip]
        return len(clip["nodes"])

    def paste(self, at: tuple[float, float] | None = None) -> list[str]:
        """Paste the last copy (also one made in another builder); select the copies."""
        if not _CLIPBOARD or not _CLIPBOARD[0]["nodes"]:
            self._say("nothing to paste: select nodes and copy them (Ctrl/Cmd+C) first")
            return []
        ids = self.model.paste(_CLIPBOARD[0], at=at)
        self.select(ids)
        return ids

    def duplicate(self, node_ids: Iterable[str] | None = None) -> list[str]:
        """Copy and paste in one step; select the copies."""
        ids = self.model.duplicate(self.selection if node_ids is None else node_ids)
        self.select(ids)
        return ids

    def expose(self, node_id: str, name: str, on: bool = True) -> None:
        """Turn literal parameter ``name`` into an input port (``on=False``: back)."""
        self.model.expose(node_id, name, on)


    def load_file(self, path: str | os.PathLike[str]) -> None:
        """Replace this builder's graph by the one in ``path`` (one undoable edit)."""
        with open(path, encoding="utf-8") as f:
            other = model_from_json(f.read())
        self.model.replace_all(other)
        self.select(None)
        self._fit_height()
        self.canvas.fit += 1

    def export_code(self) -> str:
        """The graph as code, sent to the browser: it opens a new cell below with it
        where JupyterLab lets it, and otherwise copies it and shows it on the canvas."""
        code = self.to_code()
        self.canvas.send({"kind": "code", "code": code})
        self._say("code of the graph: inserted below (or copied)")
        return code


    def _action(self, msg: dict[str, Any]) -> None:
        kind = msg["kind"]
        ids = [str(k) for k in msg.get("ids") or () if str(k) in self.model.nodes]
        try:
            if kind == "move" and msg["id"] in self.model.nodes:
                self.model.move(msg["id"], float(msg["x"]), float(msg["y"]))
            elif kind == "move_many":
                with self.model.group():
                    for node_id, x, y in msg["moves"]:
                        if node_id in self.model.nodes:
                            self.model.move(str(node_id), float(x), float(y))
            elif kind == "connect":
                self.model.connect(str(msg["src"]), str(msg["dst"]), str(msg["param"]))
                self._say("")
            elif kind == "delete_node" and msg["id"] in self.model.nodes:
                self.delete([msg["id"]])
            elif kind == "delete_edge":
                self.model.disconnect(str(msg["id"]))
            elif kind == "delete":
                with self.model.group():
                    for edge in msg.get("edges") or ():
                        if any(e.id == edge for e in self.model.edges):
                            self.model.disconnect(str(edge))
                    self.delete([str(k) for k in msg.get("nodes") or ()
                                 if str(k) in self.model.nodes])
            elif kind == "select":
                self.select(ids)
            elif kind == "duplicate":
                self.duplicate(ids)
            elif kind == "copy":
                n = self.copy(ids)
                self._say(f"copied {n} node(s)")
            elif kind == "paste":
                at = (float(msg["x"]), float(msg["y"])) if "x" in msg and "y" in msg else None
                self.paste(at)
            elif kind == "add":
                node_id = self.model.add(str(msg["component"]), at=(float(msg["x"]), float(msg["y"])))
                self.select(node_id)
            elif kind == "undo":
                self.undo()
            elif kind == "redo":
                self.redo()
            elif kind == "code":
                self._code_clicked()
            elif kind == "layout":
                self.layout()
        except (PylearnError, KeyError, ValueError, TypeError) as exc:
            text = str(exc).strip("'\"")
            self._say(text, error=True)
            self.canvas.say(text, error=True)


    def _code_clicked(self) -> None:
        try:
            self.export_code()
        except GraphError as exc:  # an incomplete graph has no code yet: say what to fix
            self._say(str(exc), error=True)
            self.canvas.say("no code yet: " + str(exc).split("\n")[0], error=True)

    def _file_clicked(self, what: str) -> None:
        path = self.path.value.strip()
        if not path:
            self._say("type a file name (e.g. graph.json) left of the Save button", error=True)
            return
        try:
            if what == "save":
                self.save(path)
                self._say(f"saved {len(self.model)} node(s) to {path}")
            else:
                self.load_file(path)
                self._say(f"loaded {path}: {len(self.model)} node(s); undo brings back the previous graph")
        except (OSError, PylearnError, ValueError) as exc:
            self._say(f"could not {what} {path!r}: {exc}", error=True)


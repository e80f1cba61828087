"""The builder's edit history: undo and redo over whole-model snapshots.

Every edit of a :class:`~pylearn_lab.widgets.builder_model.BuilderModel`
(add, remove, connect, disconnect, a parameter, a move, a layout, a paste...)
records the state *before* it. Snapshots rather than inverse operations: an
inverse per edit kind is a second implementation of every edit that can drift
from the first; a snapshot is exact by construction and the graphs a notebook
user builds (tens of nodes, small literals) make it cheap. Several edits that
are one gesture (paste, delete a selection) are grouped with
:meth:`History.group` so one undo reverts them together.

Examples
--------
>>> h = History(limit=2)
>>> state = {"v": 0}
>>> for v in (1, 2, 3):
...     h.record(dict(state)); state["v"] = v
>>> state = h.undo(dict(state)); state
{'v': 2}
>>> h.redo(dict(state))
{'v': 3}
>>> h.undo({"v": 3}), h.undo({"v": 2}), h.can_undo   # the limit dropped the oldest
({'v': 2}, {'v': 1}, False)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["History"]


class History:
    """Undo and redo stacks of opaque snapshots; see the module docstring."""

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self._undo: list[Any] = []
        self._redo: list[Any] = []
        self._depth = 0  # > 0 inside group(): only the first edit of the group records

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def record(self, before: Any) -> None:
        """An edit is about to change the state ``before``: remember it, forget redo."""
        if self._depth and self._grouped:
            return
        if self._depth:
            self._grouped = True
        self._undo.append(before)
        del self._undo[:-self.limit]
        self._redo.clear()

    @contextmanager
    def group(self) -> Iterator[None]:
        """Edits inside the ``with`` block undo as one."""
        if self._depth == 0:
            self._grouped = False
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def undo(self, current: Any) -> Any:
        """The state before the last edit (``current`` goes onto the redo stack)."""
        if not self._undo:
            raise IndexError("nothing to undo")
        self._redo.append(current)
        return self._undo.pop()

    def redo(self, current: Any) -> Any:
        """The state the last undo left (``current`` goes back onto the undo stack)."""
        if not self._redo:
            raise IndexError("nothing to redo")
        self._undo.append(current)
        return self._redo.pop()

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    _grouped = False

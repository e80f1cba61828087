"""The builder's palette: every registered component, by category, searchable.

The palette follows the registry live (:func:`pylearn_lab.graph.registry.subscribe`),
so a ``@component`` defined in the notebook after the builder opened shows up
at once; the refresh button rebuilds it by hand too. Clicking an entry calls
the ``on_pick`` callback with the component's qualified name. Each entry's
button carries the CSS class ``pylearn-palette-<name>`` so a browser test can
find it without matching cell source text. Entries can also be dragged onto
the canvas (``builder.js`` listens for it).

Search matches component names (and categories); only when no name matches
does it fall back to the one-line summaries, so "pca" finds ``pca`` and not
every component whose docstring mentions it. A category whose entries are all
hidden is hidden with them.

Examples
--------
>>> picked = []
>>> p = Palette(picked.append)
>>> p.refresh()
>>> p.search.value = "no component is called like this"
>>> all(b.layout.display == "none" for b in p.entries.values())
True
>>> all(h.layout.display == "none" for h in p.headers.values())
True
"""

from __future__ import annotations

import html
import re
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..graph import registry

if TYPE_CHECKING:
    from ..graph.component import Component

__all__ = ["Palette"]


class Palette(W.VBox):
    """Component list with a search box; see the module docstring."""

    def __init__(self, on_pick: Callable[[str], None], **kwargs: Any) -> None:
        self.search = W.Text(placeholder="search components", continuous_update=True,
                             layout=W.Layout(width="auto", flex="1 1 auto"))
        self.refresh_button = W.Button(icon="refresh", tooltip="reload the component list",
                                       layout=W.Layout(width="34px"))
        self.refresh_button.add_class("pylearn-palette-refresh")
        self.listing = W.VBox(layout=W.Layout(overflow="auto", max_height="520px"))
        self.entries: dict[str, W.Button] = {}  # qualname -> button
        self.headers: dict[str, W.HTML] = {}  # category -> its heading
        self._rows: dict[str, W.Box] = {}
        self._sigs: dict[str, tuple[str, str]] = {}  # qualname -> what its row shows
        self._empty = W.HTML("<i>No component is registered yet: define one with "
                             "@pylearn_lab.component.</i>")
        self._on_pick = on_pick
        super().__init__(
            [W.HTML("<b>Components</b>"), W.HBox([self.search, self.refresh_button]),
             self.listing],
            layout=W.Layout(width="240px", min_width="240px", padding="0 6px 0 0"),
            **kwargs,
        )
        self.add_class("pylearn-palette")
        self.search.observe(lambda _c: self._filter(), names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self._subscription = _subscribe(self)
        self.refresh()

    def refresh(self) -> None:
        """Bring the list up to date with the registry (keeps the search text).

        Rows of components that did not change are kept; only new or changed ones are
        built, and rows of components no longer listed are closed. Rebuilding every
        row made each ``@component`` defined in the notebook cost 7.7 s with 2,000
        registered (12,000 new widgets per definition, per open builder), and the old
        widgets were never closed: they stayed in the kernel and the front end.
        """
        comps = registry.all_components()
        old_rows, old_heads, old_sigs = self._rows, self.headers, self._sigs
        old_entries = self.entries
        rows: list[W.Widget] = []
        self.entries, self._rows, self.headers, self._sigs = {}, {}, {}, {}
        category = None
        for comp in comps:
            if comp.category != category:
                category = comp.category
                head = old_heads.pop(category, None) or self._header(category)
                self.headers[category] = head
                rows.append(head)
            sig = (comp.name, comp.summary)
            if old_sigs.get(comp.qualname) == sig:
                row = old_rows.pop(comp.qualname)
                self._rows[comp.qualname] = row
                self.entries[comp.qualname] = old_entries[comp.qualname]
                self._sigs[comp.qualname] = sig
            else:
                row = self._entry(comp)
            rows.append(row)
        if not comps:
            rows.append(self._empty)
        self.listing.children = tuple(rows)
        for gone in [*old_rows.values(), *old_heads.values()]:
            _close_all(gone)
        self._filter()

    def _header(self, category: str) -> W.HTML:
        return W.HTML(f"<div class='pylearn-palette-cat' role='heading' aria-level='3'>"
                      f"{html.escape(category)}</div>", layout=W.Layout(flex="0 0 auto"))

    def _entry(self, comp: Component) -> W.Box:
        button = W.Button(description=comp.name, tooltip=f"{comp.qualname}\n{comp.summary}",
                          layout=W.Layout(width="98%", height="28px", flex="0 0 auto"))
        button.add_class("pylearn-palette-item")
        button.add_class("pylearn-palette-" + re.sub(r"[^\w-]", "_", comp.name))
        button.on_click(lambda _b, q=comp.qualname: self._on_pick(q))
        summary = W.HTML(f"<div class='pylearn-palette-summary'>{html.escape(comp.summary)}</div>",
                         layout=W.Layout(flex="0 0 auto", margin="0 0 0 4px"))
        # flex "0 0 auto": rows keep their height in the scrolling list instead of shrinking
        row = W.VBox([button, summary], layout=W.Layout(margin="0 0 6px 0", flex="0 0 auto"))
        self.entries[comp.qualname] = button
        self._rows[comp.qualname] = row
        self._sigs[comp.qualname] = (comp.name, comp.summary)
        return row

    def _filter(self) -> None:
        words = self.search.value.lower().split()
        comps = {c.qualname: c for c in registry.all_components()}

        def matches(qual: str, summaries: bool) -> bool:
            comp = comps.get(qual)
            text = (f"{comp.name} {comp.category}" if comp else qual).lower()
            if summaries and comp is not None:
                text += " " + comp.summary.lower()
            return all(w in text for w in words)

        shown = {q for q in self._rows if matches(q, False)}
        if words and not shown:  # no name matches: try the summaries before showing nothing
            shown = {q for q in self._rows if matches(q, True)}
        visible_categories = set()
        for qual, row in self._rows.items():
            show = qual in shown
            row.layout.display = None if show else "none"
            self.entries[qual].layout.display = None if show else "none"
            if show and qual in comps:
                visible_categories.add(comps[qual].category)
        for category, head in self.headers.items():
            head.layout.display = None if category in visible_categories else "none"

    def close(self) -> None:
        """Stop following the registry and close every widget of the palette."""
        registry.unsubscribe(self._subscription)
        for child in self.children:
            _close_all(child)
        if self._empty not in self.listing.children:
            _close_all(self._empty)
        self.layout.close()
        super().close()


def _close_all(widget: W.Widget) -> None:
    """Close ``widget``, its children and their layouts (each a widget of its own)."""
    for child in getattr(widget, "children", ()):
        _close_all(child)
    layout = getattr(widget, "layout", None)
    if isinstance(layout, W.Widget):
        layout.close()
    widget.close()


def _subscribe(palette: Palette) -> Callable[[], None]:
    """Follow the registry without keeping a closed or forgotten palette alive."""
    ref = weakref.ref(palette)

    def changed() -> None:
        p = ref()
        if p is None:
            registry.unsubscribe(changed)
        else:
            p.refresh()

    registry.subscribe(changed)
    return changed

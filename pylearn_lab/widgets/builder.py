"""``GraphBuilder``: compose, run and inspect expression graphs in a notebook.

The builder is a composition of views over one
:class:`~pylearn_lab.widgets.builder_model.BuilderModel`: the palette adds
nodes, the SVG canvas moves, connects and deletes them, the inspector edits
parameters, and the Run button calls the same :func:`pylearn_lab.run` that
code calls (``wait=False``: the kernel stays free) with a
:class:`~pylearn_lab.widgets.builder_run.RunTracker` colouring nodes live.
Everything the mouse does has a Python method too, and the graph comes back
as plain code with :meth:`GraphBuilder.to_code`.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component(category="demo")
... def base(v: int = 2) -> int:
...     '''A number.'''
...     return v
>>> @component(category="demo")
... def square(x) -> int:
...     '''x squared.'''
...     return x * x
>>> b = GraphBuilder(square(base(v=3)), cache=False)
>>> [n["label"] for n in b.canvas.nodes]
['base', 'square']
>>> b.expr.key == square(base(v=3)).key
True
"""

from __future__ import annotations

import html
import importlib
import os
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..errors import GraphError
from ..graph import registry
from .builder_canvas import BuilderCanvas
from .builder_code import model_to_code
from .builder_editing import EditingMixin
from .builder_inspector import Inspector
from .builder_io import model_from_exprs, model_from_json, model_to_json
from .builder_layout import node_height, spot_right_of
from .builder_model import BuilderModel
from .builder_palette import Palette
from .builder_preview import Preview
from .builder_run import RunTracker
from .builder_view import draw_lists, drawn_state

if TYPE_CHECKING:
    from ..graph.component import Component
    from ..graph.expr import Expr
    from ..graph.graph import Graph
    from ..vm.handle import RunHandle

__all__ = ["GraphBuilder"]

LOCAL_BACKENDS = ("serial", "threads", "processes")


def backend_options() -> list[str]:
    """Backends the Run menu offers: local ones, plus ipyparallel when a cluster is connected."""
    names = list(LOCAL_BACKENDS)
    try:
        from ..backends import current_cluster

        if current_cluster() is not None:
            names.append("ipyparallel")
    except (ImportError, AttributeError):
        pass
    return names


class GraphBuilder(EditingMixin, W.VBox):
    """The visual graph builder; see the module docstring.

    Parameters
    ----------
    expr : Expr, list of Expr or Graph, optional
        A graph built in code to open (laid out automatically).
    backend : str or Backend, optional
        Preselected backend (default ``"serial"``).
    cache : Cache, path, None or False
        Passed to :func:`pylearn_lab.run`; None is the session default cache.
    """

    def __init__(self, expr: Expr | Sequence[Expr] | Graph | None = None,
                 backend: Any = None, cache: Any = None, *,
                 model: BuilderModel | None = None, **kwargs: Any) -> None:
        _load_library()
        self.model = model if model is not None else (
            model_from_exprs(expr) if expr is not None else BuilderModel())
        self.cache = _resolve_cache(cache)
        self._cache_arg = cache if cache is False else self.cache
        self.tracker = RunTracker(self._push_status)
        self.last_run: RunHandle | None = None
        self._keys: dict[str, str] = {}
        self._values: dict[str, Any] = {}  # key -> value loaded for preflight checks
        self.model.known_value = self._known_value

        self.canvas = BuilderCanvas(layout=W.Layout(flex="1 1 520px", min_width="360px",
                                                    height="520px"))
        self.palette = Palette(self._picked)
        self.inspector = Inspector(self.model)
        self.preview = Preview()
        self.run_button = W.Button(description="Run", icon="play", button_style="success",
                                   tooltip="run the graph (results already cached are skipped)")
        self.run_button.add_class("pylearn-run")
        self.stop_button = W.Button(description="Stop", icon="stop", disabled=True,
                                    tooltip="cancel the run (finished nodes stay cached)",
                                    layout=W.Layout(width="80px"))
        self.stop_button.add_class("pylearn-stop")
        self.backend = W.Dropdown(options=backend_options(), value="serial",
                                  layout=W.Layout(width="150px"))
        self.backend.add_class("pylearn-backend")
        if backend is not None:
            self.backend.options = _with_option(self.backend.options, backend)
            self.backend.value = backend
        self.message = W.HTML()
        self.message.add_class("pylearn-message")
        self.path = W.Text(value="graph.json", placeholder="file for save / load",
                           tooltip="the JSON file Save writes and Load reads",
                           layout=W.Layout(width="150px"))
        self.path.add_class("pylearn-path")
        self.save_button = _tool("Save", "save", "write the graph to the file named left", "pylearn-save")
        self.load_button = _tool("Load", "folder-open", "open the graph in the file named left "
                                 "(undo brings the current one back)", "pylearn-load")
        self.code_button = _tool("To code", "code", "insert the Python code of this graph in a "
                                 "new cell below (or copy it)", "pylearn-to-code")

        toolbar = W.HBox([self.run_button, self.stop_button, self.backend, self.path,
                          self.save_button, self.load_button, self.code_button, self.message],
                         layout=W.Layout(align_items="center", flex_flow="row wrap"))
        toolbar.add_class("pylearn-builder-toolbar")
        side = W.VBox([self.inspector, self.preview],
                      layout=W.Layout(flex="1 1 300px", min_width="280px", max_width="460px",
                                      padding="0 0 0 8px"))
        side.add_class("pylearn-side")
        # row wrap: in a narrow notebook the side panel moves below the canvas, never cut off
        main = W.HBox([self.palette, self.canvas, side],
                      layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
        main.add_class("pylearn-builder-main")
        super().__init__([toolbar, main], **kwargs)
        self.add_class("pylearn-graph-builder")

        self.run_button.on_click(lambda _b: self._run_clicked())
        self.stop_button.on_click(lambda _b: self.last_run.cancel() if self.last_run else None)
        self.palette.refresh_button.on_click(lambda _b: self._refresh_backends())
        self.save_button.on_click(lambda _b: self._file_clicked("save"))
        self.load_button.on_click(lambda _b: self._file_clicked("load"))
        self.code_button.on_click(lambda _b: self._code_clicked())
        self.canvas.on_action(self._action)
        self.canvas.observe(lambda ch: self._selected(ch["new"]), names="selected")
        self.model.listen(self._model_changed)
        self._subscription = _follow_registry(self)
        self._refresh_palette_trait()
        self._sync()
        self._fit_height()
        self.canvas.fit += 1

    # -- the Python API (everything the mouse does) ---------------------------------------
    def add(self, component: Component | str, /, at: tuple[float, float] | None = None,
            params: dict[str, Any] | None = None, **kwargs: Any) -> str:
        """Add a node with literal parameters (``params`` dict and/or keywords); return
        its id (``"n1"``...). ``at`` is the canvas position (default: a free spot)."""
        return self.model.add(component, {**(params or {}), **kwargs}, at=at)

    def connect(self, src: str, dst: str, param: str | None = None) -> str:
        """Feed ``src`` into ``dst``'s ``param`` (default: its first unconnected input);
        return the edge id."""
        if param is None:
            linked = {e.param for e in self.model.edges if e.dst == dst}
            free = [p for p in self.model.ports(dst) if p not in linked]
            if not free:
                raise GraphError(
                    f"{self.model.label(dst)} has no unconnected input; name the parameter: "
                    f"connect({src!r}, {dst!r}, param=...)")
            param = free[0]
        return self.model.connect(src, dst, param).id

    def remove(self, node_id: str) -> None:
        """Delete a node and its edges."""
        self.model.remove(node_id)

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        """Set a parameter (invalid values are shown on the node and block running)."""
        self.model.set_param(node_id, name, value)

    def layout(self) -> None:
        """Arrange the nodes automatically and fit the view."""
        self.model.auto_layout()
        self._fit_height()
        self.canvas.fit += 1

    @property
    def expr(self) -> Expr | list[Expr]:
        """The graph as an Expr (a list when several nodes are outputs)."""
        return self.model.expr

    def to_code(self) -> str:
        """Python source that rebuilds this graph with the same keys."""
        return model_to_code(self.model)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the graph (and node positions) as a JSON graph spec."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(model_to_json(self.model))

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> GraphBuilder:
        """Open a file written by :meth:`save` (or by ``Graph.to_json``)."""
        with open(path, encoding="utf-8") as f:
            return cls(model=model_from_json(f.read()), **kwargs)

    @property
    def statuses(self) -> dict[str, str]:
        """``node id -> state`` as drawn (idle, in-cache, invalid, blocked or a run state)."""
        return {n["id"]: drawn_state(n, self.canvas.status.get(n["id"]))
                for n in self.canvas.nodes}

    def run(self, backend: Any = None, wait: bool = False) -> RunHandle:
        """Run the graph's outputs; returns the :class:`~pylearn_lab.vm.handle.RunHandle`.

        Raises
        ------
        GraphError
            Some node is incomplete or invalid (nothing runs).
        """
        import pylearn_lab

        if not self.tracker.finished.is_set():
            raise GraphError("a run of this builder is still going: wait for it (wait()) or "
                             "cancel it (last_run.cancel()) before starting another")
        exprs = self.model.to_exprs()
        self._say("running…")
        sinks = self.model.sinks()
        outs = [exprs[k] for k in sinks]
        self.tracker.start(e.key for e in exprs.values())
        try:
            handle = pylearn_lab.run(outs, backend=backend or self.backend.value,
                                     cache=self._cache_arg, callbacks=[self.tracker], wait=False)
        except BaseException:
            self.tracker.abandon()
            raise
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.last_run = handle
        keys = [e.key for e in outs]
        handle.add_done_callback(lambda fut: self._run_finished(fut, keys))
        if wait:
            self.wait()
        return handle

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run is settled on the canvas; False on timeout."""
        return self.tracker.finished.wait(timeout)

    # -- reactions ------------------------------------------------------------------------
    def _picked(self, qualname: str) -> None:
        at = None
        sel = self.model.nodes.get(self.canvas.selected)
        if sel is not None:  # the usual flow: each new step goes right of the last one
            at = spot_right_of(sel.x, sel.y, [(n.x, n.y) for n in self.model])
        node_id = self.model.add(qualname, at=at)
        self.canvas.selected = node_id

    def _model_changed(self, kind: str) -> None:
        self._sync()
        if kind == "structure":
            self.inspector.show(self.canvas.selected or None)
        else:
            self.inspector.update_problems()
        if kind != "layout":  # the key may have changed: a preview of the old one would lie
            self._show_preview()

    def close(self) -> None:
        """Close the builder: it stops following the registry, and its palette's
        widgets are closed with it (ipywidgets keeps every open widget alive)."""
        registry.unsubscribe(self._subscription)
        self.palette.close()
        super().close()

    def _components_changed(self) -> None:
        """A component was (re)defined: new code means new keys, ports and problems."""
        self._refresh_palette_trait()
        self.model.invalidate()

    def _refresh_palette_trait(self) -> None:
        self.canvas.palette = [{"name": c.name, "qualname": c.qualname, "category": c.category,
                                "summary": c.summary} for c in registry.all_components()]

    def _known_value(self, key: str) -> Any:
        """A value the builder already has for ``key`` (no computation): LookupError if none."""
        if key in self.tracker.values:
            return self.tracker.values[key]
        if key in self._values:
            return self._values[key]
        if self.cache is not None:
            try:
                if self.cache.contains(key):
                    value = self._values[key] = self.cache.load(key)
                    if len(self._values) > 32:  # a bounded memo: values are fixed per key
                        self._values.pop(next(iter(self._values)))
                    return value
            except Exception:  # an unreadable entry is simply not known here
                pass
        raise LookupError(key)

    def _selected(self, node_id: str) -> None:
        if node_id and node_id not in self.canvas.selection:
            self.canvas.selection = [node_id]
        elif not node_id and self.canvas.selection:
            self.canvas.selection = []
        self.inspector.show(node_id or None)
        self._show_preview()

    def _run_clicked(self) -> None:
        try:
            self.run()
        except GraphError as exc:
            self._say(str(exc), error=True)
        except Exception as exc:  # a bad backend choice etc.: report, never raise into the UI
            self._say(f"the run could not start: {type(exc).__name__}: {exc}", error=True)

    def _run_finished(self, fut: Any, outputs: list[str]) -> None:
        try:
            contains = self.cache.contains if self.cache is not None else None
            self.tracker.finish(fut, outputs, contains, settle=False)
            self._refresh_cache_flags()
            failed = bool(self.tracker.counts.get("failed"))
            self._say(self.tracker.summary, error=failed or "stopped" in self.tracker.summary)
            self._show_preview()
        finally:  # waiters (wait(), tests) see the canvas as the user does
            self.run_button.disabled, self.stop_button.disabled = False, True
            self.tracker.finished.set()

    def _refresh_backends(self) -> None:
        current = self.backend.value
        self.backend.options = _with_option(backend_options(), current)
        self.backend.value = current

    # -- drawing --------------------------------------------------------------------------
    def _sync(self) -> None:
        """Push nodes, edges, flags and states to the canvas."""
        result = self.model.build()
        self._keys = {k: e.key for k, e in result.exprs.items()}
        nodes, edges = draw_lists(self.model, self._cached_keys(set(self._keys.values())))
        with self.tracker.lock:
            self.canvas.nodes = nodes
            self.canvas.edges = edges
        self._push_status()
        if any(k not in self.model.nodes for k in self.canvas.selection):
            self.canvas.selection = [k for k in self.canvas.selection if k in self.model.nodes]
        if self.canvas.selected and self.canvas.selected not in self.model.nodes:
            self.canvas.selected = ""

    def _refresh_cache_flags(self) -> None:
        """Update the in-cache flags after a run, without touching the model: this runs on
        the run's thread, while the user may be editing the graph on the kernel's."""
        keys = dict(self._keys)
        cached = self._cached_keys(set(keys.values()))
        with self.tracker.lock:
            self.canvas.nodes = [{**n, "cached": keys.get(n["id"]) in cached}
                                 for n in self.canvas.nodes]

    def _fit_height(self) -> None:
        """Grow the canvas for tall graphs, so that fitting them keeps labels legible."""
        if not self.canvas.nodes:
            return
        top = min(n["y"] for n in self.canvas.nodes)
        bottom = max(n["y"] + node_height(len(n["inputs"])) for n in self.canvas.nodes)
        self.canvas.layout.height = f"{int(min(840, max(520, 0.6 * (bottom - top) + 120)))}px"

    def _push_status(self) -> None:
        with self.tracker.lock:
            status = {}
            for node_id, key in self._keys.items():
                st = self.tracker.states.get(key)
                if st is not None:
                    status[node_id] = dict(st)
            if status != self.canvas.status:
                self.canvas.status = status

    def _cached_keys(self, keys: set[str]) -> set[str]:
        if self.cache is None or not keys:
            return set()
        try:
            return set(self.cache.contains_many(keys))
        except Exception:  # the flags are a hint: a cache that cannot answer shows none
            return set()

    def _show_preview(self) -> None:
        node_id = self.canvas.selected
        if not node_id or node_id not in self.model.nodes:
            self.preview.clear()
            return
        label = self.model.label(node_id)
        key = self._keys.get(node_id)
        st = self.tracker.state_of(key) or {}
        if st.get("state") == "failed":
            self.preview.show_error(label, st.get("error", ""), st.get("traceback", ""),
                                    st.get("where", ""))
            return
        if key is None:
            self.preview.clear("Fix this node's problems to run it.")
            return
        if key in self.tracker.values:
            self.preview.show(label, self.tracker.values[key])
            return
        if self.cache is not None and key and self.cache.contains(key):
            try:
                self.preview.show(label, self.cache.load(key))
            except Exception as exc:
                self.preview.clear(f"could not load the cached result: {exc}")
            return
        self.preview.clear("Run the graph to see this node's result.")

    def _say(self, text: str, error: bool = False) -> None:
        cls = "pylearn-error" if error else "pylearn-muted"
        body = html.escape(text).replace("\n", "<br>")
        self.message.value = f"<div class='{cls}'>{body}</div>" if text else ""


def _tool(label: str, icon: str, tooltip: str, cls: str) -> W.Button:
    b = W.Button(description=label, icon=icon, tooltip=tooltip, layout=W.Layout(width="auto"))
    b.add_class(cls)
    return b


def _follow_registry(builder: GraphBuilder) -> Callable[[], None]:
    """Rebuild on every (re)definition of a component, without keeping a forgotten
    builder alive."""
    ref = weakref.ref(builder)

    def changed() -> None:
        b = ref()
        if b is None:
            registry.unsubscribe(changed)
        else:
            b._components_changed()

    registry.subscribe(changed)
    return changed


def _with_option(options: Sequence[Any], value: Any) -> list[Any]:
    opts = list(options)
    return opts if value in opts else [*opts, value]


def _load_library() -> None:
    """Register the built-in components so the palette offers them."""
    try:
        importlib.import_module("pylearn_lab.components")  # registers them as it imports
    except ImportError:  # a partial install: the palette shows the user's components only
        pass


def _resolve_cache(cache: Any) -> Any:
    """The Cache object behind ``cache=`` (None when caching is off or unavailable)."""
    try:
        from ..cache.cache import resolve_cache
    except ImportError:
        return None
    return resolve_cache(cache)

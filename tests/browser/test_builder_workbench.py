"""The builder as a workbench, in real JupyterLab + Chromium: redefinition, exact fields,
stale previews, Stop, failures, every edit undone and redone, refused edges, keyboard,
the dark theme's contrast measured on the rendered page, a 1280-px window, 40 nodes.

Three notebooks (each Lab kernel start costs seconds), each exercising a group of
guarantees through the page only, as a user does. Screenshots go to tests/artifacts/;
with PYLEARN_UPDATE_SCREENSHOTS=1 they also replace docs/images/builder-*.png.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import pytest
from conftest import ARTIFACTS, REPO, Lab, _write_notebook  # type: ignore[import-not-found]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]

IDLE = ("() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel"
        "?.status === 'idle'")
STATUS = "([id, s]) => document.querySelector(`[data-testid=node-${id}]`)?.dataset.status === s"
MOD = "Control"


def centre(page: Any, testid: str) -> tuple[float, float]:
    """The element's centre; the canvas redraws its SVG on every change, so an element
    found a moment ago may have just been replaced: look again until it holds still."""
    for _ in range(50):
        loc = page.get_by_test_id(testid)
        loc.wait_for(state="visible")
        box = loc.bounding_box()
        if box is not None:
            return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.wait_for_timeout(50)
    raise AssertionError(f"{testid} is not on the page")


def drag_xy(page: Any, x0: float, y0: float, x1: float, y1: float) -> None:
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2 + 20, steps=6)
    page.mouse.move(x1, y1, steps=6)
    page.mouse.up()


def drag(page: Any, source: str, target: str) -> None:
    drag_xy(page, *centre(page, source), *centre(page, target))


def click_node(page: Any, node_id: str, **kw: Any) -> None:
    page.get_by_test_id(f"node-{node_id}").click(position={"x": 60, "y": 10}, **kw)


def open_notebook(page: Any, lab: Lab, name: str, cells: list[str], run_upto: int | None = None,
                  collapse_left: bool = True) -> Any:
    """Write and open a notebook; run all cells, or only those before ``run_upto``."""
    _write_notebook(lab.root / name, cells)
    page.goto(lab.notebook_url(name))
    # Lab restores the tabs of earlier tests too: wait until this notebook is the current one
    page.wait_for_function("name => window.jupyterapp?.shell?.currentWidget?.context?.path === name",
                           arg=name, timeout=120_000)
    page.wait_for_function(IDLE, timeout=120_000)
    if collapse_left:
        page.evaluate("() => window.jupyterapp.shell.collapseLeft?.()")
    if run_upto is None:
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    else:
        run_cells(page, 0, run_upto)
    return page


def run_cells(page: Any, start: int, stop: int) -> None:
    """Run cells ``start..stop-1`` as the user does (select, Shift+Enter's command)."""
    for i in range(start, stop):
        page.evaluate("""async (i) => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            nb.activeCellIndex = i;
            await window.jupyterapp.commands.execute('notebook:run-cell');
        }""", i)


def node_title(page: Any, node_id: str) -> str:
    return page.get_by_test_id(f"node-{node_id}").locator("title").text_content()


def keep_screenshot(page: Any, name: str, selector: str = ".pylearn-graph-builder",
                    docs: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / name
    page.mouse.move(2, 2)
    page.locator(selector).first.screenshot(path=str(shot))
    if docs and os.environ.get("PYLEARN_UPDATE_SCREENSHOTS") == "1":  # the README's pictures
        images = REPO / "docs" / "images"
        images.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, images / name)


# ---------------------------------------------------------------------------------------
LEVEL = '''import time
import pylearn_lab as pl
from pylearn_lab.graph import component

@component(category="notebook")
def level(x: int = 1) -> int:
    """A notebook component."""
    return x + {k}

@component(category="notebook")
def crash(v) -> int:
    """Always fails."""
    raise ZeroDivisionError("crash on purpose")

@component(category="notebook", cache=False, version="slow")
def slow(v) -> int:
    """Takes a while."""
    time.sleep(4)
    return v
'''


def test_redefinition_fields_previews_stop_and_failures(page: Any, lab: Lab, tmp_path: Any) -> None:
    cells = [LEVEL.format(k=1),
             "from pylearn_lab.widgets import GraphBuilder\n"
             f"b = GraphBuilder(cache=pl.Cache({str(tmp_path / 'cache')!r}))\nb",
             LEVEL.format(k=100)]  # the user edits the component in a later cell
    open_notebook(page, lab, "redefine.ipynb", cells, run_upto=2)
    page.get_by_test_id("builder-canvas").wait_for(state="visible", timeout=120_000)

    # 1. a notebook component: build, run, see its result
    page.locator(".pylearn-palette-level").click()
    page.get_by_test_id("node-n1").wait_for()
    page.locator(".pylearn-run").click()
    page.wait_for_function(STATUS, arg=["n1", "done"], timeout=60_000)
    click_node(page, "n1")
    page.locator(".pylearn-preview").get_by_text("Result of level (n1)").wait_for()
    assert "<code>2</code>" in page.locator(".pylearn-preview").inner_html()
    old = node_title(page, "n1")

    # 2. the inspector: "2.7" in an int box is kept and refused, never 27 or 2
    x = page.locator(".pylearn-inspector .pylearn-field-x input")
    x.fill("2.7")
    x.press("Enter")
    page.wait_for_function(STATUS, arg=["n1", "invalid"])
    assert "expected int" in page.locator(".pylearn-inspector").inner_text()
    assert x.input_value() == "2.7"
    assert "Fix this node" in page.locator(".pylearn-preview").inner_text()  # no stale result
    x.fill("1")
    x.press("Enter")
    page.wait_for_function(STATUS, arg=["n1", "done"])  # the state of that key, run before
    page.locator(".pylearn-preview").get_by_text("Result of level (n1)").wait_for()

    # 3. redefine the component in a later cell: new key, and the new code runs
    run_cells(page, 2, 3)
    page.wait_for_function("old => document.querySelector('[data-testid=node-n1] title')"
                           ".textContent !== old", arg=old, timeout=30_000)
    assert page.get_by_test_id("node-n1").get_attribute("data-status") == "idle"
    assert "Run the graph" in page.locator(".pylearn-preview").inner_text()
    page.locator(".pylearn-run").click()
    page.wait_for_function(STATUS, arg=["n1", "done"], timeout=60_000)
    page.locator(".pylearn-preview").get_by_text("Result of level (n1)").wait_for()
    assert "<code>101</code>" in page.locator(".pylearn-preview").inner_html()

    # 4. a failure: its error, where it ran, and the traceback folded under it
    page.locator(".pylearn-palette-crash").click()
    page.get_by_test_id("node-n2").wait_for()
    drag(page, "port-out-n1", "port-in-n2-v")
    page.get_by_test_id("edge-n1-n2-v").wait_for(state="attached")
    page.locator(".pylearn-run").click()
    page.wait_for_function(STATUS, arg=["n2", "failed"], timeout=60_000)
    click_node(page, "n2")
    panel = page.get_by_test_id("error-panel")
    panel.wait_for()
    assert "ZeroDivisionError: crash on purpose" in panel.inner_text()
    assert " failed on " in panel.locator(".pl-errorhead").inner_text()
    tb = page.get_by_test_id("traceback")
    assert not tb.locator("pre").is_visible()  # folded
    tb.locator("summary").click()
    tb.locator("pre").wait_for()
    assert 'raise ZeroDivisionError("crash on purpose")' in tb.locator("pre").inner_text()
    keep_screenshot(page, "builder-failure.png")

    # 5. Stop while a node runs in a thread: it is "stopped", not "skipped"
    page.get_by_test_id("node-n2").click(position={"x": 60, "y": 10})
    page.keyboard.press("Delete")
    page.get_by_test_id("node-n2").wait_for(state="detached")
    page.locator(".pylearn-palette-slow").click()
    page.get_by_test_id("node-n3").wait_for()
    drag(page, "port-out-n1", "port-in-n3-v")
    page.get_by_test_id("edge-n1-n3-v").wait_for(state="attached")
    page.locator(".pylearn-backend select").select_option("threads")
    page.locator(".pylearn-run").click()
    page.wait_for_function(STATUS, arg=["n3", "running"], timeout=60_000)
    page.locator(".pylearn-stop").click()
    page.wait_for_function(STATUS, arg=["n3", "stopped"], timeout=60_000)
    assert "may still finish" in page.get_by_test_id("status-n3").text_content()

    # 6. a literal parameter becomes an input port with its toggle (and Ctrl+Z takes it back)
    click_node(page, "n1")
    page.locator(".pylearn-inspector .pylearn-port-toggle-x").click()
    page.get_by_test_id("port-in-n1-x").wait_for(state="attached")
    click_node(page, "n1")
    page.keyboard.press(f"{MOD}+z")
    page.get_by_test_id("port-in-n1-x").wait_for(state="detached")


# ---------------------------------------------------------------------------------------
SNAPSHOT = """() => JSON.stringify({
    nodes: [...document.querySelectorAll('.pylearn-builder [data-node-id]')].map(g =>
        [g.dataset.nodeId, g.dataset.label, g.getAttribute('transform'),
         g.querySelector('.pl-values').textContent]),
    edges: [...document.querySelectorAll('.pylearn-builder .pl-edge-hitg')].map(g =>
        g.dataset.edgeId).sort()})"""

SAME = "old => (" + SNAPSHOT + ")() === old"
CHANGED = "old => (" + SNAPSHOT + ")() !== old"


def test_every_edit_undoes_and_redoes_in_the_browser(page: Any, lab: Lab, tmp_path: Any) -> None:
    cells = ["import pylearn_lab as pl\nfrom pylearn_lab.widgets import GraphBuilder\n"
             f"b = GraphBuilder(cache=pl.Cache({str(tmp_path / 'cache')!r}))\nb"]
    open_notebook(page, lab, "editing.ipynb", cells)
    canvas = page.get_by_test_id("builder-canvas")
    canvas.wait_for(state="visible", timeout=120_000)

    def cbox() -> dict:  # read each time: Playwright scrolls the notebook to what it clicks
        b = canvas.bounding_box()
        assert b is not None
        return b

    def snap() -> str:
        return page.evaluate(SNAPSHOT)

    def settled() -> str:
        """The snapshot once the traits of one edit have all arrived (nodes, then edges)."""
        last = snap()
        while True:
            page.wait_for_timeout(250)
            now = snap()
            if now == last:
                return now
            last = now

    def focus_canvas() -> None:  # a click on empty canvas: keys go to the builder
        box = cbox()
        page.mouse.click(box["x"] + 30, box["y"] + box["height"] - 60)

    def undo_redo(before: str, label: str) -> str:
        """The edit just made is undone by Ctrl+Z and redone by Shift+Ctrl+Z."""
        page.wait_for_function(CHANGED, arg=before)
        after = settled()
        focus_canvas()
        page.keyboard.press(f"{MOD}+z")
        page.wait_for_function(SAME, arg=before, timeout=10_000)
        page.keyboard.press(f"Shift+{MOD}+z")
        page.wait_for_function(SAME, arg=after, timeout=10_000)
        return settled()

    # add: a palette click, a drag from the palette, a double-click quick add
    s = snap()
    page.locator(".pylearn-palette-load_iris").click()
    s = undo_redo(s, "add by click")
    search = page.locator(".pylearn-palette input[type=text]")
    search.fill("standardize")  # the palette is long: find the entry, then drag it
    item = page.locator(".pylearn-palette-standardize")
    page.wait_for_function("() => document.querySelectorAll('.pylearn-palette-item')"
                           ".length > 0 && [...document.querySelectorAll('.pylearn-palette-item')]"
                           ".filter(b => b.offsetParent).length === 1")
    item.scroll_into_view_if_needed()
    ix, iy = centre(page, "builder-canvas")
    ibox = item.bounding_box()
    drag_xy(page, ibox["x"] + 20, ibox["y"] + 10, ix, iy)
    page.get_by_test_id("node-n2").wait_for()
    search.fill("")
    s = undo_redo(s, "add by palette drag")
    box = cbox()
    page.mouse.dblclick(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.3)
    quick = page.get_by_test_id("quick-add-input")
    quick.wait_for()
    quick.fill("logistic")
    quick.press("Enter")
    page.get_by_test_id("node-n3").wait_for()
    assert page.get_by_test_id("node-n3").get_attribute("data-label") == "logistic_regression"
    s = undo_redo(s, "quick add")

    # connect by dragging; a refused edge says why on the canvas and changes nothing
    drag(page, "port-out-n1", "port-in-n2-data")
    page.get_by_test_id("edge-n1-n2-data").wait_for(state="attached")
    s = undo_redo(s, "connect")
    box = cbox()
    page.mouse.dblclick(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.7)
    quick.wait_for()
    quick.fill("pca")  # placed where the user double-clicked, away from the other nodes
    quick.press("Enter")
    page.get_by_test_id("node-n4").wait_for()
    s = settled()
    drag(page, "port-out-n3", "port-in-n4-data")  # a Model into data: Dataset | Split
    notice = page.get_by_test_id("notice")
    notice.wait_for()
    assert "expects Dataset | Split" in notice.inner_text() and "returns Model" in notice.inner_text()
    assert snap() == s
    keep_screenshot(page, "builder-refused-edge.png", ".pylearn-builder")
    drag(page, "port-out-n2", "port-in-n4-data")
    page.get_by_test_id("edge-n2-n4-data").wait_for(state="attached")
    s = settled()
    drag(page, "port-out-n1", "port-in-n4-data")  # occupied: refused, never replaced
    page.wait_for_function("() => document.querySelector('[data-testid=notice]').textContent"
                           ".includes('already fed by standardize (n2)')")
    assert snap() == s

    # a parameter set in the inspector (the node shows the value)
    click_node(page, "n4")
    field = page.locator(".pylearn-inspector .pylearn-field-n_components input")
    field.fill("3")
    field.press("Enter")
    page.wait_for_function("() => document.querySelector('[data-testid=values-n4]')"
                           ".textContent === 'n_components=3'")
    s = undo_redo(s, "set a parameter")

    # a move by dragging a node
    nx, ny = centre(page, "node-n4")
    drag_xy(page, nx, ny - 25, nx + 160, ny + 110)  # to free space: nothing hides under it
    s = undo_redo(s, "move")

    # multi-select: shift-click, then box; duplicate; copy and paste keep internal edges
    click_node(page, "n1")
    click_node(page, "n2", modifiers=["Shift"])
    assert page.locator(".pylearn-builder .pl-node.selected").count() == 2
    page.keyboard.press(f"{MOD}+d")
    page.get_by_test_id("node-n6").wait_for()
    page.get_by_test_id("edge-n5-n6-data").wait_for(state="attached")  # the copied edge
    s = undo_redo(s, "duplicate")
    page.get_by_test_id("fit").click()  # every node in view (a view change, not an edit)
    focus_canvas()
    box = cbox()
    page.keyboard.down("Shift")
    drag_xy(page, box["x"] + 6, box["y"] + 6, box["x"] + box["width"] - 6, box["y"] + box["height"] - 50)
    page.keyboard.up("Shift")
    page.wait_for_function("() => document.querySelectorAll('.pylearn-builder .pl-node.selected')"
                           ".length === document.querySelectorAll('.pylearn-builder .pl-node').length")
    n_nodes = page.locator(".pylearn-builder .pl-node").count()
    page.keyboard.press(f"{MOD}+c")
    box = cbox()
    page.mouse.move(box["x"] + 40, box["y"] + 60)
    page.keyboard.press(f"{MOD}+v")
    page.wait_for_function("n => document.querySelectorAll('.pylearn-builder .pl-node').length"
                           " === 2 * n", arg=n_nodes)
    pasted = undo_redo(s, "paste")
    page.keyboard.press(f"{MOD}+z")  # the copies lie over the originals: take them away again
    page.wait_for_function(SAME, arg=s)
    assert pasted != s

    # delete an edge: a click on the edge selects the edge, not a node under it
    edge = page.get_by_test_id("edge-n1-n2-data").locator("path")
    px, py = edge.evaluate("""p => { const m = p.getScreenCTM(), l = p.getTotalLength();
        const q = p.getPointAtLength(l / 2); return [q.x * m.a + q.y * m.c + m.e, q.x * m.b + q.y * m.d + m.f]; }""")
    page.mouse.click(px, py)
    page.wait_for_function("() => document.querySelector('[data-testid=edge-n1-n2-data]')"
                           ".classList.contains('selected')")
    assert page.locator(".pylearn-builder .pl-node.selected").count() == 0
    page.keyboard.press("Delete")
    page.get_by_test_id("edge-n1-n2-data").wait_for(state="detached")
    s = undo_redo(s, "delete an edge")

    # delete a selection of nodes with the Delete key
    click_node(page, "n2")
    click_node(page, "n4", modifiers=["Shift"])
    page.keyboard.press("Delete")
    page.get_by_test_id("node-n4").wait_for(state="detached")
    s = undo_redo(s, "delete nodes")

    # auto layout (toolbar) and the toolbar's undo/redo buttons
    page.get_by_test_id("auto-layout").click()
    page.wait_for_function(CHANGED, arg=s)
    after = snap()
    page.get_by_test_id("undo").click()
    page.wait_for_function(SAME, arg=s)
    page.get_by_test_id("redo").click()
    page.wait_for_function(SAME, arg=after)

    # keyboard: Tab reaches a node, arrows move the selection, Enter opens the inspector
    page.get_by_test_id("node-n3").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement?.closest('.pylearn-inspector') !== null")
    page.get_by_test_id("node-n1").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => { const a = document.activeElement;"
                           " return a?.dataset?.nodeId && a.dataset.nodeId !== 'n1'"
                           " && a.classList.contains('selected'); }")
    labels = page.locator(".pylearn-builder .pl-node").evaluate_all(
        "gs => gs.map(g => g.getAttribute('aria-label'))")
    assert all(lbl and "Enter edits" in lbl for lbl in labels)

    # the code button: an incomplete graph says what to fix; a complete one gets a new cell
    page.locator(".pylearn-to-code").click()
    page.wait_for_function("() => document.querySelector('[data-testid=notice]').textContent"
                           ".startsWith('no code yet: the graph cannot run')")
    click_node(page, "n3")
    page.keyboard.press("Delete")
    page.get_by_test_id("node-n3").wait_for(state="detached")
    cells_before = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.length")
    page.locator(".pylearn-to-code").click()
    page.wait_for_function("n => window.jupyterapp.shell.currentWidget.content.widgets.length"
                           " === n + 1", arg=cells_before)
    code = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets[1]"
                         ".model.sharedModel.getSource()")
    assert "load_iris(" in code and "standardize(" in code


# ---------------------------------------------------------------------------------------
CONTRAST = """(selectors) => {
  const parse = (s) => {
    let m = s && s.match(/rgba?\\(([^)]+)\\)/);
    if (m) { const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
             return [p[0] / 255, p[1] / 255, p[2] / 255, p.length > 3 ? p[3] : 1]; }
    m = s && s.match(/color\\(srgb ([^)]+)\\)/);
    if (m) { const p = m[1].split(/[\\s\\/]+/).filter(Boolean).map(Number);
             return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
    return null;
  };
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const lum = (c) => { const f = (v) => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
                       return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const background = (el) => {
    const svgNode = el.closest('.pl-node');
    if (el instanceof SVGElement && svgNode) {
      return over(parse(getComputedStyle(svgNode.querySelector('.pl-body')).fill), background(svgNode.closest('.pylearn-builder')));
    }
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let acc = [1, 1, 1, 1];
    if (layers.length && layers[layers.length - 1][3] >= 1) acc = layers.pop();
    for (const l of layers.reverse()) acc = over(l, acc);
    return acc;
  };
  const out = [];
  for (const sel of selectors) {
    const els = [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length);
    for (const e of els.slice(0, 6)) {
      const st = getComputedStyle(e);
      const fg0 = parse(e instanceof SVGElement ? st.fill : st.color);
      const bg = background(e);
      const fg = over(fg0, bg);
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      out.push([sel, (e.textContent || '').trim().slice(0, 30), (a + 0.05) / (b + 0.05), lum(bg)]);
    }
  }
  return out;
}"""

TEXTS = [".pylearn-palette-item", ".pylearn-palette-summary", ".pylearn-palette-cat",
         ".pylearn-builder .pl-title", ".pylearn-builder .pl-values", ".pylearn-builder .pl-sub",
         ".pylearn-builder .pl-port-label", ".pylearn-builder .pl-legend-item span:last-child",
         ".pylearn-builder .pl-tool", ".pylearn-inspector .widget-html-content",
         ".pylearn-inspector .pylearn-error", ".pylearn-builder .pl-errorbox pre"]

BIG = """split = lib.train_test_split(lib.standardize(lib.load_iris()))
outs = []
for n in (1, 2, 3, 4):
    p = lib.pca(split, n_components=n)
    for lr in (0.03, 0.3, 3.0):
        m = lib.logistic_regression(p, lr=lr)
        outs.append(lib.accuracy(m, p))
        if lr > 0.1:
            outs.append(lib.log_loss(m, p))
outs.append(lib.evaluate(m, p))
big = GraphBuilder(outs, cache=False)
big"""


def test_dark_theme_contrast_narrow_window_and_forty_nodes(browser: Any, lab: Lab, tmp_path: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    try:
        cells = ["import pylearn_lab as pl\nimport pylearn_lab.components as lib\n"
                 "from pylearn_lab.widgets import GraphBuilder\n"
                 "b = GraphBuilder(lib.accuracy(lib.logistic_regression(lib.train_test_split("
                 "lib.load_iris())), lib.train_test_split(lib.load_iris())), cache=False)\n"
                 "b.add(lib.pca)\nb",
                 BIG]
        # 1280 px with the file browser open: the side panel must move below the canvas
        open_notebook(page, lab, "theme.ipynb", cells, collapse_left=False)
        page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        page.get_by_test_id("node-n40").wait_for(timeout=120_000)
        builder = page.locator(".pylearn-graph-builder").first
        canvas = builder.get_by_test_id("builder-canvas")
        side = builder.locator(".pylearn-side")
        output = page.locator(".jp-OutputArea-output").first
        page.wait_for_function("() => document.querySelector('#jp-left-stack')"
                               "?.getBoundingClientRect().width > 100")  # the file browser is open
        ob, sb, cb = output.bounding_box(), side.bounding_box(), canvas.bounding_box()
        assert sb["x"] + sb["width"] <= ob["x"] + ob["width"] + 1, "the side panel is cut off"
        assert sb["y"] >= cb["y"] + cb["height"] - 1, "in a narrow view the side panel goes below"
        # every node of the small graph is inside the (re-fitted) canvas
        page.wait_for_function("""() => { const c = document.querySelector('[data-testid=builder-canvas]')
            .getBoundingClientRect(); return [...document.querySelector('.pylearn-builder')
            .querySelectorAll('.pl-node')].every(g => { const r = g.getBoundingClientRect();
            return r.left >= c.left - 1 && r.right <= c.right + 1 && r.top >= c.top - 1; }); }""")
        x0 = canvas.bounding_box()["width"]
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # other room: it re-fits
        page.wait_for_function("w => Math.abs(document.querySelector('[data-testid=builder-canvas]')"
                               ".getBoundingClientRect().width - w) > 20", arg=x0)
        page.wait_for_function("""() => { const c = document.querySelector('[data-testid=builder-canvas]')
            .getBoundingClientRect(); const gs = [...document.querySelector('.pylearn-builder')
            .querySelectorAll('.pl-node')]; const right = Math.max(...gs.map(g => g.getBoundingClientRect().right));
            return right > c.left + c.width * 0.6 && right <= c.right + 1; }""")

        # light theme: every text meets WCAG AA (4.5:1) on what it is drawn on
        # the unconnected pca: problems in the inspector and on the canvas
        builder.get_by_test_id("node-n5").click(position={"x": 60, "y": 10})
        page.locator(".pylearn-inspector .pylearn-error").first.wait_for()
        light = page.evaluate(CONTRAST, TEXTS)
        assert light and all(r[2] >= 4.5 for r in light), [r for r in light if r[2] < 4.5]

        # dark theme: the canvas goes dark too, and every text still meets AA
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        page.wait_for_timeout(500)  # the theme's stylesheet applies after the attribute flips
        dark = page.evaluate(CONTRAST, TEXTS)
        found = {r[0] for r in dark}
        assert found >= {".pylearn-palette-item", ".pylearn-builder .pl-title",
                         ".pylearn-inspector .pylearn-error"}, found
        assert all(r[2] >= 4.5 for r in dark), [r for r in dark if r[2] < 4.5]
        assert all(r[3] < 0.2 for r in dark if r[0] == ".pylearn-builder .pl-title"), "canvas stays light"
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        keep_screenshot(page, "builder-dark.png", docs=True)

        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Dark High Contrast'})")
        page.wait_for_timeout(800)
        high = page.evaluate(CONTRAST, TEXTS)
        assert high and all(r[2] >= 4.5 for r in high), [r for r in high if r[2] < 4.5]

        # 40 nodes: laid out, each showing its parameter values, with a minimap
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Light'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
        page.set_viewport_size({"width": 1600, "height": 1300})  # the whole builder in view
        big = page.locator(".pylearn-graph-builder").nth(1)
        big.scroll_into_view_if_needed()
        assert big.locator(".pl-node").count() == 40
        assert big.get_by_test_id("minimap").is_visible()
        values = big.locator(".pl-values").evaluate_all("ts => ts.map(t => t.textContent)")
        assert "n_components=3" in values and "lr=3.0" in values
        page.wait_for_timeout(800)  # the re-fit after the resize
        page.mouse.move(2, 2)
        big.screenshot(path=str(ARTIFACTS / "builder-40-nodes.png"))
        if os.environ.get("PYLEARN_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(ARTIFACTS / "builder-40-nodes.png", REPO / "docs/images/builder-40-nodes.png")
        # hover shows the call
        tip = big.locator(".pl-node").nth(10).locator("title").text_content()
        assert "(" in tip and "=" in tip
        json.dumps(light)  # the figures are plain data (kept in the assertion messages)
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "failed-theme.png"))
        raise
    finally:
        context.close()

"""The graph builder in real JupyterLab + Chromium: click, drag, run, see the colours.

The notebook opens a GraphBuilder on an empty temporary cache. The test then
works only through the page, as a user does: palette clicks add nodes, mouse
drags from output ports to input ports connect them, the inspector sets a
parameter, Run computes everything ("done"), a second Run serves everything
from the cache ("cached"). The screenshot of the finished graph is kept in
tests/artifacts/; with PYLEARN_UPDATE_SCREENSHOTS=1 it also replaces
docs/images/builder.png (the README's picture), so a plain test run leaves the
repository unchanged.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
from conftest import ARTIFACTS, REPO  # type: ignore[import-not-found]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# What the test builds: palette entry (component name) per node, then the edges.
NODES = ["load_iris", "standardize", "train_test_split", "logistic_regression", "accuracy"]
EDGES = [("n1", "n2", "data"), ("n2", "n3", "data"), ("n3", "n4", "data"),
         ("n4", "n5", "model"), ("n3", "n5", "data")]

ALL_IN_STATE = """([state, n]) => {
    const nodes = [...document.querySelectorAll('.pylearn-builder [data-node-id]')];
    return nodes.length === n && nodes.every((g) => g.dataset.status === state);
}"""


def centre(page: Any, testid: str) -> tuple[float, float]:
    box = page.get_by_test_id(testid).bounding_box()
    assert box is not None, f"{testid} is not on the page"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Any, source: str, target: str) -> None:
    """Press on ``source``, move in steps (so pointermove fires), release on ``target``."""
    x0, y0 = centre(page, source)
    x1, y1 = centre(page, target)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2 + 30, steps=6)
    page.mouse.move(x1, y1, steps=6)
    page.mouse.up()


def node_key(page: Any, node_id: str) -> str:
    return page.get_by_test_id(f"node-{node_id}").locator("title").text_content()


def test_build_connect_run_and_rerun_in_the_browser(run_notebook: Any, tmp_path: Any) -> None:
    cache_dir = tmp_path / "cache"
    cell = ("import pylearn_lab as pl\n"
            "from pylearn_lab.widgets import GraphBuilder\n"
            f"builder = GraphBuilder(cache=pl.Cache({str(cache_dir)!r}), backend='serial')\n"
            "builder")
    below = "print('\\n'.join(f'line {i}' for i in range(150)))  # a page tall enough to scroll"
    page = run_notebook("builder.ipynb", [cell, below])
    canvas = page.get_by_test_id("builder-canvas")
    canvas.wait_for(state="visible", timeout=120_000)
    assert page.get_by_test_id("empty-hint").is_visible()

    # 1. add nodes from the palette, by clicking
    for i, name in enumerate(NODES, start=1):
        page.locator(f".pylearn-palette-{name}").click()
        page.get_by_test_id(f"node-n{i}").wait_for(state="visible")
    labels = page.locator(".pylearn-builder [data-node-id]").evaluate_all(
        "gs => gs.map(g => g.dataset.label)")
    assert labels == NODES
    assert page.get_by_test_id("node-n2").get_attribute("data-status") == "invalid"

    # 2. connect them by dragging output ports onto input ports
    for src, dst, param in EDGES:
        drag(page, f"port-out-{src}", f"port-in-{dst}-{param}")
        page.get_by_test_id(f"edge-{src}-{dst}-{param}").wait_for(state="attached")
    page.wait_for_function(ALL_IN_STATE, arg=["idle", len(NODES)])

    # 3. select the split node and set a parameter in the inspector form
    page.get_by_test_id("node-n3").click(position={"x": 60, "y": 12})
    seed = page.locator(".pylearn-inspector .pylearn-field-seed input")
    seed.wait_for(state="visible")
    before = node_key(page, "n3")
    seed.fill("7")
    seed.press("Enter")
    page.wait_for_function(
        "([id, old]) => document.querySelector(`[data-testid=node-${id}] title`)"
        ".textContent !== old", arg=["n3", before])

    # 4. run: every node computes
    page.locator(".pylearn-run").click()
    page.wait_for_function(ALL_IN_STATE, arg=["done", len(NODES)], timeout=120_000)
    page.get_by_test_id("node-n2").click(position={"x": 60, "y": 12})
    page.locator(".pylearn-preview img").wait_for(state="visible")  # the data, plotted
    page.mouse.move(5, 5)  # no hover highlight in the picture
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "builder.png"
    page.locator(".pylearn-graph-builder").screenshot(path=str(shot))
    if os.environ.get("PYLEARN_UPDATE_SCREENSHOTS") == "1":
        docs = REPO / "docs" / "images"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, docs / "builder.png")

    # 5. run again: everything is served from the cache
    page.locator(".pylearn-run").click()
    page.wait_for_function(ALL_IN_STATE, arg=["cached", len(NODES)], timeout=120_000)
    page.locator(".pylearn-graph-builder").screenshot(path=str(ARTIFACTS / "builder-cached.png"))

    # 6. delete a node with the Delete key: it and its edges go
    page.get_by_test_id("node-n1").click(position={"x": 60, "y": 12})
    page.keyboard.press("Delete")
    page.get_by_test_id("node-n1").wait_for(state="detached")
    assert page.get_by_test_id("edge-n1-n2-data").count() == 0
    assert page.get_by_test_id("node-n2").get_attribute("data-status") == "invalid"

    # 7. the now-unconnected node explains itself when clicked
    page.get_by_test_id("node-n2").click(position={"x": 60, "y": 12})
    page.get_by_test_id("error-panel").wait_for(state="visible")
    assert "not connected" in page.get_by_test_id("error-text").text_content()

    # 8. drag a node by its title: it moves (the headless tests check the message to Python)
    before = page.get_by_test_id("node-n5").get_attribute("transform")
    x, y = centre(page, "node-n5")
    page.mouse.move(x, y - 15)
    page.mouse.down()
    page.mouse.move(x + 40, y + 90, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "old => document.querySelector('[data-testid=node-n5]').getAttribute('transform') "
        "!== old", arg=before)

    # 9. the plain wheel scrolls the notebook and leaves the zoom alone; Ctrl+wheel zooms
    zoom = page.locator(".pylearn-builder .pl-viewport").get_attribute("transform")
    page.mouse.move(*centre(page, "builder-canvas"))
    scroller = ".jp-WindowedPanel-outer"  # the notebook's scrolling box in JupyterLab 4
    top = page.locator(scroller).first.evaluate("e => e.scrollTop")
    page.mouse.wheel(0, 300)
    page.wait_for_function(f"old => document.querySelector({scroller!r}).scrollTop !== old", arg=top)
    assert page.locator(".pylearn-builder .pl-viewport").get_attribute("transform") == zoom
    page.mouse.move(*centre(page, "builder-canvas"))
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)
    page.keyboard.up("Control")
    page.wait_for_function(
        "old => document.querySelector('.pylearn-builder .pl-viewport').getAttribute('transform')"
        " !== old", arg=zoom)

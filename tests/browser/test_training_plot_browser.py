"""The live training plot in real JupyterLab + Chromium: curves move, the Stop button stops.

Uses the Lab/Chromium fixtures of ``tests/browser/conftest.py`` (one session-wide
Playwright: a second one in the same thread fails). The notebook trains in a thread so the
kernel stays free to receive the button's click, exactly as a user would run a
long training. The screenshot is kept in tests/artifacts/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import ARTIFACTS  # type: ignore[import-not-found]  # tests/browser/conftest.py

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PLOT = ".pylearn-training"


def test_live_plot_moves_and_stops_from_the_browser(run_notebook: Any, tmp_path: Path) -> None:
    cells = [(
        "import tempfile\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "import pylearn_lab as pl\n"
        "from pylearn_lab.components import make_moons, standardize, train_test_split, mlp\n"
        "from pylearn_lab.widgets import TrainingPlot\n"
        f"cache = pl.Cache({str(tmp_path / 'cache')!r})\n"
        "split = train_test_split(standardize(make_moons(n_samples=400, seed=0)), seed=0)\n"
        "e = mlp(split, hidden=64, epochs=10000, lr=0.05)\n"
        "plot = TrainingPlot(e)\n"
        "future = ThreadPoolExecutor(1).submit(e.compute, cache=cache)\n"
        "plot"
    )]
    pg = run_notebook("training_plot.ipynb", cells)
    try:
        pg.wait_for_selector(f"{PLOT}[data-status='running']", timeout=60_000)
    except Exception:  # keep what the page showed (e.g. a traceback in the cell)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "training_plot_failed.png"))
        raise
    steps = []
    for _ in range(4):
        pg.wait_for_timeout(500)
        steps.append(int(pg.get_attribute(PLOT, "data-step")))
    assert steps == sorted(steps) and steps[-1] > steps[0] and steps[-1] < 10000  # it moves
    points = pg.locator(f"{PLOT} [data-testid='curve-loss'] polyline").get_attribute("data-points")
    assert int(points) >= 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "training_plot.png"))
    pg.locator(".pylearn-training-stop").click()
    pg.wait_for_selector(f"{PLOT}[data-status='stopped']", timeout=60_000)
    head = pg.get_by_test_id("training-status").text_content()
    assert head.startswith("stopped") and "of 10000" in head
    # the button is disabled by the same model update, drawn a moment after the status
    pg.wait_for_selector(".pylearn-training-stop:disabled", timeout=10_000)

"""notebooks/02_graph_builder.ipynb runs in a real kernel and shows what it promises.

tests/test_notebooks.py runs every notebook for errors; this test reads this one's
outputs: the nodes reach "done", then "cached", and a reloaded builder marks
every node "in-cache" before running.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "02_graph_builder.ipynb"


@pytest.mark.notebooks
@pytest.mark.timeout(240)
def test_builder_notebook_reaches_done_then_cached(tmp_path: Path) -> None:
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "{'n1': 'done', 'n2': 'done'" in text
    assert "{'n1': 'cached', 'n2': 'cached'" in text
    assert "{'n1': 'in-cache', 'n2': 'in-cache'" in text
    assert "the graph cannot run: 1 problem(s)" in text
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 3  # the builder, its preview, the reloaded builder

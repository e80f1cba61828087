"""notebooks/03_cluster.ipynb runs top to bottom in a real kernel, with its own cluster.

Beyond "no error", its outputs must show what it teaches: engines computed the
nodes and wrote the cache entries, and the second run came entirely from the cache.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "03_cluster.ipynb"


@pytest.mark.notebooks
@pytest.mark.cluster
@pytest.mark.timeout(180)
def test_cluster_notebook_runs_and_shows_engines_and_cache_hits(tmp_path: Path) -> None:
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert "engines see the store: True" in text
    assert "written by: {'engine" in text
    assert "0 computed, 36 from the cache" in text
    assert "stopped" in text

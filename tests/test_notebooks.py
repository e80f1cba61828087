"""Every tutorial notebook runs top to bottom in a real kernel, from a scratch directory.

Each notebook is executed with nbclient (a real ``python3`` kernel of this venv),
in a temporary working directory so that nothing it writes lands in the repo.
Tutorials that promise plots must produce images.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ALL = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
# Notebooks whose own test executes them and checks their outputs (run once, not twice).
DEDICATED = {
    "02_graph_builder": "widgets/test_builder_notebook.py",
    "03_cluster": "backends/test_ipp_notebook.py",
    "06_magics": "magics/test_magics_notebook.py",
}
NOTEBOOKS = [p for p in ALL if p.stem not in DEDICATED]
WITH_PLOTS = {"01_quickstart", "04_experiments", "05_bring_your_own"}
WITH_PLOTS |= {"08_training"}


def test_every_notebook_is_executed_by_some_test() -> None:
    here = Path(__file__).parent
    for stem, test in DEDICATED.items():
        assert (here / test).exists() and stem in (here / test).read_text(), (stem, test)
    assert {p.stem for p in ALL} == {p.stem for p in NOTEBOOKS} | set(DEDICATED)


@pytest.mark.notebooks
@pytest.mark.timeout(240)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(path, work / path.name)
    nb = nbformat.read(work / path.name, as_version=4)
    # cell timeout only as a hang guard: durations are reported by benchmarks, not asserted
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    if path.stem in WITH_PLOTS:
        images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if "image/png" in o.get("data", {})]
        assert images, f"{path.name} promises plots but produced no image output"


def test_notebooks_are_committed_without_outputs() -> None:
    """Outputs would carry machine paths and stale figures: CI produces fresh ones."""
    for path in ALL:
        nb = nbformat.read(path, as_version=4)
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("outputs")]
        assert not dirty, f"{path.name} has outputs in cells {dirty}: clear them before committing"

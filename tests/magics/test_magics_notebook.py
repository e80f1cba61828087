"""``notebooks/06_magics.ipynb`` in a real kernel: cluster start, run, cached re-run, a cached
cell, cache info, cluster stop -- and what each step printed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "06_magics.ipynb"

pytestmark = [pytest.mark.notebooks, pytest.mark.cluster]


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o["text"])
        elif "text/plain" in o.get("data", {}):
            out.append(o["data"]["text/plain"])
    return "".join(out)


def _cell(nb, fragment: str):
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and fragment in c.source]
    return cell


@pytest.mark.timeout(300)
def test_magics_notebook_end_to_end(tmp_path: Path) -> None:
    from nbclient import NotebookClient

    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    nb = nbformat.read(work / NOTEBOOK.name, as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors

    start = _text(_cell(nb, "%pylearn cluster start -n 2"))
    assert "cluster started: 2 engines" in start and "backend   ipyparallel" in start

    (first,) = [c for c in nb.cells if c.source.strip() == "%pylearn run sweep -o scores"]
    widgets = [o for o in first.outputs if "application/vnd.jupyter.widget-view+json" in
               o.get("data", {})]
    assert widgets, "no live progress widget in a notebook kernel"
    counts = re.search(r"pylearn run: (\d+) computed, (\d+) cached, 0 failed", _text(first))
    assert counts and int(counts.group(1)) >= 8 and int(counts.group(2)) == 0

    again = _text(_cell(nb, "-o scores_again"))
    assert re.search(r"pylearn run: 0 computed, \d+ cached, 0 failed .*the cache saved", again)

    cells = [c for c in nb.cells if c.source.startswith("%%pylearn --name best-rate")]
    assert "served from cache" not in _text(cells[0]) and "best lr = " in _text(cells[0])
    assert "served from cache" in _text(cells[1])
    assert _text(cells[0]).splitlines()[0] == _text(cells[1]).splitlines()[0]  # replayed output

    remote = _text(_cell(nb, "--backend ipyparallel -o engine_report"))
    assert "computed on" in remote

    info = _text(_cell(nb, "%pylearn cache info"))
    entries = re.search(r": (\d+) entries", info)
    assert entries and int(entries.group(1)) >= 10
    assert "__main__" not in info and "pylearn_lab.components" in info  # cache ls evaluate

    stop = _text(_cell(nb, "%pylearn cluster stop"))
    assert "cluster stopped; default backend: serial" in stop
    assert "cluster   none" in stop

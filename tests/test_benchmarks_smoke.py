"""``benchmarks/run_all.py --quick`` runs and prints its table with every id.

Benchmarks are never tests: nothing here looks at a time, a ratio or PASS/FAIL.
What is checked is that every benchmark *runs* (no ERROR row, exit status 0)
and reports each id of PERFORMANCE.md in the one table it prints.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_ALL = ROOT / "benchmarks" / "run_all.py"
HEADER = ("id", "measure", "anchor", "anchor figure", "ours", "ratio", "target", "result")
STATUSES = {"PASS", "FAIL", "info"}


def _table(ids: list[str]) -> dict[str, list[list[str]]]:
    """Run ``run_all.py --quick --only ids``; return its rows by id (cells stripped)."""
    proc = subprocess.run(
        [sys.executable, str(RUN_ALL), "--quick", "--only", ",".join(ids)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("id "))
    assert tuple(c.strip() for c in lines[head].split("|")) == HEADER
    rows: dict[str, list[list[str]]] = {}
    for line in lines[head + 2:]:
        if not line.strip():
            break  # the notes follow the table after a blank line
        cells = [c.strip() for c in line.split("|")]
        assert len(cells) == len(HEADER), line
        rows.setdefault(cells[0], []).append(cells)
    return rows


def _check(rows: dict[str, list[list[str]]], ids: list[str]) -> None:
    assert sorted(rows) == sorted(ids)
    for bid in ids:
        for cells in rows[bid]:
            assert cells[-1] in STATUSES, cells  # never ERROR/SKIP: every benchmark ran
            assert cells[4] != "-", cells  # our figure was measured


def test_quick_run_prints_every_local_benchmark():
    ids = ["P1", "P2", "P3", "P4", "P9"]
    rows = _table(ids)
    _check(rows, ids)
    # P2 reports the path that counts and, beside it, the lower-level ones
    assert any("[counts]" in r[1] for r in rows["P2"])
    assert any("Cache.lookup" in r[1] for r in rows["P2"])


@pytest.mark.cluster
def test_quick_run_prints_every_cluster_benchmark():
    ids = ["P5", "P6", "P7", "P8"]
    _check(_table(ids), ids)


def test_quick_run_prints_the_sklearn_benchmark():
    rows = _table(["P13"])
    _check(rows, ["P13"])
    assert len(rows["P13"]) == 6  # first run, helper edit, one more grid point; two anchors each

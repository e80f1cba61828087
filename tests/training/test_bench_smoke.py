"""``run_all.py --quick --only P14`` runs and prints its rows (no time is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_p14_runs_and_reports_its_rows() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick",
                           "--only", "P14"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [line.split("|") for line in proc.stdout.splitlines() if line.startswith("P14 ")]
    assert len(rows) == 3
    for cells in rows:
        assert cells[-1].strip() in {"PASS", "FAIL", "info"} and cells[4].strip() != "-"

"""The core is mypy-clean (ARCHITECTURE.md: full type hints on the core)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
CORE = ["pylearn_lab/errors.py", "pylearn_lab/hashing", "pylearn_lab/graph", "pylearn_lab/cache",
        "pylearn_lab/vm", "pylearn_lab/backends/local.py", "pylearn_lab/backends/registry.py",
        "pylearn_lab/jobs", "pylearn_lab/experiments"]
CORE += ["pylearn_lab/training"]


def test_core_passes_mypy():
    out = subprocess.run([sys.executable, "-m", "mypy", *CORE], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr

"""No function of the VM above cyclomatic complexity 15 (ruff's mccabe check, C901).

The scheduling loop once grew to complexity 65; the VM is now split into a
state object and one small module per concern (claims, retries, reloads,
timeouts), and this test keeps it that way. ruff is in the ``test`` extra.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pylearn_lab

VM = Path(pylearn_lab.__file__).parent / "vm"
MAX_COMPLEXITY = 15


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "C901",
         "--config", f"lint.mccabe.max-complexity={MAX_COMPLEXITY}", "--output-format",
         "concise", *args],
        capture_output=True, text=True, check=False,
    )


def test_no_vm_function_above_complexity_15():
    out = _ruff(str(VM))
    assert "No module named ruff" not in out.stderr, "install the test extra: pip install -e .[test]"
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_check_does_catch_a_complex_function(tmp_path):
    # the guard itself must be able to fail: a function with 16 branches is reported
    body = "\n".join(f"    if x == {i}:\n        return {i}" for i in range(16))
    (tmp_path / "knot.py").write_text(f"def knot(x):\n{body}\n    return -1\n")
    out = _ruff(str(tmp_path))
    assert out.returncode == 1 and "C901" in out.stdout, out.stdout + out.stderr

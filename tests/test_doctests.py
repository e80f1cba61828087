"""Every docstring example of the package runs, and passes (``pytest --doctest-modules``).

Run in a subprocess so the examples see a fresh interpreter (no state from other
tests), from a temporary directory with ``PYLEARN_CACHE`` pointing into it, so an
example that uses the default cache writes nowhere else. Every module carries at
least one example (ARCHITECTURE.md's style rule); none is skipped, Jupyter-only
modules included: their examples build widgets and magics without a kernel. Only
``__main__.py`` is exempt: pytest never collects it (its code is in ``pylearn_lab.cli``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pylearn_lab

PKG = Path(pylearn_lab.__file__).parent


def test_all_doctests_pass(tmp_path):
    env = {**os.environ, "PYLEARN_CACHE": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--doctest-modules", str(PKG), "-v", "-p",
         "no:cacheprovider", "--rootdir", str(tmp_path), "--confcutdir", str(tmp_path),
         "-o", "addopts=", "-W", "ignore::DeprecationWarning"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    report = out.stdout[-4000:] + out.stderr[-2000:]
    assert out.returncode == 0, report
    assert "skipped" not in out.stdout.strip().splitlines()[-1], report
    files = {".".join(p.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__"):
             p for p in PKG.rglob("*.py")}
    ran = set()
    for file, item in re.findall(r"^(\S+?\.py)::(\S+) PASSED", out.stdout, re.MULTILINE):
        owners = [m for m, p in files.items()
                  if (item == m or item.startswith(m + ".")) and p.name == Path(file).name]
        if owners:
            ran.add(max(owners, key=len))
    # pytest's doctest collector never imports a __main__.py (it would run the program);
    # the command line's examples live in pylearn_lab.cli, which it merely calls
    missing = sorted(set(files) - ran - {"pylearn_lab.__main__"})
    assert not missing, f"modules without a passing example: {missing}"

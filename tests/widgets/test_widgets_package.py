"""``pylearn_lab.widgets`` names its widgets without importing them until first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
import pylearn_lab.widgets as w
assert "pylearn_lab.widgets.results" not in sys.modules, "imported eagerly"
assert "ResultsView" in w.__all__ and "ResultsView" in dir(w)
view = w.ResultsView
from pylearn_lab.widgets.results import ResultsView
assert view is ResultsView
print("ok")
"""


def test_results_view_is_exported_and_loaded_on_first_use() -> None:
    # a fresh interpreter: this process may have imported the module already
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_unknown_names_are_attribute_errors() -> None:
    import pylearn_lab.widgets as w

    with pytest.raises(AttributeError, match="has no attribute 'ResultView'"):
        _ = w.ResultView

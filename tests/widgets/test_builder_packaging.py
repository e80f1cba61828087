"""The builder's browser half (plain ESM + CSS) ships inside the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]


def test_wheel_ships_the_canvas_js_and_css(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")  # built without isolation: nothing is downloaded
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("pylearn_lab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"pylearn_lab/widgets/static/builder.js",
            "pylearn_lab/widgets/static/builder.css"} <= names

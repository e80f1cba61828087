"""Every training test gets its own channel root (no test sees another's progress files)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _channel_root(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.mktemp("channels")
    monkeypatch.setenv("PYLEARN_TRAINING_DIR", str(root))
    return root

"""Helpers for lineage tests: small components in a real module file that can be edited."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


class ModuleFiles:
    """Write a module into a temp dir, import it, rewrite it and reload it for real."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.names: list[str] = []

    def write(self, source: str) -> ModuleType:
        name = f"pl_lineage_{uuid.uuid4().hex[:8]}"
        (self.root / f"{name}.py").write_text(textwrap.dedent(source))
        self.names.append(name)
        importlib.invalidate_caches()
        return importlib.import_module(name)

    def rewrite(self, module: ModuleType, source: str) -> ModuleType:
        path = Path(module.__file__ or "")
        path.write_text(textwrap.dedent(source))
        # bytecode is cached by (mtime, size): move the mtime on so reload reads the new source
        st = path.stat()
        os.utime(path, (st.st_atime + 10, st.st_mtime + 10))
        importlib.invalidate_caches()
        return importlib.reload(module)


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleFiles]:
    src = tmp_path / "src"
    src.mkdir()
    monkeypatch.syspath_prepend(str(src))
    files = ModuleFiles(src)
    yield files
    for name in files.names:
        sys.modules.pop(name, None)



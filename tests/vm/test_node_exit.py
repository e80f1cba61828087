"""A node whose code calls ``sys.exit()`` fails once, as itself; it is never retried."""

from __future__ import annotations

import sys

import pytest

import pylearn_lab as pl
from pylearn_lab.errors import NodeError

RAN = pl.untracked([])  # a counter the code writes to: not part of any key


@pl.component
def quits(x: int) -> int:
    RAN.append(x)
    if x < 0:
        sys.exit(3)
    return x


@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_sys_exit_in_a_node_is_its_failure_and_runs_once(tmp_path, backend):
    RAN.clear()
    with pytest.raises(NodeError) as info:
        pl.run(quits(-1), cache=pl.Cache(tmp_path / "c"), backend=backend)
    assert RAN == [-1], f"the node ran {len(RAN)} times"
    assert "SystemExit" in str(info.value) and "quits" in str(info.value)
    assert pl.run(quits(2), cache=pl.Cache(tmp_path / "c"), backend=backend) == 2  # the run goes on

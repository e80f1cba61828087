"""Bad inputs across the API: the exact error type, and a message that says what to do.

The rows of ``docs/bad_inputs.md`` are the cases of :mod:`.bad_inputs` (API),
``test_bad_inputs_magics`` and ``test_bad_inputs_builder``; the last test here
checks that the table and the cases agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from pylearn_lab import errors

from .bad_inputs import API_CASES, NO_ENGINES, Case

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad_inputs.md"


@dataclass
class Ctx:
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch


def check(case: Case, error: BaseException) -> None:
    """The exact type (not a subclass, not a parent) and the what-to-do part of the message.

    A node's error is the one designed exception: ``NodeError[Original]``, whose first
    base is ``NodeError`` itself (it is also an instance of the node's own type).
    """
    raised = type(error)
    if raised.__bases__[0] is errors.NodeError and raised.__name__.startswith("NodeError["):
        raised = errors.NodeError
    assert raised is case.error, f"{case.id}: raised {type(error).__name__}: {error}"
    assert re.search(case.todo, str(error), re.DOTALL), f"{case.id}: message lacks {case.todo!r}: {error}"


@pytest.mark.parametrize("case", API_CASES, ids=[c.id for c in API_CASES])
def test_api_bad_input(case, tmp_path, monkeypatch, figures):
    with pytest.raises(BaseException) as info:
        case.trigger(Ctx(tmp_path, monkeypatch))
    check(case, info.value)
    figures["bad_inputs_tried"] = figures.get("bad_inputs_tried", 0) + 1


@pytest.mark.cluster
def test_a_cluster_without_engines_says_how_to_start_some(tmp_path, figures):
    import pylearn_lab as pl
    from pylearn_lab.backends.ipp import IPyParallelBackend
    from pylearn_lab.errors import NoEnginesError

    from .bad_inputs import rel_scale

    with IPyParallelBackend.start(n=0, engine_timeout=1.0) as backend, \
            pytest.raises(NoEnginesError) as info:
        pl.run(rel_scale(1), backend=backend, cache=pl.Cache(tmp_path / "c"),
               progress=False, timeout=60)
    check(NO_ENGINES, info.value)
    figures["bad_inputs_tried"] = figures.get("bad_inputs_tried", 0) + 1


def _doc_rows() -> dict[str, str]:
    """``test id -> error type`` from the table in docs/bad_inputs.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0].startswith("`") and cells[0] != "`test id`":
            rows[cells[0].strip("`")] = cells[3].strip("`")
    return rows


def test_the_docs_table_lists_every_case_with_its_error():
    from .test_bad_inputs_builder import BUILDER_CASES
    from .test_bad_inputs_magics import MAGIC_CASES

    cases = {c.id: c.error.__name__ for c in [*API_CASES, NO_ENGINES, *MAGIC_CASES, *BUILDER_CASES]}
    assert _doc_rows() == cases
    assert len(cases) >= 25

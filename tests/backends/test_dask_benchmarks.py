"""``run_all.py --quick`` runs P15a-P15c (dask, PostgreSQL index, queue) and prints their rows.

As in ``tests/test_benchmarks_smoke.py``: nothing here looks at a time or a verdict, only
that every row was measured (no ERROR/SKIP) -- the benchmarks start their own dask cluster,
PostgreSQL server and queue workers.
"""

from __future__ import annotations

import pytest
from test_benchmarks_smoke import _check, _table

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]


def test_quick_run_prints_the_team_benchmarks() -> None:
    pytest.importorskip("distributed")
    pytest.importorskip("psycopg")
    ids = ["P15a", "P15b", "P15c"]
    rows = _table(ids)
    _check(rows, ids)
    assert any("PostgreSQL index" in r[1] and r[2] == "same, SQLite index" for r in rows["P15b"])

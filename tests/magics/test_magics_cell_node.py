"""A ``%%pylearn`` cell is a node like any other: ``run()``'s keys, records, lineage,
counters and backends.

Each cell appends to a log file when it really runs, so the file's length
counts executions.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

import pylearn_lab as pl
from pylearn_lab.magics.cellkey import CELL_FUNC, plan_cell
from pylearn_lab.magics.execute import CellValue

BODY = "open(log, 'a').write('.')\ny = f(x)\n"


@pytest.fixture
def log(ip, tmp_path: Path) -> Path:
    path = tmp_path / "runs.log"
    path.write_text("")
    ip.run_cell(f"log = {str(path)!r}\nx = 3\ndef f(v):\n    return v * 10\n")
    return path


def runs(log: Path) -> int:
    return len(log.read_text())


def cell(ip, args: str, body: str = BODY) -> str:
    with capture_output() as cap:
        ip.run_cell_magic("pylearn", args, body)
    return cap.stdout


def test_the_cell_node_is_kept_and_runs_through_run_like_any_node(ip, log):
    cell(ip, "--name tenfold")
    node = ip.user_ns["_cell"]
    assert isinstance(node, pl.Expr) and node.label == "tenfold"
    assert node.key == plan_cell(BODY, ip.user_ns, ip.user_ns_hidden, label="tenfold").key
    value = pl.run(node)  # the same node through the public API: a hit, nothing runs
    assert isinstance(value, CellValue) and value.outputs == {"y": 30}
    assert runs(log) == 1


def test_a_cell_record_is_the_vm_record_with_its_inputs_as_parameters(ip, log):
    cell(ip, "--name tenfold")
    rec = pl.get_default_cache().record(ip.user_ns["_cell"])
    assert rec is not None
    assert rec.func == CELL_FUNC and rec.label == "tenfold"
    assert rec.params["x"] == 3 and rec.summary == {"y": 30}
    assert rec.duration is not None and rec.engine and rec.host and rec.pid == os.getpid()


def test_lineage_and_why_work_on_a_cells_node(ip, log):
    cell(ip, "--name tenfold")
    tree = str(pl.lineage(ip.user_ns["_cell"]))
    assert "tenfold" in tree and "x=3" in tree
    ip.run_cell("x = 4")
    node = plan_cell(BODY, ip.user_ns, ip.user_ns_hidden, label="tenfold").expr
    text = str(pl.why(node))
    assert "argument `x` was 3, now 4" in text, text


def test_cells_count_as_hits_and_misses_of_the_cache(ip, log):
    cache = pl.get_default_cache()
    before = cache.info()
    cell(ip, "")
    cell(ip, "")
    after = cache.info()
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 1)
    assert runs(log) == 1


def test_a_cell_on_the_processes_backend_runs_in_a_worker_process_then_hits_here(ip, log):
    body = "import os\nopen(log, 'a').write('.')\npid = os.getpid()\ny = f(x)\n"
    out = cell(ip, "--backend processes", body)
    assert ip.user_ns["y"] == 30 and ip.user_ns["pid"] != os.getpid(), out
    rec = pl.get_default_cache().record(ip.user_ns["_cell"])
    assert rec is not None and rec.pid == ip.user_ns["pid"]
    del ip.user_ns["y"]
    out = cell(ip, "", body)
    assert "served from cache" in out and ip.user_ns["y"] == 30 and runs(log) == 1


def test_an_expression_input_reaches_the_cell_unevaluated(ip, log):
    @pl.component
    def base(n: int) -> int:
        raise AssertionError("the cell must receive the lazy expression, not run it")

    ip.user_ns["e"] = base(2)
    ip.user_ns["es"] = [base(3), 7]
    cell(ip, "", "open(log, 'a').write('.')\nkinds = type(e).__name__, type(es[0]).__name__\n")
    assert ip.user_ns["kinds"] == ("Expr", "Expr") and runs(log) == 1


def test_no_cache_nodes_never_share_a_key(ip, log):
    a = plan_cell(BODY, ip.user_ns, hashed=False)
    b = plan_cell(BODY, ip.user_ns, hashed=False)
    assert a.key == b.key == "" and a.expr.key != b.expr.key
    assert not a.expr.call.cache


def test_a_user_module_input_counts_by_its_file(ip, log, tmp_path, monkeypatch):
    mod = tmp_path / "pl_cellmod.py"
    mod.write_text("K = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ip.run_cell("import pl_cellmod")
    first = plan_cell("k = pl_cellmod.K", ip.user_ns).key
    mod.write_text("K = 2  # edited\n")
    # not reloaded, it still runs K = 1: the key stays that of the loaded code
    assert plan_cell("k = pl_cellmod.K", ip.user_ns).key == first
    ip.run_cell("import importlib; importlib.reload(pl_cellmod)")
    assert plan_cell("k = pl_cellmod.K", ip.user_ns).key != first


def test_why_names_an_edited_function_input_by_its_code_not_its_address(ip, log):
    cell(ip, "--name tenfold")
    ip.run_cell("def f(v):\n    return v * 100\n")
    text = str(pl.why(plan_cell(BODY, ip.user_ns, ip.user_ns_hidden, label="tenfold").expr))
    assert "argument `f` was '<function f " in text and "0x" not in text, text


def test_why_says_the_cells_code_changed(ip, log):
    cell(ip, "--name tenfold")
    edited = BODY.replace("f(x)", "f(x) + 1")
    text = str(pl.why(plan_cell(edited, ip.user_ns, ip.user_ns_hidden, label="tenfold").expr))
    assert "the code of `tenfold` changed" in text, text


def test_a_forged_cell_entry_is_never_served(ip, log, tmp_path):
    # someone who can write the cache directory, but lacks the secret, replaces the cell's
    # stored value by a well-formed one that says y = 999: the cell recomputes, y is 30
    import sqlite3

    from pylearn_lab.cache.serialize import pack

    cell(ip, "")
    key = ip.user_ns["_cell"].key
    parts, _ = pack(CellValue({"y": 999}, stdout="forged\n", run="x"))
    forged = b"".join(bytes(p) for p in parts)
    con = sqlite3.connect(tmp_path / "cache" / "index.sqlite")
    assert con.execute("UPDATE entries SET inline=? WHERE key=?", (forged, key)).rowcount == 1
    con.commit()
    con.close()
    del ip.user_ns["y"]
    with pytest.warns(Warning):
        out = cell(ip, "")
    assert ip.user_ns["y"] == 30 and "forged" not in out and runs(log) == 2

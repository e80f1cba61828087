"""``%pylearn`` subcommands through a real InteractiveShell (no cluster needed here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import pylearn_lab as pl
from pylearn_lab.backends.registry import get_default_backend

GRAPH = """\
import pylearn_lab as pl

@pl.component
def square(v: int) -> int:
    open(log, "a").write(".")
    return v * v

@pl.component
def total(*parts: int) -> int:
    open(log, "a").write(".")
    return sum(parts)

parts = [square(i) for i in range(3)]
both = total(*parts)
"""


@pytest.fixture
def graph(ip, tmp_path: Path) -> Path:
    log = tmp_path / "calls.log"
    log.write_text("")
    result = ip.run_cell(f"log = {str(log)!r}\n" + GRAPH)
    assert result.success, result.error_in_exec
    return log


def test_status_alone_shows_backend_cluster_cache_and_hit_rate(magic, tmp_path):
    out, value = magic("")
    assert value is None
    lines = out.splitlines()
    assert lines[0].startswith("pylearn_lab ")
    assert lines[1].split() == ["backend", "serial"]
    assert lines[2].startswith("cluster   none")
    assert str(tmp_path / "cache") in lines[3] and "0 entries" in lines[3]
    assert "hit rate 0%" in lines[4]


def test_help_lists_every_subcommand(ip):
    doc = ip.find_line_magic("pylearn").__doc__
    for usage in ("cluster start [-n N]", "cluster connect", "cluster status", "cluster stop",
                  "backend [serial|threads|processes|ipyparallel]", "cache [DIR]", "cache info",
                  "cache ls [FUNC]", "cache clear [FUNC]", "cache prune --max-size",
                  "cache verify", "run EXPR [-o NAME] [--backend B] [--no-cache]",
                  "results [FUNC]", "lineage EXPR", "why EXPR", "builder [EXPR]",
                  "%%pylearn [-o a,b] [--backend B] [--name N] [--no-cache]"):
        assert usage in doc, usage


def test_the_real_syntax_goes_through_run_cell(ip, graph):
    with capture_output() as cap:
        result = ip.run_cell("%pylearn backend threads\n%pylearn run both -o answer\n%pylearn")
    assert result.success, result.error_in_exec
    assert ip.user_ns["answer"] == 0 + 1 + 4
    assert "backend   threads" in cap.stdout
    with capture_output():
        result = ip.run_cell("%pylearn frobnicate")
    assert isinstance(result.error_in_exec, UsageError)


# -- backend ----------------------------------------------------------------------------------
def test_backend_sets_and_shows_the_session_default(magic):
    out, _ = magic("backend processes")
    assert get_default_backend() == "processes" and "default backend: processes" in out
    out, _ = magic("backend")
    assert "default backend: processes" in out
    magic("backend serial")
    assert get_default_backend() == "serial"


def test_backend_ipyparallel_without_a_cluster_says_how_to_get_one(magic):
    with pytest.raises(UsageError, match="cluster start"):
        magic("backend ipyparallel")
    assert get_default_backend() == "serial"


# -- run --------------------------------------------------------------------------------------
def test_run_computes_then_serves_from_the_cache_with_counts(ip, magic, graph):
    out, value = magic("run both")
    assert value == 5
    assert "pylearn run: 4 computed, 0 cached, 0 failed" in out
    assert len(graph.read_text()) == 4
    out, value = magic("run both -o again")
    assert value is None and ip.user_ns["again"] == 5
    assert "0 computed, 4 cached, 0 failed" in out and "the cache saved" in out
    assert len(graph.read_text()) == 4


def test_run_reports_time_saved_from_the_records(ip, magic, tmp_path):
    ip.run_cell("import time, pylearn_lab as pl\n@pl.component\ndef slow(v):\n"
                "    time.sleep(0.3)\n    return v\ns = slow(1)")
    magic("run s")
    out, _ = magic("run s")
    saved = re.search(r"the cache saved (\d+) ms", out)
    assert saved and int(saved.group(1)) >= 300


def test_run_several_names_and_lists(ip, magic, graph):
    _, value = magic("run parts,both")
    assert value == [[0, 1, 4], 5]
    _, value = magic("run parts")
    assert value == [0, 1, 4]


def test_run_no_cache_recomputes(magic, graph):
    magic("run both")
    out, _ = magic("run both --no-cache")
    assert "4 computed, 0 cached" in out and len(graph.read_text()) == 8


def test_run_on_another_backend(magic, graph):
    out, value = magic("run both --backend threads")
    assert value == 5 and "4 computed" in out


def test_run_a_failing_graph_prints_counts_then_raises(ip, magic):
    ip.run_cell("import pylearn_lab as pl\n@pl.component\ndef boom(v):\n"
                "    raise ValueError('no')\nb = boom(1)")
    with capture_output() as cap, pytest.raises(pl.NodeError):
        ip.run_line_magic("pylearn", "run b")
    assert "0 computed, 0 cached, 1 failed" in cap.stdout


@pytest.mark.parametrize("line, fragment", [
    ("run", "the following arguments are required: expr"),
    ("run 1+1", "expected expressions separated by commas"),
    ("run os.system('x')", "expected expressions separated by commas"),
    ("run f(1)", "assign the expression to a variable first, e.g. e = f(1), then %pylearn run e"),
    ("run nothing_here", "name 'nothing_here' is not defined"),
    ("run log", "expected an expression graph"),
    ("run both --backend gpu", "invalid choice: 'gpu'"),
    ("run both -o 2x", "-o expected a variable name"),
    ("run both --frob", "unrecognized arguments: --frob"),
])
def test_run_bad_arguments_are_one_line_usage_errors(magic, graph, line, fragment):
    with pytest.raises(UsageError) as info:
        magic(line)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_run_never_evaluates_text(ip, magic, graph, tmp_path):
    marker = tmp_path / "evaluated"
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    for line in (f"run {touch}", f"run {{{touch}}}", f"lineage {{{touch}}}"):
        with capture_output(), pytest.raises(UsageError):
            ip.run_cell(f"%pylearn {line}", store_history=False).raise_error()
    assert not marker.exists()


def test_paths_may_name_a_variable_and_nothing_else(ip, magic, tmp_path):
    ip.user_ns["where"] = str(tmp_path / "named")
    with capture_output():
        assert ip.run_cell("%pylearn cache {where}").success
    assert pl.get_default_cache().location == str(tmp_path / "named")
    ip.user_ns["sub"] = "dollar"
    magic(f"cache {tmp_path}/$sub")
    assert pl.get_default_cache().location == str(tmp_path / "dollar")
    with pytest.raises(UsageError, match="only {name} or {name.attr}"):
        magic("cache {__import__('os').getcwd()}")


def test_run_shows_a_widget_in_a_kernel(ip, monkeypatch, graph):
    from pylearn_lab.magics import progress as progress_mod

    made = []
    real = progress_mod.RunProgress

    def spy(mode, **kw):
        made.append(real(mode, **kw))
        return made[-1]

    monkeypatch.setattr("pylearn_lab.magics.runcmd.RunProgress", spy)
    monkeypatch.setattr(ip, "kernel", object(), raising=False)
    with capture_output():
        ip.run_line_magic("pylearn", "run both")
    bar = made[0].bar
    assert made[0].mode == "widget"
    assert (bar.value, bar.max, bar.bar_style) == (4, 4, "success")
    assert "4 computed, 0 cached, 0 failed" in made[0].label.value


# -- cache ------------------------------------------------------------------------------------
def test_cache_dir_switches_the_session_cache(magic, tmp_path):
    other = tmp_path / "other"
    out, _ = magic(f"cache {other} --max-size 1MB")
    cache = pl.get_default_cache()
    assert cache.location == str(other) and cache.max_bytes == 1_000_000
    assert str(other) in out
    out, _ = magic("cache")
    assert str(other) in out


def test_cache_dir_that_cannot_be_created_is_a_usage_error_and_keeps_the_cache(magic, tmp_path):
    before = pl.get_default_cache().location
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UsageError) as info:
        magic(f"cache {blocker}/cache")
    text = str(info.value)
    assert "expected a directory that exists or can be created" in text
    assert f"{blocker}/cache" in text and "Not a directory" in text
    assert "Pass a writable path" in text and "\n" not in text
    assert pl.get_default_cache().location == before


def test_cache_info_ls_clear(ip, magic, graph):
    magic("run both")
    out, _ = magic("cache info")
    assert "4 entries" in out
    out, _ = magic("cache ls")
    assert "4 entries" in out and "__main__.square" in out and "__main__.total" in out
    out, _ = magic("cache ls square")
    assert "3 entries" in out and "__main__.total" not in out
    out, _ = magic("cache ls square -n 1")
    assert "(2 older not shown)" in out
    out, _ = magic("cache clear square")
    assert "removed 3 entries of __main__.square" in out
    out, _ = magic("cache ls")
    assert "1 entry" in out
    out, _ = magic("cache clear")
    assert "removed 1 entry" in out and pl.get_default_cache().info().entries == 0


def test_cache_ls_by_registered_name_and_for_cells(ip, magic, graph):
    magic("run both")
    with capture_output():
        ip.run_cell_magic("pylearn", "--name mycell", "k = 1\n")
    out, _ = magic("cache ls %%pylearn")
    assert "mycell" in out and "1 entry" in out
    out, _ = magic("cache ls __main__.total")
    assert "1 entry" in out


def test_cache_prune_and_verify(ip, magic, graph):
    ip.run_cell("import numpy as np\n@pl.component\ndef big(i):\n    return np.ones(20_000) * i\n"
                "bigs = [big(i) for i in range(4)]")
    magic("run bigs")
    before = pl.get_default_cache().info()
    out, _ = magic("cache prune --max-size 1KB")
    after = pl.get_default_cache().info()
    assert after.bytes <= 1000 < before.bytes and "pruned" in out
    out, _ = magic("cache verify")
    assert out.startswith("cache verify: ok")


@pytest.mark.parametrize("line, fragment", [
    ("cache prune", "the following arguments are required: --max-size"),
    ("cache prune --max-size lots", "expected a size such as 500MB"),
    ("cache info extra", "unrecognized arguments: extra"),
    ("cache ls a b", "unrecognized arguments: b"),
    ("cache ls square -n many", "invalid int value"),
    ("cache somewhere --max-size huge", "expected a size such as 500MB"),
])
def test_cache_bad_arguments(magic, line, fragment):
    with pytest.raises(UsageError) as info:
        magic(line)
    assert fragment in str(info.value) and "\n" not in str(info.value)


# -- cluster without a cluster ------------------------------------------------------------------
def test_cluster_status_and_stop_without_a_cluster(magic):
    assert "no cluster" in magic("cluster status")[0]
    assert "no cluster to stop" in magic("cluster stop")[0]


@pytest.mark.parametrize("line, fragment", [
    ("cluster", "expected start, connect, status or stop"),
    ("cluster launch", "expected start, connect, status or stop, received 'launch'"),
    ("cluster start -n zero", "invalid int value: 'zero'"),
    ("cluster start -n 0", "-n expected a number of engines >= 1"),
    ("cluster start --gpus 2", "unrecognized arguments"),
    ("cluster connect --file a.json --profile p", "either --file, or --profile"),
    ("cluster stop now", "unrecognized arguments: now"),
])
def test_cluster_bad_arguments(magic, line, fragment):
    with pytest.raises(UsageError) as info:
        magic(line)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_cluster_without_the_ipyparallel_adapter_says_what_to_install(magic, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pylearn_lab.backends.ipp", None)
    with pytest.raises(UsageError, match="clusters are not available.*pip install ipyparallel"):
        magic("cluster start -n 1")
    with pytest.raises(UsageError, match="clusters are not available"):
        magic("cluster connect --profile default")


def test_words_may_be_separated_by_any_whitespace(magic):
    assert "0 entries" in magic("  cache \t  info ")[0]
    assert "no cluster" in magic("cluster\t status")[0]


def test_unknown_subcommand(magic):
    with pytest.raises(UsageError, match="unknown %pylearn subcommand 'fly'.*cluster, backend"):
        magic("fly away")


# -- thin entry points ------------------------------------------------------------------------
def test_results_lineage_why_builder(ip, magic, graph):
    magic("run both")
    _, table = magic("results square")
    assert len(table) == 3
    _, tree = magic("lineage both")
    assert tree.key == ip.user_ns["both"].key and "square" in str(tree)
    _, explanation = magic("why both")
    assert explanation.hit
    _, builder = magic("builder both")
    assert type(builder).__name__ == "GraphBuilder"
    _, key_tree = magic(f"lineage {ip.user_ns['both'].key}")
    assert key_tree.key == tree.key


def test_why_needs_an_expression(magic, graph):
    with pytest.raises(UsageError, match="expected a variable holding an expression"):
        magic("why log")


def test_missing_capability_is_a_clear_message(ip, monkeypatch):
    import importlib

    real = importlib.import_module

    def fake(name, *a, **k):
        if name == "pylearn_lab.experiments.why":
            raise ImportError("No module named 'pylearn_lab.experiments.why'")
        return real(name, *a, **k)

    monkeypatch.setattr("pylearn_lab.magics.views.importlib.import_module", fake)
    with pytest.raises(UsageError, match="%pylearn why is not available yet"):
        ip.run_line_magic("pylearn", "why x")


def test_unload_removes_the_magic(ip):
    ip.run_line_magic("unload_ext", "pylearn_lab")
    assert ip.find_line_magic("pylearn") is None and ip.find_cell_magic("pylearn") is None
    ip.run_line_magic("load_ext", "pylearn_lab")
    assert ip.find_line_magic("pylearn") is not None


def test_cache_takes_a_team_database_with_blobs_and_a_key(magic, pg_server, tmp_path):
    """``%pylearn cache postgresql://... --blobs DIR --key FILE`` makes the team cache the
    session's; a new ``--max-size`` keeps it one; errors never show the password."""
    from pylearn_lab.cache.keyring import create_team_key

    db = pg_server.new_database()
    password = pg_server.password
    key = create_team_key(tmp_path / "team.key")
    out, _ = magic(f"cache {db} --blobs {tmp_path / 'blobs'} --key {key}")
    cache = pl.get_default_cache()
    assert cache.index_url == db and cache.location == str(tmp_path / "blobs")
    assert cache.store.key_file == str(key) and password not in out
    assert cache.save("a" * 32, 42) and cache.lookup("a" * 32) == (True, 42)
    magic("cache --max-size 1MB")
    again = pl.get_default_cache()
    assert again.index_url == db and again.max_bytes == 1_000_000
    assert again.store.key_file == str(key) and again.lookup("a" * 32) == (True, 42)
    for line, expected in [
        (f"cache postgresql://ann:hunter2@127.0.0.1:9/x --blobs {tmp_path / 'b2'}",
         "cannot reach the PostgreSQL cache index"),
        ("cache postgresql://ann:hunter2@127.0.0.1:9/x", "Pass --blobs DIR"),
        (f"cache {tmp_path / 'dir'} --blobs {tmp_path / 'b3'}", "--blobs goes with a postgresql"),
    ]:
        with pytest.raises(UsageError) as info:
            magic(line)
        assert expected in str(info.value) and "hunter2" not in str(info.value)
    assert pl.get_default_cache().index_url == db  # the session cache is unchanged

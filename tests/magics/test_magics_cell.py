"""``%%pylearn`` through a real InteractiveShell: what runs, what is served, what is refused.

Each cell appends a character to a log file every time it really runs, so the
number of characters counts executions (a namespace list would itself be an
input of the cell and change its key).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

BODY = """\
# counting cell
open(log, "a").write(".")
print("computing with", x)
y = f(x)
"""


@pytest.fixture
def log(ip, tmp_path: Path) -> Path:
    path = tmp_path / "runs.log"
    path.write_text("")
    ip.run_cell(f"log = {str(path)!r}\nx = 3\ndef f(v):\n    return v * 10\n")
    return path


def runs(log: Path) -> int:
    return len(log.read_text())


def run_cell(ip, text: str):
    with capture_output() as cap:
        result = ip.run_cell(text)
    return result, cap.stdout


def test_second_run_is_served_from_the_cache_with_its_output_replayed(ip, log):
    first, out1 = run_cell(ip, "%%pylearn --name tenfold\n" + BODY)
    assert first.success and runs(log) == 1
    assert ip.user_ns["y"] == 30
    assert "computing with 3" in out1 and "served from cache" not in out1

    del ip.user_ns["y"]
    second, out2 = run_cell(ip, "%%pylearn --name tenfold\n" + BODY)
    assert second.success and runs(log) == 1  # did not run again
    assert ip.user_ns["y"] == 30  # restored from the cache
    assert "computing with 3" in out2  # printed output replayed
    assert "'tenfold': served from cache (saved" in out2


def test_editing_comments_and_formatting_keeps_the_hit(ip, log):
    run_cell(ip, "%%pylearn\n" + BODY)
    edited = BODY.replace("# counting cell", "# a different comment") \
                 .replace("y = f(x)", "y=f( x )   # trailing note") + "\n\n"
    result, out = run_cell(ip, "%%pylearn\n" + edited)
    assert result.success and runs(log) == 1
    assert "served from cache" in out


def test_changing_an_input_value_misses(ip, log):
    run_cell(ip, "%%pylearn\n" + BODY)
    ip.run_cell("x = 4")
    result, out = run_cell(ip, "%%pylearn\n" + BODY)
    assert result.success and runs(log) == 2
    assert ip.user_ns["y"] == 40 and "served from cache" not in out
    ip.run_cell("x = 3")  # back to the first value: that result is still stored
    run_cell(ip, "%%pylearn\n" + BODY)
    assert runs(log) == 2 and ip.user_ns["y"] == 30


def test_changing_a_function_the_cell_calls_misses(ip, log):
    run_cell(ip, "%%pylearn\n" + BODY)
    ip.run_cell("def f(v):\n    return v * 100\n")
    result, _ = run_cell(ip, "%%pylearn\n" + BODY)
    assert result.success and runs(log) == 2 and ip.user_ns["y"] == 300


def test_changing_a_helper_of_that_function_misses(ip, log):
    ip.run_cell("def helper(v):\n    return v + 1\ndef f(v):\n    return helper(v)\n")
    run_cell(ip, "%%pylearn\n" + BODY)
    ip.run_cell("def helper(v):\n    return v + 2\n")
    run_cell(ip, "%%pylearn\n" + BODY)
    assert runs(log) == 2 and ip.user_ns["y"] == 5


def test_changing_the_code_misses(ip, log):
    run_cell(ip, "%%pylearn\n" + BODY)
    run_cell(ip, "%%pylearn\n" + BODY.replace("f(x)", "f(x) + 1"))
    assert runs(log) == 2 and ip.user_ns["y"] == 31


def test_no_cache_always_runs_and_stores_nothing(ip, log):
    for _ in range(2):
        result, _ = run_cell(ip, "%%pylearn --no-cache\n" + BODY)
        assert result.success
    assert runs(log) == 2
    out, _ = _magic(ip, "cache ls %%pylearn")
    assert "no cache entries" in out


def test_dash_o_restores_only_the_named_outputs(ip, log):
    body = BODY + "z = y + 1\n"
    run_cell(ip, "%%pylearn -o z\n" + body)
    for name in ("y", "z"):
        del ip.user_ns[name]
    run_cell(ip, "%%pylearn -o z\n" + body)
    assert runs(log) == 1
    assert ip.user_ns["z"] == 31 and "y" not in ip.user_ns


def test_the_trailing_expression_is_shown_on_a_hit_too(ip, log):
    values = [ip.run_cell("%%pylearn\n" + BODY + "y + 1").result for _ in range(2)]
    assert values == [31, 31] and runs(log) == 1


def test_names_assigned_before_they_are_read_are_not_inputs(ip, log):
    # ``x`` is assigned by the cell first: changing the namespace's x must not matter
    body = "x = 7\n" + BODY
    run_cell(ip, "%%pylearn\n" + body)
    ip.run_cell("x = 1000")
    run_cell(ip, "%%pylearn\n" + body)
    assert runs(log) == 1 and ip.user_ns["y"] == 70


def test_imports_and_functions_defined_in_the_cell_are_restored(ip, log):
    body = ("import math\nopen(log, 'a').write('.')\n"
            "def area(r):\n    return math.pi * r * r\nA = area(x)\n")
    run_cell(ip, "%%pylearn\n" + body)
    for name in ("math", "area", "A"):
        del ip.user_ns[name]
    run_cell(ip, "%%pylearn\n" + body)
    assert runs(log) == 1
    assert ip.user_ns["area"](1.0) == pytest.approx(3.14159, rel=1e-5)
    assert ip.user_ns["math"].__name__ == "math"


def test_a_name_that_does_not_exist_is_a_one_line_error(ip, log):
    result, _ = run_cell(ip, "%%pylearn\ny = undefined_thing + 1\n")
    assert not result.success
    err = result.error_in_exec
    assert isinstance(err, UsageError)
    assert "'undefined_thing'" in str(err) and "\n" not in str(err)
    assert runs(log) == 0


def test_an_output_that_cannot_be_stored_is_named(ip, log):
    with pytest.raises(UsageError, match=r"output 'lock' \(type _thread.lock\) cannot be stored"):
        ip.run_cell_magic("pylearn", "", "import threading\nlock = threading.Lock()\n")
    # -o keeps it out of the stored outputs: then the cell caches fine
    body = "import threading\nlock = threading.Lock()\nopen(log, 'a').write('.')\nn = 5\n"
    for _ in range(2):
        with capture_output():
            ip.run_cell_magic("pylearn", "-o n", body)
    assert runs(log) == 1


def test_an_unhashable_input_is_named_with_the_way_out(ip, log):
    ip.run_cell("import threading\nguard = threading.Lock()")
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("pylearn", "", "with guard:\n    v = 1\n")
    msg = str(info.value)
    assert "variable 'guard'" in msg and "--no-cache" in msg and "-o" in msg
    assert "\n" not in msg
    with capture_output():
        ip.run_cell_magic("pylearn", "--no-cache", "with guard:\n    v = 1\n")
    assert ip.user_ns["v"] == 1


def test_a_failing_cell_raises_and_stores_nothing(ip, log):
    body = "open(log, 'a').write('.')\nraise RuntimeError('bad input')\n"
    for _ in range(2):
        result, _ = run_cell(ip, "%%pylearn\n" + body)
        assert isinstance(result.error_in_exec, RuntimeError)
        assert type(result.error_in_exec) is RuntimeError  # the user's own exception object
    assert runs(log) == 2
    import traceback

    files = [f.filename for f in traceback.extract_tb(result.error_in_exec.__traceback__)]
    assert not any(os.sep + "vm" + os.sep in f for f in files), files  # no VM frames shown


@pytest.mark.parametrize("args", ["-o 1bad", "--backend gpu", "--nope", "-o"])
def test_bad_cell_arguments_are_usage_errors(ip, args):
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("pylearn", args, "y = 1\n")
    assert "\n" not in str(info.value)


def test_dash_o_naming_something_the_cell_does_not_assign(ip, log):
    with pytest.raises(UsageError, match="'w', which the cell did not assign"):
        ip.run_cell_magic("pylearn", "-o w", "q = 1\n")


def test_a_cell_with_a_syntax_error_is_a_one_line_error(ip):
    with pytest.raises(UsageError, match="not valid Python"):
        ip.run_cell_magic("pylearn", "", "y = (1\n")


def test_a_cell_runs_on_the_threads_backend_as_a_function_of_its_inputs(ip, log):
    body = "import threading\nname = threading.current_thread().name\nprint('hello')\ny = f(x)\n"
    result, out = run_cell(ip, "%%pylearn --backend threads\n" + body)
    assert result.success, result.error_in_exec
    assert ip.user_ns["y"] == 30 and ip.user_ns["name"] != "MainThread"
    assert "hello" in out
    result, out = run_cell(ip, "%%pylearn\n" + body)  # the backend is not part of the key
    assert "served from cache" in out and ip.user_ns["name"] != "MainThread"


def test_an_error_on_a_worker_shows_the_cell_traceback(ip, log):
    result, _ = run_cell(ip, "%%pylearn --backend threads\nv = 1\nraise KeyError('missing')\n")
    err = result.error_in_exec
    assert isinstance(err, KeyError)
    lines = err._render_traceback_()
    assert "the %%pylearn cell raised on threads" in lines[0]
    assert any("raise KeyError('missing')" in line for line in lines)
    assert not any("pylearn_lab" in line for line in lines)  # the cell's frames, not the VM's


def test_what_a_failing_cell_printed_on_a_worker_is_shown(ip, log):
    result, _ = run_cell(ip, "%%pylearn --backend threads\nprint('step 1 done')\n1 / 0\n")
    err = result.error_in_exec
    assert isinstance(err, ZeroDivisionError)
    assert any("step 1 done" in line for line in err._render_traceback_())


def test_cells_are_listed_and_counted(ip, log):
    run_cell(ip, "%%pylearn --name tenfold\n" + BODY)
    run_cell(ip, "%%pylearn --name tenfold\n" + BODY)
    out, _ = _magic(ip, "cache ls %%pylearn")
    assert "tenfold" in out and "1 entry" in out
    out, _ = _magic(ip, "")
    assert "%%pylearn cells: 1 served, 1 run" in out
    rec = __import__("pylearn_lab").get_default_cache().records(func="%%pylearn")[0]
    assert rec.params["x"] == 3 and rec.summary["y"] == 30


def _magic(ip, line: str):
    with capture_output() as cap:
        value = ip.run_line_magic("pylearn", line)
    return cap.stdout, value


def test_an_unhashable_callable_input_is_named(ip, log):
    ip.run_cell("import threading\nclass Guarded:\n    def __init__(self):\n"
                "        self.lock = threading.Lock()\n    def __call__(self):\n"
                "        return 1\nzeta = 1\ng = Guarded()")
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("pylearn", "", "v = g() + zeta\n")
    msg = str(info.value)
    assert "variable 'g'" in msg and "zeta" not in msg and "\n" not in msg, msg


def test_an_input_that_cannot_travel_to_a_worker_is_a_one_line_error(ip, log):
    ip.run_cell("import threading\nguard = threading.Lock()")
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("pylearn", "--no-cache --backend threads", "with guard:\n    v = 1\n")
    msg = str(info.value)
    assert "input variable 'guard'" in msg and "without --backend" in msg and "\n" not in msg

"""``%%pylearn``: rich outputs replayed on a hit, inputs changed in place, ``%pylearn sweep``.

A real InteractiveShell; each cell appends to a log file when it really runs,
so the file's length counts executions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from IPython.utils.capture import capture_output


@pytest.fixture
def log(ip, tmp_path: Path) -> Path:
    path = tmp_path / "runs.log"
    path.write_text("")
    ip.user_ns["log"] = str(path)
    return path


def runs(log: Path) -> int:
    return len(log.read_text())


def run(ip, args: str, body: str):
    with capture_output() as cap:
        value = ip.run_cell_magic("pylearn", args, body)
    return cap, value


def test_figures_and_displays_are_shown_again_on_a_hit(ip, log):
    import matplotlib

    matplotlib.use("Agg")
    ip.user_ns["xs"] = [1.0, 3.0, 2.0]
    body = ("open(log, 'a').write('.')\n"
            "import matplotlib.pyplot as plt\n"
            "from IPython.display import HTML, display\n"
            "fig = plt.figure()\n"
            "_ = plt.plot(xs)\n"
            "display(HTML('<b>summary</b>'))\n"
            "n = len(xs)\n")
    first, _ = run(ip, "-o n", body)
    second, _ = run(ip, "-o n", body)
    assert runs(log) == 1 and "served from cache" in second.stdout
    kinds = [sorted(o.data) for o in first.outputs]
    assert ["text/html", "text/plain"] in kinds and ["image/png", "text/plain"] in kinds
    assert [o.data for o in second.outputs] == [o.data for o in first.outputs]
    png = next(o.data["image/png"] for o in second.outputs if "image/png" in o.data)
    import base64

    assert base64.b64decode(png)[:4] == b"\x89PNG"
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # drawn once by the cell, not again by the inline hook


def test_a_dataframe_result_is_shown_as_html_on_a_hit(ip, log):
    pd = pytest.importorskip("pandas")
    ip.user_ns["k"] = 3
    body = "open(log, 'a').write('.')\nimport pandas as pd\npd.DataFrame({'a': list(range(k))})\n"
    _, v1 = run(ip, "-o pd", body)
    _, v2 = run(ip, "-o pd", body)
    assert runs(log) == 1
    assert isinstance(v2, pd.DataFrame) and v2.equals(v1) and "<table" in v2._repr_html_()


def test_a_widget_is_replayed_by_its_fallback(ip, log):
    pytest.importorskip("ipywidgets")
    body = ("open(log, 'a').write('.')\n"
            "import ipywidgets\nfrom IPython.display import display\n"
            "display(ipywidgets.IntSlider(value=7))\nz = 1\n")
    first, _ = run(ip, "-o z", body)
    second, _ = run(ip, "-o z", body)
    assert runs(log) == 1
    replayed = [o.data for o in second.outputs]
    assert replayed and all("application/vnd.jupyter.widget-view+json" not in d for d in replayed)
    assert any("IntSlider" in d.get("text/plain", "") for d in replayed)


def test_an_input_changed_in_place_is_stored_and_restored(ip, log):
    ip.user_ns["table"] = {"a": [1, 2]}
    body = "open(log, 'a').write('.')\ntable['ratio'] = [x / 2 for x in table['a']]\nm = 1\n"
    first, _ = run(ip, "", body)
    assert "changed input 'table' in place" in first.stdout
    assert ip.user_ns["table"] == {"a": [1, 2], "ratio": [0.5, 1.0]}
    ip.user_ns["table"] = {"a": [1, 2]}  # the same input as before the first run
    second, _ = run(ip, "", body)
    assert runs(log) == 1 and "served from cache" in second.stdout
    assert ip.user_ns["table"] == {"a": [1, 2], "ratio": [0.5, 1.0]}  # the cell's effect, replayed


def test_an_array_changed_in_place_is_detected(ip, log):
    ip.user_ns["arr"] = np.arange(4.0)
    body = "open(log, 'a').write('.')\narr[:] = arr * 2\n"
    first, _ = run(ip, "", body)
    assert "changed input 'arr' in place" in first.stdout
    ip.user_ns["arr"] = np.arange(4.0)
    run(ip, "", body)
    assert runs(log) == 1 and list(ip.user_ns["arr"]) == [0.0, 2.0, 4.0, 6.0]


def test_an_input_changed_in_place_that_cannot_be_stored_refuses_the_cache(ip, log):
    import threading

    class Box:
        def __init__(self) -> None:
            self.n = 0
            self.lock = threading.Lock()

        def __pylearn_hash__(self) -> int:
            return self.n

    ip.user_ns["box"] = Box()
    body = "open(log, 'a').write('.')\nbox.n += 1\n"
    first, _ = run(ip, "", body)
    lines = [ln for ln in first.stdout.splitlines() if "not cached" in ln]
    assert len(lines) == 1 and "'box'" in lines[0]
    ip.user_ns["box"].n = 0
    run(ip, "", body)
    assert runs(log) == 2  # nothing was stored: it ran again


def test_pylearn_sweep_runs_a_grid_from_one_line(ip, tmp_path):
    ip.run_cell(
        "import pylearn_lab as pl\n"
        f"LOG = {str(tmp_path / 'sweep.log')!r}\n"
        "@pl.component\n"
        "def score(lr: float, depth: int = 1) -> dict:\n"
        "    open(LOG, 'a').write('.')\n"
        "    return {'acc': 1 - abs(lr - 0.1) - 0.01 * depth}\n")
    with capture_output():
        sw = ip.run_line_magic("pylearn", "sweep score lr=0.1,0.3 depth=[1, 2]")
    assert [p for p in sw.points] == [{"lr": 0.1, "depth": 1}, {"lr": 0.1, "depth": 2},
                                      {"lr": 0.3, "depth": 1}, {"lr": 0.3, "depth": 2}]
    assert len((tmp_path / "sweep.log").read_text()) == 4
    with capture_output():
        again = ip.run_line_magic("pylearn", "sweep score lr=0.1,0.3,0.5 depth=[1, 2]")
    assert len((tmp_path / "sweep.log").read_text()) == 6  # only the two new points ran
    assert again.best("acc").params == {"lr": 0.1, "depth": 1}
    assert ip.user_ns["_sweep"] is again


@pytest.mark.parametrize("line, message", [
    ("sweep", "expected"),
    ("sweep score", "at least one"),
    ("sweep nope lr=1", "nope"),
    ("sweep score lr", "name=values"),
    ("sweep score lr=(", "Python literal"),
])
def test_pylearn_sweep_bad_lines_are_one_line_errors(ip, line, message):
    from IPython.core.error import UsageError

    ip.run_cell("import pylearn_lab as pl\n@pl.component\ndef score(lr: float) -> float:\n"
                "    return lr\n")
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("pylearn", line)


def test_an_expression_is_an_input_by_its_key(ip, log):
    import pylearn_lab as pl

    @pl.component
    def base(n: int) -> int:
        return n

    ip.user_ns["e"] = base(2)
    body = "open(log, 'a').write('.')\nk = e.key[:4]\n"
    run(ip, "", body)
    run(ip, "", body)
    assert runs(log) == 1
    ip.user_ns["e"] = base(3)  # another expression: another key
    run(ip, "", body)
    assert runs(log) == 2


def test_a_cell_on_a_worker_thread_cannot_change_the_notebooks_inputs(ip, log):
    # as a function of its inputs it gets copies, as on another process: a hit replays the
    # same namespace the miss left
    ip.user_ns["arr"] = np.arange(4.0)
    body = "open(log, 'a').write('.')\narr[:] = 0\ntotal = float(arr.sum())\n"
    run(ip, "--backend threads", body)
    assert list(ip.user_ns["arr"]) == [0.0, 1.0, 2.0, 3.0] and ip.user_ns["total"] == 0.0
    second, _ = run(ip, "", body)
    assert runs(log) == 1 and "served from cache" in second.stdout
    assert list(ip.user_ns["arr"]) == [0.0, 1.0, 2.0, 3.0] and ip.user_ns["total"] == 0.0

"""Bad inputs to the ``%pylearn`` magics, in a real IPython shell: each is a one-line
``UsageError`` (no traceback in the notebook) whose message says what to do."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pylearn_lab.magics.session import MagicUsageError as UsageError  # a UsageError and a PylearnError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from pylearn_lab.backends import registry
from pylearn_lab.backends.registry import set_default_backend
from pylearn_lab.cache import set_default_cache

from .bad_inputs import Case, rel_scale
from .test_bad_inputs import check

USAGE = r"see %pylearn\? for usage"


def _line(text: str):
    return lambda ctx: ctx.shell.run_line_magic("pylearn", text.format(tmp=ctx.tmp_path))


def _cell(args: str, body: str):
    return lambda ctx: ctx.shell.run_cell_magic("pylearn", args, body)


def _file_path(ctx: Any) -> Any:
    f = ctx.tmp_path / "a-file"
    f.write_text("x")
    return ctx.shell.run_line_magic("pylearn", f"cache {f}/cache")


MAGIC_CASES = [
    Case("magic-unknown-subcommand", "magic", "`%pylearn frobnicate`", UsageError,
         r"expected one of cluster, backend, cache, run.*" + USAGE, _line("frobnicate")),
    Case("magic-bad-flag", "magic", "`%pylearn run e --bogus`", UsageError,
         r"unrecognized arguments: --bogus.*" + USAGE, _line("run e --bogus")),
    Case("magic-bad-backend", "magic", "`%pylearn backend gpu`", UsageError,
         r"invalid choice: 'gpu'.*" + USAGE, _line("backend gpu")),
    Case("magic-ipp-without-cluster", "magic", "`%pylearn backend ipyparallel` with no cluster",
         UsageError, r"start one with %pylearn cluster start -n 2", _line("backend ipyparallel")),
    Case("magic-undefined-name", "magic", "`%pylearn run nope` (no such variable)", UsageError,
         r"define it first", _line("run nope")),
    Case("magic-expression-not-name", "magic", "`%pylearn why f(1)` (an expression, not a name)",
         UsageError, r"assign the expression to a variable first", _line("why f(1)")),
    Case("magic-not-an-expr", "magic", "`%pylearn run x` where `x = 3`", UsageError,
         r"Build one with e.g. x = my_component\(data\)", _line("run x")),
    Case("magic-bad-output-name", "magic", "`%pylearn run e -o 1abc`", UsageError,
         r"-o expected a variable name", _line("run e -o 1abc")),
    Case("magic-why-not-expr", "magic", "`%pylearn why x` where `x = 3`", UsageError,
         r"For a stored key use %pylearn lineage KEY", _line("why x")),
    Case("magic-bad-size", "magic", "`%pylearn cache --max-size 2parsecs`", UsageError,
         r"Units: B, KB, MB, GB, TB", _line("cache --max-size 2parsecs")),
    Case("magic-prune-without-size", "magic", "`%pylearn cache prune` (no --max-size)", UsageError,
         r"arguments are required: --max-size.*" + USAGE, _line("cache prune")),
    Case("magic-evaluated-placeholder", "magic", "`%pylearn cache {len('a')}`", UsageError,
         r"nothing is evaluated", _line("cache {{len('a')}}")),
    Case("magic-cluster-unknown-action", "magic", "`%pylearn cluster frob`", UsageError,
         r"expected start, connect, status or stop.*" + USAGE, _line("cluster frob")),
    Case("magic-cluster-n-not-int", "magic", "`%pylearn cluster start -n two`", UsageError,
         r"invalid int value: 'two'.*" + USAGE, _line("cluster start -n two")),
    Case("magic-cluster-zero-engines", "magic", "`%pylearn cluster start -n 0`", UsageError,
         r"-n expected a number of engines >= 1", _line("cluster start -n 0")),
    Case("magic-connect-profile-and-dir", "magic",
         "`%pylearn cluster connect --profile a --profile-dir b`", UsageError, r"not both",
         _line("cluster connect --profile a --profile-dir {tmp}")),
    Case("magic-cell-bad-backend", "magic", "`%%pylearn --backend gpu`", UsageError,
         r"invalid choice: 'gpu'", _cell("--backend gpu", "y = 1")),
    Case("magic-unreachable-cache", "magic", "`%pylearn cache DIR` that cannot be created",
         UsageError, r"Pass a writable path", _file_path),
    Case("magic-run-expression", "magic", "`%pylearn run f(1)` (an expression, not a name)",
         UsageError, r"assign the expression to a variable first, e\.g\. e = f\(1\), then "
         r"%pylearn run e", _line("run f(1)")),
    Case("magic-unclosed-quote", "magic", "`%pylearn cache 'my dir` (an unclosed quote)", UsageError,
         r"cannot be split into words \(No closing quotation\); expected balanced quotes",
         _line("cache 'my dir")),
    Case("magic-nul", "magic", "a NUL character in the line", UsageError,
         r"contains a NUL character.*remove it", _line("cache a\x00b")),
    Case("magic-surrogate", "magic", "a lone surrogate in the line", UsageError,
         r"lone surrogate.*retype", _line("cache \udc80")),
    Case("magic-property-path", "magic", "`%pylearn run x.prop` where `prop` is a property",
         UsageError, r"never run code to look a name up. Assign it to a variable first",
         _line("run x.imag")),
    Case("magic-not-a-cache", "magic", "`%pylearn cache DIR` on a folder that is not a cache",
         UsageError, r"not a pylearn_lab cache", lambda ctx: ctx.shell.run_line_magic(
             "pylearn", f"cache {ctx.tmp_path}")),
]


@dataclass
class Ctx:
    shell: InteractiveShell
    tmp_path: Path


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    cfg = Config()
    cfg.HistoryManager.enabled = False
    ip = InteractiveShell.instance(config=cfg)
    monkeypatch.setattr(registry, "_CLUSTER", None)  # other tests may have one
    ip.run_line_magic("load_ext", "pylearn_lab")
    ip.run_line_magic("pylearn", f"cache {tmp_path / 'cache'}")
    ip.user_ns.update(x=3, e=rel_scale(2))
    yield ip
    ip.run_line_magic("unload_ext", "pylearn_lab")
    InteractiveShell.clear_instance()
    set_default_cache(None)
    set_default_backend("serial")


@pytest.mark.parametrize("case", MAGIC_CASES, ids=[c.id for c in MAGIC_CASES])
def test_magic_bad_input(case, shell, tmp_path, figures):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(BaseException) as info:
            case.trigger(Ctx(shell, tmp_path))
    check(case, info.value)
    assert "\n" not in str(info.value).strip(), "a usage error is one line"
    figures["bad_inputs_tried"] = figures.get("bad_inputs_tried", 0) + 1

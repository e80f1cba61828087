"""The larger bounded fuzz run behind the figures in docs/reliability.md.

Run from the repository root (it is not collected by pytest)::

    python -m tests.reliability.fuzz_big [--specs 3000] [--lines 2600] [--seed 12]

It mutates valid graph specs (1-4 random structural changes each, plus random
text) and builds random ``%pylearn`` argument lines (magic words, quotes, NUL,
lone surrogates, ``~nosuchuser``, over-long names, attribute paths to a
property), runs each through the real loader / a real IPython shell, and counts
``ok`` / ``clear`` (a PylearnError) / ``raw`` (anything else: a finding). It
prints one line per raw outcome and exits 1 if there was any. Bounded: a fixed
number of inputs and a 1 s alarm per input (a hang counts as raw).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import sys
import tempfile
import time
import warnings


class _Hang(Exception):
    pass


def _alarm(*_: object) -> None:
    raise _Hang()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--specs", type=int, default=3000)
    ap.add_argument("--lines", type=int, default=2600)
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from reliability import fuzzing as fz

    signal.signal(signal.SIGALRM, _alarm)
    rng = random.Random(args.seed)
    counts: dict[str, collections.Counter[str]] = {"spec": collections.Counter(),
                                                   "magic": collections.Counter()}
    t0 = time.perf_counter()
    for i in range(args.specs):
        doc = fz.base_spec()
        for _ in range(rng.randint(1, 4)):
            doc = fz.mutate(doc, rng)
        try:
            text = json.dumps(doc) if i % 10 else "".join(
                chr(rng.randint(1, 0x2FF)) for _ in range(rng.randint(0, 80)))
        except (TypeError, ValueError):
            continue
        signal.alarm(1)
        try:
            outcome = fz.spec_outcome(text)
        except _Hang:
            outcome = "raw"
        finally:
            signal.alarm(0)
        counts["spec"][outcome] += 1
        if outcome == "raw":
            print("spec raw:", text[:200])
    from IPython.core.interactiveshell import InteractiveShell

    from pylearn_lab.cache import set_default_cache

    from traitlets.config import Config

    home = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        cfg = Config()
        cfg.HistoryManager.enabled = False
        shell = InteractiveShell.instance(config=cfg)
        shell.run_line_magic("load_ext", "pylearn_lab")
        set_default_cache(os.path.join(tmp, "session-cache"))
        shell.user_ns.update({"x": fz.Prop(), "e": fz.fz_source(2), "f": fz.fz_source})
        for _ in range(args.lines):
            line = fz.magic_line(rng)
            signal.alarm(5)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outcome = fz.magic_outcome(shell, line)
            except _Hang:
                outcome = "raw"
            finally:
                signal.alarm(0)
            if fz.Prop.ran:
                outcome, fz.Prop.ran = "raw", 0
            counts["magic"][outcome] += 1
            if outcome == "raw":
                print("magic raw:", repr(line)[:200])
        shell.run_line_magic("unload_ext", "pylearn_lab")
        os.chdir(home)
    took = time.perf_counter() - t0
    for what, c in counts.items():
        print(f"{what}: {sum(c.values())} inputs, {c['ok']} accepted, {c['clear']} clear "
              f"PylearnError, {c['raw']} raw")
    print(f"{took:.1f} s")
    return 1 if counts["spec"]["raw"] or counts["magic"]["raw"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

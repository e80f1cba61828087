"""Shared fuzzing material: mutated graph specs and %pylearn argument lines.

Used by the bounded hypothesis tests (``test_fuzz.py``) and by the larger run
(``fuzz_big.py``), which counts outcomes for docs/reliability.md. An outcome is
``ok`` (accepted), ``clear`` (a PylearnError subclass) or ``raw`` (anything else:
a finding).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pylearn_lab as pl
from pylearn_lab.errors import PylearnError


@pl.component
def fz_source(n: int = 3) -> list:
    """A tiny source node for fuzzed specs."""
    return list(range(n))


@pl.component
def fz_scale(xs: list, factor: float = 2.0) -> list:
    """A tiny downstream node for fuzzed specs."""
    return [x * factor for x in xs]


def base_spec() -> dict[str, Any]:
    """A valid spec of two nodes (a source and a scaled copy)."""
    return json.loads(fz_scale(fz_source(4), factor=1.5).graph.to_json())


_ODD = [None, True, 0, -1, 2**70, 1.5, float("nan"), "", "x" * 300, [], {}, [[[]]],
        {"$ref": 3}, {"$ref": "nope"}, {"$tuple": 5}, {"$float": "zz"}, {"$float": None},
        {"$x": 1}, "\udc80", "\x00", {"a": {"b": {"c": []}}}]


def mutate(doc: Any, rng: random.Random, depth: int = 0) -> Any:
    """One random structural change somewhere in ``doc``."""
    if isinstance(doc, dict) and doc and rng.random() < 0.8:
        key = rng.choice(sorted(doc, key=str))
        choice = rng.random()
        out = dict(doc)
        if choice < 0.15:
            del out[key]
        elif choice < 0.3:
            out[key] = rng.choice(_ODD)
        elif choice < 0.4:
            out[rng.choice(["id", "component", "args", "kwargs", "outputs", "$ref", "extra"])] = \
                rng.choice(_ODD)
        else:
            out[key] = mutate(doc[key], rng, depth + 1)
        return out
    if isinstance(doc, list) and doc and rng.random() < 0.8:
        out = list(doc)
        i = rng.randrange(len(out))
        choice = rng.random()
        if choice < 0.2:
            del out[i]
        elif choice < 0.35:
            out.append(rng.choice(_ODD))
        elif choice < 0.45:
            out.append(out[i])  # duplicates (ids, nodes)
        else:
            out[i] = mutate(out[i], rng, depth + 1)
        return out
    return rng.choice(_ODD + [doc])


def deep(n: int) -> str:
    """A spec whose literal is nested ``n`` levels."""
    doc = base_spec()
    doc["nodes"][0]["kwargs"]["n"] = json.loads("[" * n + "]" * n) if n < 900 else 0
    text = json.dumps(doc)
    return text if n < 900 else text.replace('"n": 0', '"n": ' + "[" * n + "]" * n)


def spec_outcome(text: str | bytes) -> str:
    try:
        pl.Graph.from_json(text) if hasattr(pl.Graph, "from_json") else None
        from pylearn_lab.graph.spec import graph_from_json

        graph_from_json(text)
    except PylearnError:
        return "clear"
    except Exception:  # noqa: BLE001 -- a raw error is the finding
        return "raw"
    return "ok"


WORDS = ["cache", "ls", "clear", "prune", "verify", "info", "trust", "run", "results", "lineage",
         "why", "backend", "serial", "--max-size", "-n", "-o", "--backend", "--no-cache", "--key",
         "--reset", "e", "e.key", "x", "x.prop", "x.real", "nope", "f(1)", "{e}", "$e", "{len(x)}",
         "'", '"', "\\", "\x00", "\udc80", "~nosuchuser/c", "a" * 300, "..", "-", "--", "1abc",
         "a,b", "2GB", "-5", "sub/dir", "🙂"]


def magic_line(rng: random.Random) -> str:
    """A random argument line made of magic words and odd characters."""
    n = rng.randint(0, 5)
    words = [rng.choice(WORDS) for _ in range(n)]
    if words and rng.random() < 0.3:
        i = rng.randrange(len(words))
        words[i] = words[i][: rng.randint(0, len(words[i]))] + rng.choice(["'", '"', "\x00", ""])
    line = " ".join(words)
    # never point the fuzzer at real system paths: they are checked by hand elsewhere
    return line.replace("/", "_") if line.strip().startswith(("cache /", "cache trust /")) else line


class Prop:
    """A namespace value whose property must never run during a look-up."""

    ran = 0

    @property
    def prop(self) -> int:
        Prop.ran += 1
        return 1


def magic_outcome(shell: Any, line: str) -> str:
    from IPython.core.error import UsageError

    import contextlib
    import io

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_line_magic("pylearn", line)
    except PylearnError:
        return "clear"
    except UsageError:
        return "raw"  # a UsageError outside the error tree
    except Exception:  # noqa: BLE001
        return "raw"
    return "ok"

"""``to_code``: the builder's graph as plain Python that rebuilds the same keys.

Each node becomes one assignment ``<name>_<i> = <component>(...)`` in
dependency order; edges are variable names, parameters equal to the default
are left out (the key is the same either way, because calls bind defaults).
Components importable from their module are imported by name; ones defined in
the notebook are used by name (they are already in its namespace); others are
fetched from the registry. The last line names the output(s): ``result =`` or
``results = [...]``.

Examples
--------
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.widgets.builder_model import BuilderModel
>>> @component(category="demo")
... def seed(n: int = 3) -> int:
...     '''A seed.'''
...     return n
>>> m = BuilderModel()
>>> _ = m.add(seed, {"n": 5})
>>> for line in model_to_code(m).splitlines()[-4:]:
...     print(line)
seed = lookup('pylearn_lab.widgets.builder_code.seed')
<BLANKLINE>
seed_1 = seed(n=5)
result = seed_1
"""

from __future__ import annotations

import enum
import importlib
import inspect
import keyword
import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import GraphError
from ..graph.nodes import Ref, iter_refs
from .builder_build import call_arguments

if TYPE_CHECKING:
    from ..graph.component import Component
    from .builder_model import BuilderModel

__all__ = ["model_to_code", "render_literal"]

_P = inspect.Parameter


class _Imports:
    def __init__(self) -> None:
        self.froms: dict[str, set[str]] = {}
        self.plain: set[str] = set()
        self.notes: list[str] = []

    def lines(self) -> list[str]:
        out = sorted(f"import {m}" if " as " not in m else m for m in self.plain)
        out += [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(self.froms.items())]
        return out + self.notes


def _importable(module: str, qual: str, obj: Any) -> bool:
    try:
        target: Any = importlib.import_module(module)
        for part in qual.split("."):
            target = getattr(target, part)
        return target is obj
    except Exception:
        return False


def _component_ref(comp: Component, imports: _Imports) -> str:
    module, _, qual = comp.qualname.rpartition(".")
    if module == "__main__":
        imports.notes.append(f"# {comp.name}: defined in this notebook")
        return qual
    if "<locals>" not in qual and "." not in qual and _importable(module, qual, comp):
        imports.froms.setdefault(module, set()).add(qual)
        return qual
    # Not importable by name (defined in a function, or re-bound): fetch it from the registry.
    imports.froms.setdefault("pylearn_lab.graph", set()).add("lookup")
    name = re.sub(r"\W", "_", comp.name)
    imports.notes.append(f"{name} = lookup({comp.qualname!r})")
    return name


def render_literal(value: Any, names: dict[str, str], imports: _Imports) -> str:
    """Python source for ``value`` (links become the upstream node's variable)."""
    if isinstance(value, Ref):
        return names[value.key]
    if value is None or isinstance(value, (bool, str, bytes)):
        return repr(value)
    if isinstance(value, enum.Enum):
        cls = type(value)
        imports.froms.setdefault(cls.__module__, set()).add(cls.__qualname__.split(".")[0])
        return f"{cls.__qualname__}.{value.name}"
    if isinstance(value, int):
        return repr(int(value)) if type(value) is int else f"{type(value).__name__}({int(value)})"
    if isinstance(value, float) and type(value) is float:
        return repr(value) if math.isfinite(value) else f"float({repr(value)!r})"
    if isinstance(value, np.generic) and value.shape == ():
        imports.plain.add("import numpy as np")
        inner = repr(value.item()) if np.isfinite(value) else f"float({repr(value.item())!r})"
        return f"np.{type(value).__name__}({inner})"
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= 10_000:
        imports.plain.add("import numpy as np")
        body = render_literal(value.tolist(), names, imports)
        return f"np.array({body}, dtype=np.{value.dtype.name})"
    if type(value) is list:
        return "[" + ", ".join(render_literal(v, names, imports) for v in value) + "]"
    if type(value) is tuple:
        items = [render_literal(v, names, imports) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if type(value) is dict:
        pairs = (f"{render_literal(k, names, imports)}: {render_literal(v, names, imports)}"
                 for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise GraphError(
        f"to_code() writes literals (numbers, strings, lists, dicts, tuples, numpy arrays), "
        f"received {type(value).__name__} {value!r:.60}. Produce the value with a component "
        "instead, so it becomes an edge."
    )


def _variable(label: str, used: set[str]) -> str:
    base = re.sub(r"\W", "_", label) or "node"
    if base[0].isdigit() or keyword.iskeyword(base):
        base = "n_" + base
    i = 1
    while f"{base}_{i}" in used:
        i += 1
    used.add(f"{base}_{i}")
    return f"{base}_{i}"


def _render_call(comp: Component, params: dict[str, Any], names: dict[str, str],
                 imports: _Imports, fn: str) -> str:
    sig = comp.signature
    if sig is None:
        args, kwargs = call_arguments(comp, params)
        parts = [render_literal(v, names, imports) for v in args]
        parts += [f"{k}={render_literal(v, names, imports)}" for k, v in kwargs.items()]
        return f"{fn}({', '.join(parts)})"
    kept = {k: v for k, v in params.items() if any(iter_refs(v)) or not _default(sig, k, v)}
    args, kwargs = call_arguments(comp, kept)
    parts = [render_literal(v, names, imports) for v in args]
    parts += [f"{k}={render_literal(v, names, imports)}" for k, v in kwargs.items()]
    return f"{fn}({', '.join(parts)})"


def _default(sig: inspect.Signature, name: str, value: Any) -> bool:
    p = sig.parameters.get(name)
    if p is None or p.default is _P.empty:
        return False
    simple = (bool, int, float, str, type(None))
    return type(value) is type(p.default) and isinstance(value, simple) and value == p.default


def model_to_code(model: BuilderModel) -> str:
    """Python source building ``model``'s graph; the outputs are ``result``/``results``.

    Raises
    ------
    GraphError
        The graph has problems (see ``BuilderModel.problems``) or a literal that
        has no source form.
    """
    model.to_exprs()  # refuse to write code for a graph that cannot run
    from .builder_build import _order

    order, _ = _order(model)
    imports = _Imports()
    names: dict[str, str] = {}
    used: set[str] = set()
    body = []
    for node_id in order:
        node = model.nodes[node_id]
        comp = model.component(node_id)
        assert comp is not None  # to_exprs() checked it
        fn = _component_ref(comp, imports)
        used.add(fn)
        names[node_id] = _variable(comp.name, used)
        body.append(f"{names[node_id]} = {_render_call(comp, node.params, names, imports, fn)}")
    sinks = [names[k] for k in model.sinks()]
    tail = f"result = {sinks[0]}" if len(sinks) == 1 else f"results = [{', '.join(sinks)}]"
    head = ["# Built with pylearn_lab's GraphBuilder; run it, or edit it and run it again."]
    imports.notes = list(dict.fromkeys(imports.notes))
    return "\n".join(head + imports.lines() + [""] + body + [tail]) + "\n"

"""``why(expr)``: why is this not in the cache -- what differs from what is?

For a miss, every stored result of the same component is compared with the
recipe of ``expr`` (its arguments, its input nodes, and the parts of its
function identity: its own code, each helper function's code, defaults,
globals, the version label). The nearest stored recipe -- fewest differences,
then the most recent -- is described in one paragraph, following changed
inputs upstream to say what changed there.

Examples
--------
>>> import tempfile
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.vm.loop import run
>>> from pylearn_lab.cache.cache import Cache
>>> @component
... def fit(lr: float, epochs: int = 10) -> float:
...     return lr * epochs
>>> c = Cache(tempfile.mkdtemp())
>>> _ = run(fit(0.1), cache=c)
>>> w = why(fit(0.3), cache=c)
>>> w.hit, [d.name for d in w.differences]
(False, ['lr'])
>>> "argument `lr` was 0.1, now 0.3" in str(w)
True
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..cache.cache import resolve_cache
from ..cache.records import Record
from ..graph.expr import Expr, short_repr
from ..vm.recipe import recipe

__all__ = ["why", "Explanation", "Difference"]


@dataclass(frozen=True)
class Difference:
    """One way a stored recipe differs from the wanted one.

    ``kind`` is ``"argument"``, ``"input"``, ``"code"`` (the function itself),
    ``"helper"`` (a function it calls), ``"version"`` or ``"other"``; ``name``
    says which (a parameter or a function name); ``text`` is the sentence part;
    ``weight`` counts the elementary differences it stands for (an input counts
    what differs upstream), which is how the nearest recipe is chosen.
    """

    kind: str
    name: str
    old: Any
    new: Any
    text: str
    weight: int = 1


@dataclass
class Explanation:
    """The answer of :func:`why`: ``str()`` is the paragraph."""

    hit: bool
    key: str
    text: str
    nearest: Record | None = None
    differences: list[Difference] = field(default_factory=list)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text


def _owner(part: str, label: str) -> tuple[str, str]:
    """``(owner, sub-part)``: ``"function:m.h:source" -> ("m.h", "source")``; own parts -> ("", part)."""
    if part.startswith("function:"):
        name, _, sub = part[len("function:"):].partition(":")
        return name, sub
    return "", part


def _part_text(sub: str, whose: str) -> str:
    if sub in ("source", "code"):
        return f"the code of {whose}"
    if sub in ("defaults", "kwdefaults"):
        return f"the default argument values of {whose}"
    kind, _, name = sub.partition(":")
    if kind == "closure":
        return f"the closure variable `{name}` of {whose}"
    if kind == "global":
        return f"the global `{name}` read by {whose}"
    if sub == "library":
        return f"the installed library version of {whose}"
    return f"`{sub}` of {whose}"


def _code_diffs(label: str, old: Record, rec: Mapping[str, Any]) -> list[Difference]:
    if old.func_digest == rec["func_digest"]:
        return []
    new_parts, old_parts = rec["func_parts"], old.func_parts
    if "version" in new_parts or "version" in old_parts:
        return [Difference("version", label, old.version, rec["version"],
                           f"the version label of `{label}` was {old.version!r}, now "
                           f"{rec['version']!r}")]
    by_owner: dict[str, list[tuple[str, Any, Any]]] = {}
    for part in sorted(set(new_parts) | set(old_parts)):
        a, b = old_parts.get(part), new_parts.get(part)
        if a != b:
            owner, sub = _owner(part, label)
            by_owner.setdefault(owner, []).append((sub, a, b))
    out: list[Difference] = []
    for owner, subs in by_owner.items():
        whose = f"`{label}`" if not owner else f"helper function `{owner}`"
        if owner and all(a is None for _, a, _ in subs):
            text = f"{whose} is newly called"
        elif owner and all(b is None for _, _, b in subs):
            text = f"{whose} is no longer called"
        else:
            main = [s for s, _, _ in subs if s in ("source", "code")] or [subs[0][0]]
            text = f"{_part_text(main[0], whose)} changed"
        out.append(Difference("helper" if owner else "code", owner or label, None, None, text))
    if not out:  # the record predates function parts: say what we know
        out.append(Difference("code", label, old.version, rec["version"],
                              f"the code of `{label}` changed"))
    first = out[0]
    out[0] = Difference(first.kind, first.name, old.version, rec["version"],
                        f"{first.text} (version {old.version} → {rec['version']})")
    return out


def _arg_diffs(old: Record, rec: Mapping[str, Any]) -> list[Difference]:
    out = []
    new, before = rec["params"], old.params
    for p in list(dict.fromkeys([*new, *before])):
        if p in new and p in before and new[p] == before[p]:
            continue
        if p not in before:
            text = f"argument `{p}` is new (now {short_repr(new[p])})"
        elif p not in new:
            text = f"argument `{p}` was {short_repr(before[p])} and is now fed by another node"
        else:
            text = f"argument `{p}` was {short_repr(before[p])}, now {short_repr(new[p])}"
        out.append(Difference("argument", p, before.get(p), new.get(p), text))
    return out


class _Lookups:
    """Records and recipes fetched once while many stored recipes are compared."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.records: dict[str, Record | None] = {}
        self.recipes: dict[str, dict[str, Any]] = {}

    def record(self, key: str) -> Record | None:
        if key not in self.records:
            self.records[key] = self.store.record(key)
        return self.records[key]

    def recipe(self, expr: Expr) -> dict[str, Any]:
        if expr.key not in self.recipes:
            self.recipes[expr.key] = recipe(expr)
        return self.recipes[expr.key]


def _input_diffs(old: Record, rec: Mapping[str, Any], expr: Expr | None, look: _Lookups,
                 depth: int) -> list[Difference]:
    out = []
    by_key = {e.key: e for e in expr.inputs} if expr is not None else {}
    for p, new_key in rec["inputs"].items():
        old_key = old.inputs.get(p)
        if old_key == new_key:
            continue
        text, weight = f"input `{p}` comes from a different node", 1
        if depth > 0 and isinstance(new_key, str) and isinstance(old_key, str) and new_key in by_key:
            sub_expr = by_key[new_key]
            old_rec = look.record(old_key)
            if old_rec is not None and old_rec.func == sub_expr.component.qualname:
                sub = _diffs(old_rec, look.recipe(sub_expr), sub_expr, look, depth - 1)
                if sub:
                    link = "whose " if sub[0].kind in ("argument", "input") else "where "
                    text = (f"input `{p}` comes from a different `{sub_expr.label}` node, {link}"
                            + "; ".join(d.text for d in sub))
                    weight = sum(d.weight for d in sub)
            elif old_rec is not None:
                text = (f"input `{p}` was made by `{old_rec.label}` and is now made by "
                        f"`{sub_expr.label}`")
        out.append(Difference("input", p, old_key, new_key, text, weight))
    return out


def _diffs(old: Record, rec: Mapping[str, Any], expr: Expr | None, look: _Lookups,
           depth: int) -> list[Difference]:
    return (_code_diffs(rec["label"], old, rec) + _arg_diffs(old, rec)
            + _input_diffs(old, rec, expr, look, depth))


def _when(r: Record) -> str:
    when = _dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M") if r.created else "?"
    where = r.engine or r.host
    return f"computed {when}" + (f" on {where}" if where else "")


def why(expr: Expr, cache: Any = None, depth: int = 3) -> Explanation:
    """Explain whether ``expr`` is cached and, if not, what differs from the nearest stored call.

    Parameters
    ----------
    expr : Expr
        The expression to explain.
    cache : Cache or path, optional
        Which cache (default: the session's).
    depth : int
        How many levels of changed inputs to follow upstream.

    Returns
    -------
    Explanation
        ``.hit``, ``.nearest`` (the stored Record compared with), ``.differences``
        and ``str()`` -- one readable paragraph.
    """
    if not isinstance(expr, Expr):
        raise TypeError(
            f"why() expected an Expr (call a component to make one), received "
            f"{type(expr).__name__}. To inspect a stored key, use lineage(key)."
        )
    store = resolve_cache(cache)
    if store is None:
        raise ValueError("why() compares with the cache, so cache=False has nothing to compare.")
    name = short_repr(expr, 80)
    stored = store.record(expr.key)
    if stored is not None:
        return Explanation(True, expr.key, f"{name} is in the cache (key {expr.key[:8]}, "
                                            f"{_when(stored)}): it will be loaded, not recomputed.",
                           stored)
    rec = recipe(expr)
    candidates = store.records(func=expr.component.qualname)
    if not candidates:
        others = sorted({r.func for r in store.records() if r.label == expr.label})
        hint = (f" Results of a `{expr.label}` from {', '.join(others)} are stored: the module "
                "and name of a function are part of its identity.") if others else ""
        return Explanation(False, expr.key, f"{name} is not in the cache, and no result of "
                           f"`{rec['func']}` is stored in {store.location}: it was never computed "
                           f"with this cache.{hint}")
    look = _Lookups(store)
    compared = [(_diffs(r, rec, expr, look, depth), r) for r in candidates]
    # nearest: fewest elementary differences (counted upstream too), then the most recent
    diffs, nearest = min(compared, key=lambda t: (sum(d.weight for d in t[0]), -t[1].created))
    head = (f"{name} is not in the cache (key {expr.key[:8]}). The nearest stored result of "
            f"`{expr.label}` (key {nearest.key[:8]}, {_when(nearest)}, version {nearest.version}; "
            f"{len(candidates)} stored in all)")
    if diffs:
        text = f"{head} differs in {len(diffs)} way{'s' * (len(diffs) > 1)}: " + "; ".join(
            d.text for d in diffs) + "."
    else:
        text = (f"{head} records the same arguments: they must differ in content the record "
                "only summarises (an array or object argument, shown by type and shape).")
    return Explanation(False, expr.key, text, nearest, diffs)

"""Graph rewrites applied before scheduling (the seed's Theano-style passes).

A rule is a function ``rule(plan) -> plan`` registered with
:func:`register_rewrite`; rules run in registration order on every run. The
plan is plain data (:class:`~pylearn_lab.vm.plan.Plan`): a rule may drop nodes
it knows are unnecessary, or set batching hints. Rules must never change keys
or results: every node is still cached individually.

Built in, for free: identical sub-expressions have identical keys, so they are
one node of the graph and run once.

Examples
--------
>>> calls = []
>>> def note(plan):
...     calls.append(len(plan.order))
...     return plan
>>> _ = register_rewrite(note)
>>> unregister_rewrite(note)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .plan import Plan

__all__ = ["register_rewrite", "unregister_rewrite", "apply_rewrites", "rewrite_rules"]

Rule = Callable[["Plan"], "Plan"]
_RULES: list[Rule] = []


def register_rewrite(rule: Rule) -> Rule:
    """Add ``rule`` (usable as a decorator); returns it."""
    if not callable(rule):
        raise TypeError(f"register_rewrite() expected a function plan -> plan, received {rule!r:.60}")
    if rule not in _RULES:
        _RULES.append(rule)
    return rule


def unregister_rewrite(rule: Rule) -> None:
    """Remove ``rule``."""
    if rule in _RULES:
        _RULES.remove(rule)


def rewrite_rules() -> list[Rule]:
    """The registered rules, in order."""
    return list(_RULES)


def apply_rewrites(plan: "Plan") -> "Plan":
    """Run every rule over ``plan``."""
    for rule in list(_RULES):
        out = rule(plan)
        if out is None:
            raise TypeError(f"rewrite rule {rule!r} returned None; a rule must return the plan")
        plan = out
    return plan

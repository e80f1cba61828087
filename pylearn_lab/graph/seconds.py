"""Checking options given in seconds (timeouts), with one error for all of them.

``run(timeout=, node_timeout=)``, ``component(timeout=)`` and the cluster
backends' timeouts take a number of seconds or None (no limit). A bad value
is refused where it is given, with an
:class:`~pylearn_lab.errors.OptionError` naming the option, what it expects
and what it received -- not later, deep in a watchdog thread.

Examples
--------
>>> check_seconds("node_timeout", 2)
2.0
>>> check_seconds("node_timeout", None) is None
True
>>> check_seconds("node_timeout", -1)
Traceback (most recent call last):
...
pylearn_lab.errors.OptionError: node_timeout= expected a number of seconds > 0 (or None for no limit), received -1 (int). ...
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import OptionError

__all__ = ["check_seconds"]


def check_seconds(option: str, value: Any, *, where: str = "", allow_none: bool = True
                  ) -> float | None:
    """``value`` as float seconds (None stays None when ``allow_none``).

    ``where`` names the call that takes the option (``"component"`` gives
    ``component(timeout=)`` in the message).

    Raises
    ------
    OptionError
        ``value`` is not a finite number > 0: a bool, a string, zero, negative,
        NaN or infinity (say None for no limit).
    """
    if value is None and allow_none:
        return None
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value) and value > 0)
    if not ok:
        none = " (or None for no limit)" if allow_none else ""
        raise OptionError(
            f"{f'{where}({option}=)' if where else f'{option}='} expected a number of seconds > 0{none}, received {value!r:.60} "
            f"({type(value).__name__}). Pass e.g. {option}=30"
            + (", or leave it out." if allow_none else "."))
    return float(value)

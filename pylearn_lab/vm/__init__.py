"""The VM: planning against the cache, the scheduling loop, events, tasks.

Examples
--------
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.vm import run, Recorder
>>> @component
... def seven() -> int:
...     return 7
>>> rec = Recorder()
>>> run(seven(), cache=False, callbacks=[rec])
7
>>> rec.kinds()
['queued', 'started', 'done', 'finished']
"""

from .events import EVENT_KINDS, Callback, Event, Recorder
from .handle import RunHandle
from .loop import run
from .plan import Plan
from .rewrite import apply_rewrites, register_rewrite, rewrite_rules, unregister_rewrite

__all__ = [
    "EVENT_KINDS",
    "Callback",
    "Event",
    "Plan",
    "Recorder",
    "RunHandle",
    "apply_rewrites",
    "register_rewrite",
    "rewrite_rules",
    "run",
    "unregister_rewrite",
]

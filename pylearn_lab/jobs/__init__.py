"""Jobs on top of the VM: the ``call`` proxy and sweeps (grid, random, repeat, k-fold).

Examples
--------
>>> from pylearn_lab.jobs import call
>>> call(max, (3, 9), cache=False).result()
9
"""

from .call import call, check_picklable
from .sweep import (
    SweepPoint,
    SweepResult,
    choice,
    kfold_sweep,
    loguniform,
    randint,
    random_search,
    repeat,
    sweep,
    uniform,
)

__all__ = [
    "call",
    "check_picklable",
    "sweep",
    "random_search",
    "repeat",
    "kfold_sweep",
    "SweepResult",
    "SweepPoint",
    "loguniform",
    "uniform",
    "randint",
    "choice",
]

"""Jobs on top of the VM: the ``call`` proxy (and sweeps).

Examples
--------
>>> from pylearn_lab.jobs import call
>>> call(max, (3, 9), cache=False).result()
9
"""

from .call import call, check_picklable

__all__ = ["call", "check_picklable"]

"""The examples in the magics' docstrings run and show what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import pylearn_lab.magics

MODULES = sorted(m.name for m in pkgutil.iter_modules(pylearn_lab.magics.__path__,
                                                      "pylearn_lab.magics."))


@pytest.mark.parametrize("name", ["pylearn_lab.magics", *MODULES])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

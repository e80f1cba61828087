"""@component(ignore=[...]) and numeric parameters that follow their annotations."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hashing"))
from keyed import TALLY, through_cache

import pylearn_lab as pl
from pylearn_lab.errors import ParameterTypeError, SignatureError


@pl.component(ignore=["verbose", "n_jobs", "progress"])
def fit(x, C: float = 1.0, verbose: bool = False, n_jobs: int = 1, progress=None):
    TALLY.tick()
    if progress is not None:
        progress(x)
    return x * C


@pl.component
def tree(depth: int = 3):
    TALLY.tick()
    return ("depth", depth, type(depth).__name__)


def test_ignored_arguments_share_one_entry_and_still_reach_the_function(tmp_path):
    c = pl.Cache(tmp_path)
    seen = []
    out, n = through_cache(c, fit(2.0, verbose=True, progress=seen.append))
    assert out == 2.0 and n == 1 and seen == [2.0]
    out, n = through_cache(c, fit(2.0, verbose=False, n_jobs=8))
    assert out == 2.0 and n == 0  # verbose/n_jobs/progress do not change the result
    assert fit(2.0, C=2.0).key != fit(2.0).key


def test_an_ignored_argument_never_reaches_the_stored_record(tmp_path):
    c = pl.Cache(tmp_path)
    e = fit(3.0, C=2.0, verbose=True, n_jobs=4)
    pl.run(e, cache=c)
    rec = c.record(e.key) if hasattr(c, "record") else c.lookup(e.key)
    text = repr(rec)
    assert "'C'" in text or '"C"' in text
    assert "verbose" not in text and "n_jobs" not in text


def test_ignore_names_must_be_parameters():
    with pytest.raises(SignatureError, match=r"expected names of its parameters.*'verbos'"):
        @pl.component(ignore=["verbos"])
        def f(x, verbose=False):
            return x


def test_float_annotation_makes_1_and_1_0_one_key(tmp_path):
    c = pl.Cache(tmp_path)
    assert fit(1.0, C=1).key == fit(1.0, C=1.0).key == fit(1.0, C=np.float32(1.0)).key
    out, n = through_cache(c, fit(np.ones(2), C=2))
    assert n == 1
    out2, n = through_cache(c, fit(np.ones(2), C=2.0))
    assert n == 0 and np.array_equal(out, out2)
    with pytest.raises(ParameterTypeError, match="no float equals"):
        fit(1.0, C=2**60 + 1)
    with pytest.raises(ParameterTypeError, match="expected float"):
        fit(1.0, C=True)


def test_int_annotation_accepts_integral_floats_as_int_and_refuses_others(tmp_path):
    c = pl.Cache(tmp_path)
    assert tree(6.0).key == tree(6).key == tree(np.int64(6)).key
    out, n = through_cache(c, tree(6.0))
    assert out == ("depth", 6, "int") and n == 1  # the function receives the int 6
    for bad in (6.5, float("nan"), float("inf"), True, "6"):
        with pytest.raises(ParameterTypeError, match="expected int"):
            tree(bad)

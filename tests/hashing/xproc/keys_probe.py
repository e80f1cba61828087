"""Run in a fresh interpreter: print the keys of a fixed set of values and functions as JSON."""

from __future__ import annotations

import collections
import dataclasses
import enum
import functools
import json
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import pylearn_lab as pl
from pylearn_lab import function_identity, hash_value

WORDS = {"alpha", "beta", "gamma", "delta"}


def helper(x):
    return x in {"a", "b", "c"} or x in frozenset({1.5, 2.5})


def f(x, k=3):
    return [helper(v) for v in x if v not in WORDS] * k


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Cfg:
    tags: frozenset = frozenset({"x", "y", "z"})
    lr: float = 0.1


@pl.component
def comp(data, C: float = 1.0, names=("a",)):
    return data


ns: dict = {"__name__": "probe_exec"}
exec("def g(x):\n    return sorted({'p', 'q', 'r'} | set(x))\n", ns)

values = {
    "set_of_str": {"a", "b", "c", "d", "e"},
    "frozenset": frozenset({"k1", "k2", "k3"}),
    "dict": {"z": 1, "a": 2, "m": {"n": [1, 2]}},
    "odict": collections.OrderedDict([("b", 1), ("a", 2)]),
    "array": np.arange(12.0).reshape(3, 4),
    "frame": pd.DataFrame({"i": [1, 2], "s": ["x", "y"], "c": pd.Categorical(["u", "v"])}),
    "estimator": make_pipeline(StandardScaler(), LogisticRegression(C=0.5)),
    "enum": Color.RED,
    "dataclass": Cfg(),
    "partial": functools.partial(f, k=2),
}
out = {name: hash_value(v) for name, v in values.items()}
out["fn:f"] = function_identity(f).digest
out["fn:exec_g"] = function_identity(ns["g"]).digest
out["fn:np.mean"] = function_identity(np.mean).digest
out["expr"] = comp(np.ones(3), C=2, names=("a", "b")).key
json.dump(out, sys.stdout, sort_keys=True)

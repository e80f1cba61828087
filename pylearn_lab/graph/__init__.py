"""Expression graphs: components, lazy expressions, plain-data graphs.

Examples
--------
>>> from pylearn_lab.graph import component, pipeline
>>> @component
... def two() -> int:
...     return 2
>>> two().compute(cache=False)
2
"""

from .component import Component, as_component, component
from .expr import Expr
from .graph import Graph
from .nodes import Call, Ref
from .params import Bounds, ParamSpec, param_specs
from .pipeline import pipeline
from .registry import all_components, lookup

__all__ = [
    "Bounds",
    "Call",
    "Component",
    "Expr",
    "Graph",
    "ParamSpec",
    "Ref",
    "all_components",
    "as_component",
    "component",
    "lookup",
    "param_specs",
    "pipeline",
]

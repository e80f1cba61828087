"""The package surface: every exported component is registered, documented and callable bare."""

from __future__ import annotations

import inspect
import pickle

import pytest

from pylearn_lab import components
from pylearn_lab.graph.component import Component
from pylearn_lab.graph.expr import Expr
from pylearn_lab.graph.registry import all_components

VALUES = {"Dataset", "Split", "Model"}
HELPERS = {"kfold_splits"}
EXPECTED = {
    "datasets": {"load_iris", "make_blobs", "make_moons", "make_classification"},
    "preprocessing": {"standardize", "pca", "select_features"},
    "splits": {"train_test_split", "kfold"},
    "models": {"logistic_regression", "mlp", "kmeans", "predict", "predict_proba"},
    "metrics": {"accuracy", "log_loss", "evaluate"},
    "plots": {"plot_history", "plot_scatter", "plot_decision_map"},
}
COMPONENTS = sorted(set(components.__all__) - VALUES - HELPERS)


def test_all_lists_exactly_the_expected_names() -> None:
    assert set(COMPONENTS) == set().union(*EXPECTED.values())
    assert len(components.__all__) == len(set(components.__all__))
    for name in HELPERS | VALUES:
        assert not isinstance(getattr(components, name), Component)


@pytest.mark.parametrize("name", COMPONENTS)
def test_component_is_registered_with_category_summary_and_example(name: str) -> None:
    comp = getattr(components, name)
    assert isinstance(comp, Component)
    assert comp in all_components()
    assert name in EXPECTED[comp.category]
    assert comp.summary and not comp.summary.endswith(",") and "``" not in comp.summary
    doc = inspect.getdoc(comp.fn) or ""
    assert ">>> " in doc and "Examples" in doc
    assert name in (components.__doc__ or "")
    assert pickle.loads(pickle.dumps(comp)) is comp  # travels to workers by name


@pytest.mark.parametrize("name", COMPONENTS)
def test_component_builds_with_only_its_data_inputs(name: str) -> None:
    comp = getattr(components, name)
    data_inputs = [p for p in comp.params if p.required]
    assert all(p.kind == "any" for p in data_inputs)  # everything else has a default
    for p in comp.params:
        if not p.required:
            assert p.kind in {"int", "float", "bool", "str", "choice"}, (name, p)
    upstream = components.train_test_split(components.load_iris())
    args = [components.logistic_regression(upstream) if p.name == "model" else upstream
            for p in data_inputs]
    assert isinstance(comp(*args), Expr)

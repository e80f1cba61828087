"""why(): the nearest stored recipe, and exactly what differs, in one paragraph."""

from __future__ import annotations

import pytest

import pylearn_lab as pl
from pylearn_lab.experiments import why

HELPERS = """
    from pylearn_lab import component


    def rescale(x):
        return x * 2


    @component
    def fit(x: float, lr: float = 0.1) -> float:
        return rescale(x) * lr
    """


@pl.component
def load(n: int = 5) -> list:
    return list(range(n))


@pl.component
def train(xs: list, lr: float = 0.1, epochs: int = 10) -> float:
    return sum(xs) * lr * epochs


def test_a_changed_argument_is_named_with_old_and_new_values(tmp_path):
    cache = pl.Cache(tmp_path)
    pl.run([train(load(), lr=0.1), train(load(), lr=0.1, epochs=50)], cache=cache)
    w = why(train(load(), lr=0.2), cache=cache)
    assert not w.hit
    assert [(d.kind, d.name, d.old, d.new) for d in w.differences] == [("argument", "lr", 0.1, 0.2)]
    assert w.nearest is not None and w.nearest.params == {"lr": 0.1, "epochs": 10}
    text = str(w)
    assert "argument `lr` was 0.1, now 0.2" in text and "\n" not in text
    assert "differs in 1 way" in text and w.nearest.key[:8] in text


def test_a_changed_helper_function_is_named(modules, tmp_path):
    cache = pl.Cache(tmp_path / "c")
    mod = modules.write(HELPERS)
    pl.run(mod.fit(3.0), cache=cache)
    assert why(mod.fit(3.0), cache=cache).hit
    mod = modules.rewrite(mod, HELPERS.replace("x * 2", "x * 3  # tripled"))
    assert mod.fit.fn(3.0) == pytest.approx(0.9)  # the reloaded module really changed
    w = why(mod.fit(3.0), cache=cache)
    assert not w.hit
    assert [(d.kind, d.name) for d in w.differences] == [("helper", f"{mod.__name__}.rescale")]
    text = str(w)
    assert f"the code of helper function `{mod.__name__}.rescale` changed" in text
    assert "argument" not in text and "version" in text


def test_a_changed_input_is_followed_upstream(tmp_path):
    cache = pl.Cache(tmp_path)
    pl.run(train(load(n=5)), cache=cache)
    w = why(train(load(n=6)), cache=cache)
    assert [(d.kind, d.name) for d in w.differences] == [("input", "xs")]
    assert "input `xs` comes from a different `load` node, whose argument `n` was 5, now 6" \
        in str(w)


def test_a_version_label_change_is_named(tmp_path):
    cache = pl.Cache(tmp_path)

    @pl.component(version="1")
    def step(x: int) -> int:
        return x + 1

    pl.run(step(1), cache=cache)

    @pl.component(version="2")
    def step(x: int) -> int:
        return x + 1

    w = why(step(1), cache=cache)
    assert [(d.kind, d.old, d.new) for d in w.differences] == [("version", "1", "2")]
    assert "version label" in str(w)


def test_the_nearest_recipe_is_the_one_with_fewest_differences(tmp_path):
    cache = pl.Cache(tmp_path)
    pl.run([train(load(), lr=0.5, epochs=99), train(load(), lr=0.3, epochs=10)], cache=cache)
    w = why(train(load(), lr=0.3, epochs=11), cache=cache)
    assert w.nearest is not None and w.nearest.params["lr"] == 0.3
    assert [d.name for d in w.differences] == ["epochs"]


def test_hits_and_never_computed_components(tmp_path):
    cache = pl.Cache(tmp_path)
    pl.run(load(3), cache=cache)
    hit = why(load(3), cache=cache)
    assert hit.hit and "is in the cache" in str(hit)
    never = why(train(load(3)), cache=cache)
    assert not never.hit and never.nearest is None and "never computed" in str(never)
    with pytest.raises(TypeError, match="lineage"):
        why("not an expr", cache=cache)  # type: ignore[arg-type]


@pl.component
def report(value: float) -> float:
    return round(value, 3)


def test_differences_upstream_count_when_choosing_the_nearest(tmp_path):
    cache = pl.Cache(tmp_path)
    pl.run(report(train(load(), lr=0.1, epochs=10)), cache=cache)
    pl.run(report(train(load(), lr=0.9, epochs=99)), cache=cache)  # more recent, further away
    w = why(report(train(load(), lr=0.1, epochs=11)), cache=cache)
    assert w.nearest is not None
    assert cache.record(w.nearest.inputs["value"]).params["epochs"] == 10
    assert [(d.kind, d.weight) for d in w.differences] == [("input", 1)]
    assert "whose argument `epochs` was 10, now 11" in str(w)

"""The values that flow between components: :class:`Dataset`, :class:`Split`, :class:`Model`.

Every component takes and returns one of these (or plain numbers, arrays and
figures), so any output can feed the next input in the graph builder. They are
frozen dataclasses of numpy arrays and plain Python values: they pickle, they
hash canonically (cache keys) and their ``repr`` is one short line.

A component that receives a :class:`Split` fits on ``split.train`` and, when it
evaluates or predicts, uses ``split.test``: :func:`train_part` and
:func:`eval_part` say which part that is, in one place.

Examples
--------
>>> import numpy as np
>>> ds = Dataset(np.zeros((4, 2)), np.array([0, 1, 0, 1]), ("a", "b"), ("no", "yes"), "toy")
>>> ds
Dataset('toy', 4 samples x 2 features, 2 classes)
>>> Split(ds.take([0, 1]), ds.take([2, 3])).test
Dataset('toy', 2 samples x 2 features, 2 classes)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["Dataset", "Split", "Model", "train_part", "eval_part", "labels_of", "check_model"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A table of samples: features ``X`` (n x d floats) and optional labels ``y``.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        The features, as floats.
    y : ndarray of shape (n_samples,) or None
        Integer class codes ``0 .. len(target_names) - 1`` (``None`` when unlabelled).
    feature_names : tuple of str
        One name per column of ``X``.
    target_names : tuple of str
        The class name of each code in ``y`` (empty when unlabelled).
    name : str
        A short label for displays.
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    name: str

    def __post_init__(self) -> None:
        X = np.asarray(self.X, dtype=float)
        if X.ndim != 2:
            raise DataError(
                f"Dataset {self.name!r}: expected X as a 2-D array (samples x features), "
                f"received shape {X.shape}. Reshape it, e.g. X.reshape(-1, 1) for one feature."
            )
        y = None if self.y is None else np.asarray(self.y)
        if y is not None and y.shape != (X.shape[0],):
            raise DataError(
                f"Dataset {self.name!r}: expected y of shape ({X.shape[0]},) to match X, "
                f"received {y.shape}. Pass one label per row of X."
            )
        names = tuple(str(n) for n in self.feature_names)
        if len(names) != X.shape[1]:
            raise DataError(
                f"Dataset {self.name!r}: expected {X.shape[1]} feature names, received "
                f"{len(names)}. Pass one name per column of X."
            )
        # frozen: the coerced values are set once, here, and never again
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "feature_names", names)
        object.__setattr__(self, "target_names", tuple(str(n) for n in self.target_names))

    @property
    def n_samples(self) -> int:
        """Number of rows of ``X``."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of columns of ``X``."""
        return int(self.X.shape[1])

    def take(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """The rows ``indices`` (in that order) as a new Dataset."""
        idx = np.asarray(indices, dtype=int)
        return replace(self, X=self.X[idx], y=None if self.y is None else self.y[idx])

    def with_features(self, X: np.ndarray, feature_names: Sequence[str]) -> Dataset:
        """The same samples and labels with new features (what transforms return)."""
        return replace(self, X=X, feature_names=tuple(feature_names))

    def __repr__(self) -> str:
        labels = "unlabelled" if self.y is None else f"{len(self.target_names)} classes"
        return (f"Dataset({self.name!r}, {self.n_samples} samples x {self.n_features} features, "
                f"{labels})")


@dataclass(frozen=True, eq=False)
class Split:
    """A train part and a test part of one dataset (disjoint samples).

    Transforms fit on ``train`` and apply to both; models train on ``train``;
    metrics and predictions use ``test``.
    """

    train: Dataset
    test: Dataset

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            if not isinstance(getattr(self, part), Dataset):
                raise DataError(
                    f"Split: expected {part} to be a Dataset, received "
                    f"{type(getattr(self, part)).__name__}. Build splits with train_test_split "
                    "or kfold."
                )

    def __repr__(self) -> str:
        return f"Split(train={self.train!r}, test={self.test!r})"


@dataclass(frozen=True, eq=False)
class Model:
    """A trained model: what kind it is, its learned arrays and how training went.

    Attributes
    ----------
    kind : str
        The component that made it, e.g. ``"logistic_regression"``, ``"mlp"``, ``"kmeans"``.
    params : dict of str to ndarray
        The learned arrays (weights, biases, centers).
    classes : ndarray
        The label codes, in the order of the model's output columns.
    history : dict of str to list of float
        One value per epoch (or iteration) for each tracked quantity, e.g. ``"loss"``.
    settings : dict
        The hyper-parameters used, plus anything needed to apply the model.
    """

    kind: str
    params: dict[str, np.ndarray]
    classes: np.ndarray
    history: dict[str, list[float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        """Number of input features the model expects."""
        return int(self.settings["n_features"])

    def __repr__(self) -> str:
        steps = max((len(v) for v in self.history.values()), default=0)
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        tail = f", {steps} steps, {last}" if steps else ""
        return (f"Model({self.kind!r}, {self.n_features} features, "
                f"{len(self.classes)} classes{tail})")


def train_part(data: Any, who: str) -> Dataset:
    """The part a component fits on: the Dataset itself, or ``split.train``."""
    if isinstance(data, Split):
        return data.train
    if isinstance(data, Dataset):
        return data
    raise DataError(
        f"{who}: expected a Dataset or a Split, received {type(data).__name__}. Feed it the "
        "output of a dataset component (e.g. load_iris()) or of a split (train_test_split)."
    )


def eval_part(data: Any, who: str) -> Dataset:
    """The part a component predicts on or scores: the Dataset itself, or ``split.test``."""
    if isinstance(data, Split):
        return data.test
    return train_part(data, who)


def labels_of(ds: Dataset, who: str) -> np.ndarray:
    """``ds.y`` as integer codes; a clear error when the dataset is unlabelled."""
    if ds.y is None:
        raise DataError(
            f"{who}: expected a labelled dataset, received {ds!r} with y=None. Use a labelled "
            "dataset, or an unsupervised component such as kmeans."
        )
    return ds.y.astype(int, copy=False)


def check_model(model: Any, ds: Dataset, who: str) -> Model:
    """Check that ``model`` is a Model that can be applied to ``ds``'s features."""
    if not isinstance(model, Model):
        raise DataError(
            f"{who}: expected a Model, received {type(model).__name__}. Feed it the output "
            "of a model component (logistic_regression, mlp, kmeans)."
        )
    if ds.n_features != model.n_features:
        raise DataError(
            f"{who}: the model was trained on {model.n_features} features, received {ds!r}. "
            "Apply the same preprocessing to the data you predict on as to the training data."
        )
    return model

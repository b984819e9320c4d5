"""The systems of the paper's Table 2 by name: one registry for reproduce, cross_corpus, the audit and the tests.

    SYSTEMS             majority, rf-egemaps, dense, lstm, dense1+dense2, dense1+lstm2
    FEATURES[name]      what it reads: None, "egemaps" ((n, 88) functionals) or "layer1" (a list of
                        per-utterance (frames, 2048) DeepSpeech layer-1 arrays)
    make(name, seed, settings)  an unfitted estimator: fit(X, y, groups) -> self, predict_proba(X) -> (n, 4)
    Settings            everything besides the seed that changes a system's numbers; the defaults
                        are the ones ``python -m ser_ref.reproduce`` uses (Settings.quick(): --quick)

``groups`` are the training utterances' speakers: the networks hold out whole speakers for early
stopping and split them into halves for the two-stage models. Every statistic (standardisation,
class weights) comes from the training utterances only.

>>> import numpy as np
>>> X, y = np.array([[0.0], [1.0], [2.0]]), np.array([2, 2, 0])
>>> make("majority").fit(X, y).predict_proba(np.zeros((2, 1))).tolist()
[[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..corpora import LABELS
from ..errors import NotFittedError, SerRefError
from ..runtime.params import Params

N_CLASSES = len(LABELS)  # the paper's four emotions, in corpora.LABELS' order
FEATURES = {"majority": None, "rf-egemaps": "egemaps", "dense": "layer1", "lstm": "layer1",
            "dense1+dense2": "layer1", "dense1+lstm2": "layer1"}
SYSTEMS = tuple(FEATURES)
TWO_STAGE = ("dense1+dense2", "dense1+lstm2")  # they share one Dense1 per training set


@dataclass(frozen=True)
class Settings:
    """Everything besides the seed that changes a system's numbers (hashed into the resume key)."""

    seed: int = 0                 # the run's seed; split i trains with seed + i (splits.fold_seed)
    device: str = "cpu"
    rf_trees: int = 1000
    rf_depth: int = 10
    chunk_len: int = 20
    nn_config: str | dict = field(default_factory=dict)  # "quick", or TrainConfig fields

    @classmethod
    def quick(cls, **kw) -> "Settings":
        """The reduced settings of ``--quick``: 100 trees, the networks' QUICK training config."""
        return cls(rf_trees=100, nn_config="quick", **kw)

    def with_chunk(self, chunk_len: int) -> "Settings":
        return replace(self, chunk_len=int(chunk_len))


def check_names(names) -> list[str]:
    """The names, in order, or one SerRefError naming the first that is not a system."""
    names = list(names)
    for n in names:
        if n not in FEATURES:
            raise SerRefError(f"unknown system {n!r}; expected one of {', '.join(SYSTEMS)}")
    return names


def _fitted(estimator, attr: str):
    """The estimator's fitted ``attr``, or a NotFittedError (scikit-learn's convention)."""
    if not hasattr(estimator, attr):
        raise NotFittedError(f"this {type(estimator).__name__} is not fitted yet: call fit(X, y) before predicting")
    return getattr(estimator, attr)


class Majority(Params):
    """The most frequent training class for every utterance (ties: the lowest class index); ``label_``.

    >>> Majority().fit(None, [1, 3, 3]).label_
    3
    """

    def fit(self, X, y, groups=None):
        self.label_ = int(np.argmax(np.bincount(np.asarray(y), minlength=N_CLASSES)))
        return self

    def predict_proba(self, X):
        return np.eye(N_CLASSES)[np.full(len(X), _fitted(self, "label_"))]


class ForestOnFunctionals(Params):
    """The paper's baseline: a random forest (1000 trees, depth <= 10) on the eGeMAPS functionals.

    ``fit`` grows ``forest_`` (a ``ser_ref.forest.random_forest.RandomForest`` with these parameters),
    which also carries save/load.

    >>> X, y = np.eye(4), np.arange(4)
    >>> ForestOnFunctionals(n_trees=3, seed=1).fit(X, y).forest_.get_params()["n_trees"]
    3
    """

    def __init__(self, *, seed=0, n_trees=1000, max_depth=10, device="cpu"):
        self.seed, self.n_trees, self.max_depth, self.device = seed, n_trees, max_depth, device

    def fit(self, X, y, groups=None):
        from ..forest.random_forest import RandomForest

        forest = RandomForest(n_trees=self.n_trees, max_depth=self.max_depth, seed=self.seed, n_classes=N_CLASSES,
                              device=self.device)
        self.forest_ = forest.fit(np.asarray(X), np.asarray(y))
        return self

    def predict_proba(self, X):
        return _fitted(self, "forest_").predict_proba(np.asarray(X))


def make(name: str, seed: int = 0, settings: Settings = Settings()):
    """An unfitted estimator of system ``name`` with model seed ``seed`` (see the module docstring)."""
    check_names([name])
    if name == "majority":
        return Majority()
    if name == "rf-egemaps":
        return ForestOnFunctionals(seed=seed, n_trees=settings.rf_trees, max_depth=settings.rf_depth,
                                   device=settings.device)
    from ..nn import MODELS

    params = {"chunk_len": settings.chunk_len} if name in TWO_STAGE else {}
    return MODELS[name](seed=seed, device=settings.device, config=settings.nn_config, **params)


def fit_predict(name: str, X_train, y_train, X_test, seed: int = 0, settings: Settings = Settings(),
                groups=None) -> np.ndarray:
    """Class probabilities (len(X_test), 4) of system ``name`` trained on (X_train, y_train)."""
    return np.asarray(make(name, seed, settings).fit(X_train, y_train, groups).predict_proba(X_test))


def fit_predict_labels(X_train, y_train, X_test, seed, name: str, settings: Settings = Settings()):
    """``evaluate.run_loso``'s signature: predicted labels (use with functools.partial(name=...))."""
    return np.argmax(fit_predict(name, X_train, y_train, X_test, seed, settings), axis=1)

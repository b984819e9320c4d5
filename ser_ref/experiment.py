"""The rows of the paper's Table 2 and the work of one leave-one-speaker-out fold for each.

A fold task is a top-level function of plain data (feature file paths, labels, indices, a seed),
so any executor can run it and its result depends only on its arguments: re-running an interrupted
experiment recomputes exactly the missing folds, with identical numbers.

Preprocessing statistics are fitted on the fold's training speakers only: the neural models
standardise layer-1 features with the mean and std of their training frames (``ser_ref.nn``), and the
forest needs no scaling.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

# The paper's Table 2 (IEMOCAP, improvised, 4 classes, LOSO accuracy in %).
PAPER_ACCURACY = {
    "majority": 34,
    "rf-egemaps": 67,
    "dense": 58,
    "lstm": 7,
    "dense1+dense2": 26,
    "dense1+lstm2": 66,
}
ROWS = tuple(PAPER_ACCURACY)
NN_ROWS = ("dense", "lstm", "dense1+dense2", "dense1+lstm2")
ROW_TITLES = {
    "majority": "Majority class",
    "rf-egemaps": "Random Forest on eGeMAPS",
    "dense": "Dense (per frame)",
    "lstm": "LSTM",
    "dense1+dense2": "Dense1 + Dense2",
    "dense1+lstm2": "Dense1 + LSTM2",
}


@dataclass(frozen=True)
class Settings:
    """Everything that changes a fold's numbers (hashed into the resume key)."""

    seed: int = 0
    device: str = "cpu"
    rf_trees: int = 1000
    rf_depth: int = 10
    chunk_len: int = 20
    nn_config: str | dict = field(default_factory=dict)  # "quick", or TrainConfig fields


def fold_seed(seed: int, fold_index: int) -> int:
    """Fold i's seed is seed + i, as in ``evaluate.run_loso``: independent of execution order, so
    parallel, serial and resumed runs agree.

    Examples
    --------
    >>> [fold_seed(7, i) for i in range(3)]
    [7, 8, 9]
    """
    return seed + fold_index


def timed_fold(*args, **kwargs):
    """``run_fold`` and the seconds it took in the worker: (probabilities, seconds).

    Examples
    --------
    >>> data = {"y": np.array([0, 0, 1, 2]), "speakers": np.array(["a", "a", "b", "b"])}
    >>> proba, seconds = timed_fold("majority", data, [0, 1], [2, 3], 0, Settings())
    >>> proba.shape, seconds >= 0
    ((2, 4), True)
    """
    t0 = time.perf_counter()
    proba = run_fold(*args, **kwargs)
    return proba, time.perf_counter() - t0


def run_fold(row: str, data: dict, train_idx, test_idx, seed: int, settings: Settings) -> np.ndarray:
    """Class probabilities (len(test_idx), 4) for the test speaker's utterances.

    ``data`` holds ``y`` and ``speakers`` (arrays over all utterances) plus ``egemaps`` (n, 88) for the
    RF row or ``layer1`` (list of .npy paths, one per utterance) for the neural rows.

    Examples
    --------
    >>> data = {"y": np.array([0, 0, 1, 2]), "speakers": np.array(["a", "a", "b", "b"])}
    >>> run_fold("majority", data, [0, 1], [2, 3], 0, Settings())      # one-hot of the majority class
    array([[1., 0., 0., 0.],
           [1., 0., 0., 0.]])
    """
    y, speakers = np.asarray(data["y"]), np.asarray(data["speakers"])
    train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)
    n_classes = 4
    if row == "majority":
        from .evaluate import majority_fit_predict

        return np.eye(n_classes)[majority_fit_predict(None, y[train_idx], test_idx)]
    if row == "rf-egemaps":
        from .forest import RandomForest

        X = np.asarray(data["egemaps"])
        rf = RandomForest(n_trees=settings.rf_trees, max_depth=settings.rf_depth, seed=seed, n_classes=n_classes)
        return rf.fit(X[train_idx], y[train_idx]).predict_proba(X[test_idx], device=settings.device)
    if row in NN_ROWS:
        from .nn import MODELS

        feats = [np.load(p, mmap_mode="r") for p in data["layer1"]]
        params = {"chunk_len": settings.chunk_len} if row in ("dense1+dense2", "dense1+lstm2") else {}
        model = MODELS[row](seed=seed, device=settings.device, config=settings.nn_config, **params)
        model.fit([feats[i] for i in train_idx], y[train_idx], groups=speakers[train_idx])
        return np.asarray(model.predict_proba([feats[i] for i in test_idx]))
    raise ValueError(f"unknown row {row!r}; expected one of {ROWS}")

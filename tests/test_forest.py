"""The random-forest estimator (ser_ref.forest.random_forest): known answers, determinism, scikit-learn's conventions
(arguments kept as given, fitted attributes with a trailing underscore, one validation, NotFittedError)
and errors that name the argument. The CART math itself: tests/test_cart.py."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.forest.cart import LEAF, Trees
from ser_ref.errors import BackendError, NotFittedError, SerRefError
from ser_ref.forest.random_forest import RandomForest, check_X, check_X_y

FITTED = ("trees_", "n_classes_", "classes_", "n_features_in_")


def _max_depth(trees):
    """The deepest node of any tree, walking each from its root."""
    deepest, stack = 0, [(root, 0) for root in trees.roots]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if trees.left[node] != LEAF:
            stack += [(trees.left[node], d + 1), (trees.right[node], d + 1)]
    return deepest


def test_single_informative_feature(rng):
    X = rng.normal(size=(400, 6))
    y = (X[:, 2] > 0.3).astype(int)
    rf = RandomForest(n_trees=50, max_depth=4, seed=1).fit(X, y)
    Xt = rng.normal(size=(500, 6))
    assert np.mean(rf.predict(Xt) == (Xt[:, 2] > 0.3)) > 0.97
    # with every feature on offer, each root splits on feature 2 near 0.3
    stumps = RandomForest(n_trees=20, max_depth=1, max_features=None, seed=2).fit(X, y)
    roots = stumps.trees_.roots
    assert np.all(stumps.trees_.feature[roots] == 2)
    assert np.all(np.abs(stumps.trees_.threshold[roots] - 0.3) < 0.1)


def test_xor_needs_depth(rng):
    X = rng.uniform(-1, 1, size=(600, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    Xt = rng.uniform(-1, 1, size=(500, 2))
    yt = ((Xt[:, 0] > 0) ^ (Xt[:, 1] > 0)).astype(int)
    rf = RandomForest(n_trees=30, max_depth=6, max_features=None, seed=0).fit(X, y)
    assert np.mean(rf.predict(Xt) == yt) > 0.95


def test_separable_blobs_probabilities(rng):
    centers = rng.normal(scale=10, size=(4, 5))
    y = np.repeat(np.arange(4), 50)
    X = centers[y] + rng.normal(size=(200, 5))
    rf = RandomForest(n_trees=40, seed=3).fit(X, y)
    yt = np.repeat(np.arange(4), 25)
    Xt = centers[yt] + rng.normal(size=(100, 5))
    p = rf.predict_proba(Xt)
    assert p.shape == (100, 4)
    assert np.all(p >= 0) and np.allclose(p.sum(1), 1.0)
    assert np.array_equal(rf.predict(Xt), yt)
    # every node's class frequencies sum to 1, and no tree exceeds max_depth
    assert np.allclose(rf.trees_.value.sum(1), 1.0)
    assert _max_depth(rf.trees_) <= 10


def test_same_seed_same_forest_any_thread_count(rng):
    X = rng.normal(size=(250, 12))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    a = RandomForest(n_trees=30, seed=7, n_jobs=1).fit(X, y)
    b = RandomForest(n_trees=30, seed=7, n_jobs=-1).fit(X, y)
    c = RandomForest(n_trees=30, seed=8).fit(X, y)
    for name in Trees._fields:
        assert np.array_equal(getattr(a.trees_, name), getattr(b.trees_, name)), name
    assert not (len(a.trees_.feature) == len(c.trees_.feature) and np.array_equal(a.trees_.threshold,
                                                                                  c.trees_.threshold))


def test_n_classes_keeps_missing_class_column(rng):
    X = rng.normal(size=(60, 3))
    y = rng.integers(0, 3, 60)  # class 3 absent from training
    p = RandomForest(n_trees=5, seed=0, n_classes=4).fit(X, y).predict_proba(X)
    assert p.shape == (60, 4) and np.all(p[:, 3] == 0)


def test_not_fitted_error_names_the_estimator_and_says_fit():
    rf = RandomForest(n_trees=2)
    for call, action in ((lambda: rf.predict_proba(np.zeros((2, 2))), "predict_proba"),
                         (lambda: rf.predict(np.zeros((2, 2))), "predict"),
                         (lambda: rf.save("never-written.npz"), "save")):
        with pytest.raises(NotFittedError) as e:
            call()
        assert str(e.value) == f"this RandomForest is not fitted yet: call fit(X, y) before {action}"
    assert isinstance(e.value, SerRefError) and isinstance(e.value, ValueError)
    assert not any(hasattr(rf, a) for a in FITTED)


def test_constructor_keeps_arguments_and_fit_learns_underscored_attributes(rng):
    args = dict(n_trees=np.int64(3), max_depth=4, min_samples_leaf=2, max_features=0.5, seed=np.uint32(9),
                n_jobs=1, n_classes=None, bootstrap=1, device="cpu")
    rf = RandomForest(**args)
    assert all(getattr(rf, k) is v for k, v in args.items())  # stored unchanged, not even converted
    X = rng.normal(size=(50, 6))
    y = rng.integers(0, 3, 50)
    y[0] = 2
    assert rf.fit(X, y) is rf
    assert all(getattr(rf, k) is v for k, v in args.items())  # fit leaves them as they were, too
    assert isinstance(rf.trees_, Trees) and len(rf.trees_.roots) == 3
    assert rf.n_classes_ == 3 and rf.n_features_in_ == 6 and np.array_equal(rf.classes_, [0, 1, 2])
    assert rf.trees_.value.shape[1] == rf.n_classes_
    assert set(rf.predict(X)) <= set(rf.classes_.tolist())
    # a second fit replaces what the first learned
    rf.fit(X[:, :2], np.minimum(y, 1))
    assert rf.n_features_in_ == 2 and rf.n_classes_ == 2 and np.array_equal(rf.classes_, [0, 1])


@pytest.mark.parametrize("name,bad,message", [
    ("n_trees", 0, "n_trees must be an integer >= 1, got 0"),
    ("n_trees", 2.5, "n_trees must be an integer >= 1, got 2.5"),
    ("max_depth", -1, "max_depth must be None or an integer >= 0, got -1"),
    ("min_samples_leaf", 0, "min_samples_leaf must be an integer >= 1, got 0"),
    ("seed", -3, "seed must be an integer >= 0, got -3"),
    ("n_classes", 0, "n_classes must be None or an integer >= 1, got 0"),
    ("n_jobs", 0, "n_jobs must be None, -1 or >= 1, got 0"),
    ("max_features", "cube", "max_features must be 'sqrt', 'log2', None, an int or a fraction, got 'cube'"),
    ("max_features", 4, r"max_features=4 must be in \[1, 3\]"),
])
def test_bad_argument_is_named_at_fit(name, bad, message):
    rf = RandomForest(**{"n_trees": 1, name: bad})  # the constructor only stores it
    with pytest.raises(SerRefError, match=f"^{message}$"):
        rf.fit(np.eye(3), np.array([0, 1, 2]))
    assert not hasattr(rf, "trees_")


def test_bad_data_is_named():
    with pytest.raises(SerRefError, match="^X: 1 NaN/inf values$"):
        RandomForest(n_trees=2).fit(np.array([[0.0, np.nan], [1.0, 2.0]]), np.array([0, 1]))
    with pytest.raises(SerRefError, match=r"^X: expected a non-empty 2-D array"):
        check_X(np.zeros(3))
    with pytest.raises(SerRefError, match=r"^X: not a numeric array"):
        check_X([["a", "b"]])
    with pytest.raises(SerRefError, match=r"^y: expected shape \(3,\) to match X, got \(2,\)$"):
        check_X_y(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(SerRefError, match="^y: labels must be non-negative integers"):
        check_X_y(np.zeros((2, 2)), np.array([0.5, 1.0]))
    with pytest.raises(SerRefError, match="^y: labels must be non-negative integers"):
        check_X_y(np.zeros((2, 2)), np.array([0, -1]))
    with pytest.raises(SerRefError, match=r"^y: label 3 >= n_classes=2$"):
        RandomForest(n_trees=1, n_classes=2).fit(np.zeros((2, 1)), np.array([0, 3]))
    rf = RandomForest(n_trees=2).fit(np.eye(3), np.array([0, 1, 2]))
    with pytest.raises(SerRefError, match="^X: has 4 features, the forest was fitted on 3$"):
        rf.predict(np.zeros((1, 4)))


def test_gpu_without_a_gpu_is_a_clear_error_at_fit_and_at_predict(rng):
    from ser_ref.runtime.backend import gpu_available

    if gpu_available():
        pytest.skip("a CUDA device is present: the no-GPU error path cannot be exercised here")
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    rf = RandomForest(n_trees=3, max_depth=2, seed=0, device="gpu")  # stored, not checked
    with pytest.raises(BackendError, match="gpu|CuPy|CUDA"):
        rf.fit(X, y)
    assert not hasattr(rf, "trees_")
    rf = RandomForest(n_trees=3, max_depth=2, seed=0).fit(X, y).set_params(device="gpu")  # a forest moved later
    with pytest.raises(BackendError, match="gpu|CuPy|CUDA"):
        rf.predict_proba(X)


def test_an_unknown_device_is_refused_not_taken_for_the_cpu():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    with pytest.raises(BackendError, match="device must be one of .*got 'cuda'"):
        RandomForest(n_trees=2, device="cuda").fit(X, np.array([0, 0, 1, 1]))
    rf = RandomForest(n_trees=2).fit(X, np.array([0, 0, 1, 1])).set_params(device="cuda")
    with pytest.raises(BackendError, match="device must be one of .*got 'cuda'"):
        rf.predict_proba(X)

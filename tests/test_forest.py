"""Random forest: known answers, the Numba kernels against plain references, determinism, errors."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import needs

from ser_ref import forest
from ser_ref.errors import SerRefError
from ser_ref.forest import LEAF, RandomForest


def _depths(rf):
    """Depth of every node, walking each tree from its root."""
    depth = np.full(len(rf.feature), -1)
    for root in rf.roots:
        stack = [(root, 0)]
        while stack:
            node, d = stack.pop()
            depth[node] = d
            if rf.left[node] != LEAF:
                stack += [(rf.left[node], d + 1), (rf.right[node], d + 1)]
    return depth


def test_single_informative_feature(rng):
    X = rng.normal(size=(400, 6))
    y = (X[:, 2] > 0.3).astype(int)
    rf = RandomForest(n_trees=50, max_depth=4, seed=1).fit(X, y)
    Xt = rng.normal(size=(500, 6))
    assert np.mean(rf.predict(Xt) == (Xt[:, 2] > 0.3)) > 0.97
    # with every feature on offer, each root splits on feature 2 near 0.3
    stumps = RandomForest(n_trees=20, max_depth=1, max_features=None, seed=2).fit(X, y)
    assert np.all(stumps.feature[stumps.roots] == 2)
    assert np.all(np.abs(stumps.threshold[stumps.roots] - 0.3) < 0.1)


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
    assert np.allclose(rf.value.sum(1), 1.0)
    assert _depths(rf).max() <= 10


def _leaf_of(rf, X):
    """Leaf index of every row in tree 0 (plain walk)."""
    out = []
    for x in np.asarray(X, np.float32).astype(np.float64):
        node = rf.roots[0]
        while rf.left[node] != LEAF:
            node = rf.left[node] if x[rf.feature[node]] <= rf.threshold[node] else rf.right[node]
        out.append(node)
    return np.array(out)


def test_max_depth_and_min_samples_leaf(rng):
    X = rng.normal(size=(300, 4))
    y = rng.integers(0, 3, 300)  # pure noise: trees grow as deep as allowed
    rf = RandomForest(n_trees=10, max_depth=3, seed=0).fit(X, y)
    assert _depths(rf).max() == 3
    # without bootstrap every training row is in the tree: each leaf must hold >= 7 of them
    tree = RandomForest(n_trees=1, max_depth=None, min_samples_leaf=7, bootstrap=False,
                        max_features=None).fit(X, y)
    counts = np.bincount(_leaf_of(tree, X), minlength=len(tree.feature))
    leaves = tree.left == LEAF
    assert counts[leaves].min() >= 7 and counts[~leaves].sum() == 0
    # and each leaf's stored frequencies are those of its training rows
    leaf = _leaf_of(tree, X)
    for node in np.flatnonzero(leaves)[:20]:
        assert np.allclose(tree.value[node], np.bincount(y[leaf == node], minlength=3) / counts[node])


@pytest.mark.parametrize("depth,min_leaf", [(3, 1), (6, 1), (8, 5)])
def test_one_tree_without_bootstrap_is_sklearns_cart(rng, depth, min_leaf):
    tree_mod = needs("sklearn.tree")
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 - X[:, 2] > 0.3).astype(int) + (X[:, 3] > 0.8)
    ours = RandomForest(n_trees=1, max_depth=depth, min_samples_leaf=min_leaf, max_features=None,
                        bootstrap=False).fit(X, y)
    ref = tree_mod.DecisionTreeClassifier(max_depth=depth, min_samples_leaf=min_leaf, random_state=0).fit(X, y)
    # continuous features: the root split has no ties, so it is the same split
    assert ours.feature[0] == ref.tree_.feature[0]
    assert ours.threshold[0] == pytest.approx(ref.tree_.threshold[0], abs=1e-6)
    # deeper down, equal-score splits may be broken differently; predictions still agree closely
    Xt = rng.normal(size=(1000, 5))
    assert np.mean(ours.predict(Xt) == ref.predict(Xt)) > 0.95
    assert np.mean(ours.predict(X) == ref.predict(X)) > 0.98


def test_same_seed_same_forest_any_thread_count(rng):
    X = rng.normal(size=(250, 12))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    a = RandomForest(n_trees=30, seed=7, n_jobs=1).fit(X, y)
    b = RandomForest(n_trees=30, seed=7, n_jobs=-1).fit(X, y)
    c = RandomForest(n_trees=30, seed=8).fit(X, y)
    for name in ("roots", "feature", "threshold", "left", "right", "value"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not (len(a.feature) == len(c.feature) and np.array_equal(a.threshold, c.threshold))


def test_n_classes_keeps_missing_class_column(rng):
    X = rng.normal(size=(60, 3))
    y = rng.integers(0, 3, 60)  # class 3 absent from training
    p = RandomForest(n_trees=5, seed=0, n_classes=4).fit(X, y).predict_proba(X)
    assert p.shape == (60, 4) and np.all(p[:, 3] == 0)


def _numba_best_split(x, y, w, n_classes, min_leaf):
    ranks, uvals = forest.rank_features(x[:, None])
    keys = np.sort((ranks[0].astype(np.int64) << 32) | np.arange(len(x)))
    total = np.bincount(y, weights=w, minlength=n_classes).astype(np.float64)
    s, k = forest._scan_feature(keys, len(x), np.arange(len(x)), 0, y.astype(np.int64), w, total,
                                total.sum(), n_classes, min_leaf, np.empty(n_classes))
    if k < 0:
        return s, np.nan
    return s, 0.5 * (uvals[0, keys[k] >> 32] + uvals[0, keys[k + 1] >> 32])


@pytest.mark.parametrize("trial", range(20))
def test_split_scan_matches_reference(trial):
    rng = np.random.default_rng(100 + trial)
    n = int(rng.integers(2, 60))
    x = rng.integers(0, max(2, n // 3), n).astype(np.float64) / 7.0  # many ties
    y = rng.integers(0, 3, n)
    w = rng.integers(1, 4, n).astype(np.float64)
    min_leaf = int(rng.integers(1, 4))
    s_ref, t_ref = forest.best_split_reference(x, y, w, 3, min_leaf)
    s_nb, t_nb = _numba_best_split(x, y, w, 3, min_leaf)
    if np.isinf(s_ref):
        assert np.isinf(s_nb) and np.isnan(t_nb)
        return
    assert s_nb == pytest.approx(s_ref, rel=1e-12)
    # the reference's threshold attains the same score (the two may break exact ties differently)
    left = x <= t_nb
    WcL = np.bincount(y[left], w[left], 3)
    WcR = np.bincount(y[~left], w[~left], 3)
    assert (WcL**2).sum() / WcL.sum() + (WcR**2).sum() / WcR.sum() == pytest.approx(s_ref, rel=1e-12)


def test_gini_proxy_equals_impurity_decrease(rng):
    # score(t) - sum_c W_c^2 / W == W G(S) - W_L G(L) - W_R G(R), straight from the definitions
    x, y, w = rng.normal(size=40), rng.integers(0, 3, 40), rng.integers(1, 3, 40).astype(float)
    s, t = forest.best_split_reference(x, y, w, 3)

    def wg(mask):
        Wc = np.bincount(y[mask], w[mask], 3)
        return Wc.sum() * (1 - ((Wc / Wc.sum()) ** 2).sum())

    Wc = np.bincount(y, w, 3)
    everything = np.ones(40, bool)
    assert s - (Wc**2).sum() / Wc.sum() == pytest.approx(wg(everything) - wg(x <= t) - wg(x > t))


def test_predict_matches_reference(rng):
    X = rng.normal(size=(200, 7))
    y = (X[:, 0] * X[:, 3] > 0).astype(int) + (X[:, 5] > 1)
    rf = RandomForest(n_trees=25, max_depth=5, seed=4).fit(X, y)
    Xt = rng.normal(size=(80, 7)).astype(np.float32)
    ref = forest.predict_proba_reference(Xt, rf.roots, rf.feature, rf.threshold, rf.left, rf.right, rf.value)
    assert np.allclose(rf.predict_proba(Xt), ref, atol=1e-12)


def test_bad_input_is_named():
    rf = RandomForest(n_trees=2)
    with pytest.raises(SerRefError, match="call fit"):
        rf.predict(np.zeros((2, 2)))
    with pytest.raises(SerRefError, match="NaN"):
        rf.fit(np.array([[0.0, np.nan], [1.0, 2.0]]), np.array([0, 1]))
    with pytest.raises(SerRefError, match="y: expected shape"):
        rf.fit(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(SerRefError, match="non-negative integers"):
        rf.fit(np.zeros((2, 2)), np.array([0.5, 1.0]))
    rf.fit(np.eye(3), np.array([0, 1, 2]))
    with pytest.raises(SerRefError, match="fitted on 3"):
        rf.predict(np.zeros((1, 4)))
    with pytest.raises(SerRefError, match="max_features"):
        RandomForest(n_trees=1, max_features="cube").fit(np.eye(3), np.array([0, 1, 2]))


@pytest.mark.parametrize("m,n_ranks", [(5, 3), (47, 1000), (49, 2), (300, 200), (900, 70000), (2000, 2**20)])
def test_key_sort_matches_numpy(m, n_ranks):
    rng = np.random.default_rng(m)
    keys = (rng.integers(0, n_ranks, m).astype(np.int64) << 32) | np.arange(m)
    rank_bits = 8
    while (1 << rank_bits) < n_ranks:
        rank_bits += 8
    got = keys.copy()
    forest._sort(got, m, np.empty(m, np.int64), np.empty(257, np.int64), rank_bits)
    assert np.array_equal(got, np.sort(keys))


def test_children_are_adjacent(rng):
    # the Numba prediction relies on right = left + 1 (documented layout)
    X = rng.normal(size=(150, 5))
    rf = RandomForest(n_trees=10, seed=0).fit(X, rng.integers(0, 4, 150))
    inner = rf.left != LEAF
    assert np.array_equal(rf.right[inner], rf.left[inner] + 1) and np.all(rf.right[~inner] == LEAF)


def test_gpu_prediction_without_a_gpu_is_a_clear_error(rng):
    from ser_ref.backend import gpu_available
    from ser_ref.errors import BackendError

    if gpu_available():
        pytest.skip("a CUDA device is present: the no-GPU error path cannot be exercised here")
    X = rng.normal(size=(40, 3))
    rf = RandomForest(n_trees=3, max_depth=2, seed=0).fit(X, (X[:, 0] > 0).astype(int))
    with pytest.raises(BackendError, match="gpu|CuPy|CUDA"):
        rf.predict_proba(X, device="gpu")

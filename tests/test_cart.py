"""CART trees (ser_ref.forest.cart): the Numba split scan and tree walk against their plain references, the
Gini proxy against the impurity decrease, the grown trees' layout and limits, one tree against sklearn."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import needs

from ser_ref.forest.random_forest import cart
from ser_ref.forest.cart import LEAF


def _grow(X, y, n_classes, n_trees=1, seed=0, **kw):
    """Trees as the estimator grows them: float32 features, one splitmix seed per tree."""
    seeds = np.random.SeedSequence(seed).generate_state(n_trees, np.uint64)
    return cart.grow_forest(np.asarray(X, np.float32), y, n_classes, seeds, **kw)


def _depths(trees):
    """Depth of every node, walking each tree from its root."""
    depth = np.full(len(trees.feature), -1)
    for root in trees.roots:
        stack = [(root, 0)]
        while stack:
            node, d = stack.pop()
            depth[node] = d
            if trees.left[node] != LEAF:
                stack += [(trees.left[node], d + 1), (trees.right[node], d + 1)]
    return depth


def _leaf_of(trees, X):
    """Leaf index of every row in tree 0 (plain walk)."""
    out = []
    for x in np.asarray(X, np.float32).astype(np.float64):
        node = trees.roots[0]
        while trees.left[node] != LEAF:
            node = trees.left[node] if x[trees.feature[node]] <= trees.threshold[node] else trees.right[node]
        out.append(node)
    return np.array(out)


def _numba_best_split(x, y, w, n_classes, min_leaf):
    ranks, uvals = cart.rank_features(x[:, None])
    keys = np.sort((ranks[0].astype(np.int64) << 32) | np.arange(len(x)))
    total = np.bincount(y, weights=w, minlength=n_classes).astype(np.float64)
    s, k = cart._scan_feature(keys, len(x), np.arange(len(x)), 0, y.astype(np.int64), w, total,
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
    s_ref, t_ref = cart.best_split_reference(x, y, w, 3, min_leaf)
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
    s, t = cart.best_split_reference(x, y, w, 3)

    def wg(mask):
        Wc = np.bincount(y[mask], w[mask], 3)
        return Wc.sum() * (1 - ((Wc / Wc.sum()) ** 2).sum())

    Wc = np.bincount(y, w, 3)
    everything = np.ones(40, bool)
    assert s - (Wc**2).sum() / Wc.sum() == pytest.approx(wg(everything) - wg(x <= t) - wg(x > t))


def test_rank_features_round_trip(rng):
    X = rng.integers(0, 6, size=(80, 4)) / 3.0  # ties in every column
    ranks, uvals = cart.rank_features(X)
    for f in range(4):
        assert np.array_equal(uvals[f, ranks[f]], X[:, f])            # a rank indexes its value
        u = np.unique(X[:, f])
        assert np.array_equal(uvals[f, : len(u)], u) and np.all(np.isinf(uvals[f, len(u):]))


def test_predict_matches_reference(rng):
    X = rng.normal(size=(200, 7))
    y = (X[:, 0] * X[:, 3] > 0).astype(int) + (X[:, 5] > 1)
    trees = _grow(X, y, 3, n_trees=25, seed=4, mtry=2, max_depth=5)
    Xt = rng.normal(size=(80, 7)).astype(np.float32)
    ref = cart.predict_proba_reference(Xt, *trees)
    assert np.allclose(cart.predict_proba(Xt, *trees), ref, atol=1e-12)


def test_children_are_adjacent(rng):
    # the Numba prediction relies on right = left + 1 (documented layout)
    X = rng.normal(size=(150, 5))
    trees = _grow(X, rng.integers(0, 4, 150), 4, n_trees=10, mtry=2, max_depth=10)
    inner = trees.left != LEAF
    assert np.array_equal(trees.right[inner], trees.left[inner] + 1) and np.all(trees.right[~inner] == LEAF)
    assert all(np.asarray(a).dtype == d for a, d in zip(trees, cart.TREE_DTYPES))


def test_batches_concatenate_to_the_same_trees(rng, monkeypatch):
    # a forest larger than one batch of node arrays: the offsets of later batches must line up
    X = rng.normal(size=(120, 6))
    y = rng.integers(0, 3, 120)
    whole = _grow(X, y, 3, n_trees=9, seed=5, mtry=2, max_depth=4)
    monkeypatch.setattr(cart, "_BATCH_BYTES", 1)  # one tree per batch
    batched = _grow(X, y, 3, n_trees=9, seed=5, mtry=2, max_depth=4)
    for name, a, b in zip(cart.Trees._fields, whole, batched):
        assert np.array_equal(a, b), name


def test_max_depth_and_min_samples_leaf(rng):
    X = rng.normal(size=(300, 4))
    y = rng.integers(0, 3, 300)  # pure noise: trees grow as deep as allowed
    assert _depths(_grow(X, y, 3, n_trees=10, mtry=2, max_depth=3)).max() == 3
    # without bootstrap every training row is in the tree: each leaf must hold >= 7 of them
    tree = _grow(X, y, 3, min_samples_leaf=7, bootstrap=False)
    leaf = _leaf_of(tree, X)
    counts = np.bincount(leaf, minlength=len(tree.feature))
    leaves = tree.left == LEAF
    assert counts[leaves].min() >= 7 and counts[~leaves].sum() == 0
    # and each leaf's stored frequencies are those of its training rows
    for node in np.flatnonzero(leaves)[:20]:
        assert np.allclose(tree.value[node], np.bincount(y[leaf == node], minlength=3) / counts[node])


@pytest.mark.parametrize("depth,min_leaf", [(3, 1), (6, 1), (8, 5)])
def test_one_tree_without_bootstrap_is_sklearns_cart(rng, depth, min_leaf):
    tree_mod = needs("sklearn.tree")
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 - X[:, 2] > 0.3).astype(int) + (X[:, 3] > 0.8)
    ours = _grow(X, y, 3, max_depth=depth, min_samples_leaf=min_leaf, bootstrap=False)
    ref = tree_mod.DecisionTreeClassifier(max_depth=depth, min_samples_leaf=min_leaf, random_state=0).fit(X, y)
    # continuous features: the root split has no ties, so it is the same split
    assert ours.feature[0] == ref.tree_.feature[0]
    assert ours.threshold[0] == pytest.approx(ref.tree_.threshold[0], abs=1e-6)
    # the same stopping rules (depth, leaf size, purity) grow the same number of nodes
    assert len(ours.feature) == ref.tree_.node_count
    # deeper down, equal-score splits may be broken differently; predictions still agree closely
    Xt = rng.normal(size=(1000, 5))
    for Z, share in ((Xt, 0.95), (X, 0.98)):
        ours_pred = cart.predict_proba(Z.astype(np.float32), *ours).argmax(1)
        assert np.mean(ours_pred == ref.predict(Z)) > share

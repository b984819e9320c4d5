"""CART classification trees (Breiman et al. 1984) on flat arrays: the Gini split, growing, prediction.

Each tree is grown on integer sample weights w_i (a bootstrap sample as counts, ``splitmix``, or
all ones). At a node S, ``mtry`` features are drawn at random and, for each, every threshold t
between two consecutive distinct values is scored. The split maximises the decrease of the
weighted Gini impurity

    G(S) = 1 - sum_c p_c^2,          p_c = W_c(S) / W(S),   W_c(S) = sum_{i in S, y_i = c} w_i
    Delta(t) = W(S) G(S) - W(L) G(L) - W(R) G(R),   L = {x_f <= t}, R = {x_f > t}

Since W(S) G(S) = W(S) - sum_c W_c(S)^2 / W(S), maximising Delta is maximising the proxy

    score(t) = sum_c W_c(L)^2 / W(L) + sum_c W_c(R)^2 / W(R)

which is what the scan computes, in one pass over the node's samples sorted by x_f. The
threshold is the midpoint of the two values it separates. A node becomes a leaf when it is pure,
at ``max_depth``, when it has fewer than 2 * ``min_samples_leaf`` distinct samples (rows with
w_i > 0, whatever their bootstrap counts), or when every feature is constant on it; a threshold
counts only if it leaves at least ``min_samples_leaf`` distinct samples on each side. A leaf stores its class frequencies p_c; a set of trees predicts

    P(c | x) = (1/T) sum_t value[leaf_t(x), c]

The trees are kept as flat arrays over all nodes of all trees (``Trees``): ``feature``,
``threshold``, ``left``, ``right`` (absolute node indices, -1 at a leaf; the two children of a node
are always adjacent, right = left + 1) and ``value`` (n_nodes, n_classes), with tree t's root at
``roots[t]``: a layout a GPU kernel can walk as it is (``ser_ref.gpu.random_forest``).

Tree growing and prediction are Numba kernels; trees grow in parallel across cores. Features are
replaced once by their dense ranks, so sorting a node's samples is a radix sort of integer keys
(``radix_sort``) rather than a comparison sort of floats. The plain NumPy references
``best_split_reference`` and ``predict_proba_reference`` sit beside them and the tests compare the two.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from .radix_sort import rank_bits, sort_keys
from .splitmix import bootstrap_counts, randint

LEAF = -1
_MASK = np.int64(0xFFFFFFFF)  # the position half of a sort key (rank << 32 | position)
_UNLIMITED_DEPTH = 2**62
_BATCH_BYTES = 64 << 20  # node arrays grown at once: bounds the scratch memory of a large forest


class Trees(NamedTuple):
    """A set of trees as flat node arrays (see the module docstring); unpack it as ``*trees``.

    Examples
    --------
    >>> Trees._fields
    ('roots', 'feature', 'threshold', 'left', 'right', 'value')
    """

    roots: np.ndarray      # (T,) int32: node index of each tree's root
    feature: np.ndarray    # (n_nodes,) int32: the feature an inner node splits on
    threshold: np.ndarray  # (n_nodes,) float64: x[feature] <= threshold goes left
    left: np.ndarray       # (n_nodes,) int32: left child, LEAF at a leaf
    right: np.ndarray      # (n_nodes,) int32: right child (= left + 1), LEAF at a leaf
    value: np.ndarray      # (n_nodes, n_classes) float64: class frequencies of the node's samples


TREE_DTYPES = Trees(np.int32, np.int32, np.float64, np.int32, np.int32, np.float64)


@njit(cache=True)
def _scan_feature(keys, m, idx, start, y, w, total, w_total, n_classes, min_leaf, left):
    """Best proxy score over thresholds of one feature; ``keys`` hold (rank << 32 | position), sorted.

    score(t) = sum_c W_c(L)^2 / W(L) + sum_c W_c(R)^2 / W(R); only thresholds between distinct
    values that leave >= min_leaf distinct samples (rows with w > 0) on each side count. Returns (score, k): the split is
    after sorted position k; (-inf, -1) when there is none.
    """
    # sum_c W_c(L)^2 and sum_c W_c(R)^2 are updated in O(1) per sample: (a + w)^2 = a^2 + w(2a + w)
    sq_left, sq_right = 0.0, 0.0
    for c in range(n_classes):
        left[c] = 0.0
        sq_right += total[c] * total[c]
    w_left = 0.0
    best, best_k = -np.inf, -1
    for k in range(m - 1):
        i = idx[start + (keys[k] & _MASK)]
        c, wi = y[i], w[i]
        r = total[c] - left[c]
        sq_left += wi * (2.0 * left[c] + wi)
        sq_right -= wi * (2.0 * r - wi)
        left[c] += wi
        w_left += wi
        if (keys[k] >> 32) == (keys[k + 1] >> 32):
            continue  # no threshold between equal values
        if k + 1 < min_leaf or m - k - 1 < min_leaf:
            continue
        s = sq_left / w_left + sq_right / (w_total - w_left)
        if s > best:
            best, best_k = s, k
    return best, best_k


@njit(cache=True)
def _grow_tree(ranks, uvals, y, w, n_classes, mtry, max_depth, min_leaf, state,
               feature, threshold, left, right, value):
    """Grow one tree on the samples with w > 0 into the given node arrays; returns the node count."""
    n_features, n = ranks.shape
    idx = np.empty(n, np.int64)
    m_all = 0
    for i in range(n):
        if w[i] > 0:
            idx[m_all] = i
            m_all += 1
    max_nodes = feature.shape[0]
    keys = np.empty(m_all, np.int64)
    scratch = np.empty(m_all, np.int64)
    count = np.empty(257, np.int64)
    bits = rank_bits(uvals.shape[1])
    perm = np.arange(n_features)
    total = np.empty(n_classes)
    buf = np.empty(n_classes)
    # explicit stack of (node, start, end, depth): samples of a node are idx[start:end]
    st_node = np.empty(max_nodes, np.int64)
    st_start = np.empty(max_nodes, np.int64)
    st_end = np.empty(max_nodes, np.int64)
    st_depth = np.empty(max_nodes, np.int64)
    st_node[0], st_start[0], st_end[0], st_depth[0] = 0, 0, m_all, 0
    top = 1
    n_nodes = 1
    while top > 0:
        top -= 1
        node, start, end, depth = st_node[top], st_start[top], st_end[top], st_depth[top]
        m = end - start
        for c in range(n_classes):
            total[c] = 0.0
        for j in range(start, end):
            total[y[idx[j]]] += w[idx[j]]
        w_total = 0.0
        n_present = 0
        for c in range(n_classes):
            w_total += total[c]
            if total[c] > 0:
                n_present += 1
        for c in range(n_classes):
            value[node, c] = total[c] / w_total
        feature[node], threshold[node], left[node], right[node] = LEAF, 0.0, LEAF, LEAF
        if n_present <= 1 or depth >= max_depth or m < 2 * min_leaf or m < 2:
            continue
        # draw features without replacement until mtry non-constant ones were scored
        best, best_f, r_lo, r_hi = -np.inf, -1, np.int64(0), np.int64(0)
        n_visited = 0
        for j in range(n_features):
            if n_visited >= mtry:
                break
            r = j + randint(state, n_features - j)
            perm[j], perm[r] = perm[r], perm[j]
            f = perm[j]
            for k in range(m):
                keys[k] = (np.int64(ranks[f, idx[start + k]]) << 32) | k
            sort_keys(keys, m, scratch, count, bits)
            if (keys[0] >> 32) == (keys[m - 1] >> 32):
                continue  # constant on this node: does not count towards mtry
            n_visited += 1
            s, k = _scan_feature(keys, m, idx, start, y, w, total, w_total, n_classes, min_leaf, buf)
            if s > best:
                best, best_f = s, f
                r_lo, r_hi = keys[k] >> 32, keys[k + 1] >> 32
        if best_f < 0:
            continue
        feature[node] = best_f
        threshold[node] = 0.5 * (uvals[best_f, r_lo] + uvals[best_f, r_hi])
        # partition idx[start:end] into ranks <= r_lo (left) and the rest
        lo, hi = start, end - 1
        while lo <= hi:
            if ranks[best_f, idx[lo]] <= r_lo:
                lo += 1
            else:
                idx[lo], idx[hi] = idx[hi], idx[lo]
                hi -= 1
        left[node], right[node] = n_nodes, n_nodes + 1
        n_nodes += 2
        st_node[top], st_start[top], st_end[top], st_depth[top] = right[node], lo, end, depth + 1
        top += 1
        st_node[top], st_start[top], st_end[top], st_depth[top] = left[node], start, lo, depth + 1
        top += 1
    return n_nodes


@njit(parallel=True, cache=True)
def _grow_trees(ranks, uvals, y, n_classes, seeds, bootstrap, mtry, max_depth, min_leaf,
                feature, threshold, left, right, value, n_nodes):
    """Tree t on its own splitmix stream (seed ``seeds[t]``) into row t of the node arrays."""
    n = ranks.shape[1]
    for t in prange(seeds.shape[0]):
        state = np.empty(1, np.uint64)
        state[0] = seeds[t]
        w = bootstrap_counts(state, n) if bootstrap else np.ones(n, np.float64)
        n_nodes[t] = _grow_tree(ranks, uvals, y, w, n_classes, mtry, max_depth, min_leaf, state,
                                feature[t], threshold[t], left[t], right[t], value[t])


@njit(parallel=True, cache=True)
def _predict_proba(X, roots, feature, threshold, left, right, value, out):
    # blocks of samples walk one tree after the other, so each tree's nodes stay in cache
    n, n_trees, n_classes = X.shape[0], roots.shape[0], value.shape[1]
    block = 64
    for b in prange((n + block - 1) // block):
        lo, hi = b * block, min(n, (b + 1) * block)
        for t in range(n_trees):
            for i in range(lo, hi):
                node = roots[t]
                while left[node] != LEAF:
                    # children are adjacent (right = left + 1): a branch-free step down
                    node = left[node] + np.int32(X[i, feature[node]] > threshold[node])
                for c in range(n_classes):
                    out[i, c] += value[node, c]
    for i in range(n):
        for c in range(n_classes):
            out[i, c] /= n_trees


def rank_features(X: np.ndarray):
    """Dense ranks of every column (equal values share a rank) and each column's sorted unique values.

    Returns ranks (n_features, n) int32 and uvals (n_features, max_unique) float64 (padded with +inf).

    Examples
    --------
    >>> ranks, uvals = rank_features(np.array([[3.0, 1.0], [1.0, 1.0], [3.0, 2.0]]))
    >>> ranks
    array([[1, 0, 1],
           [0, 0, 1]], dtype=int32)
    >>> uvals
    array([[1., 3.],
           [1., 2.]])
    """
    n, n_features = X.shape
    ranks = np.empty((n_features, n), np.int32)
    uniques = []
    for f in range(n_features):
        u, inv = np.unique(X[:, f], return_inverse=True)
        ranks[f] = inv.reshape(-1)
        uniques.append(u)
    uvals = np.full((n_features, max(len(u) for u in uniques)), np.inf)
    for f, u in enumerate(uniques):
        uvals[f, : len(u)] = u
    return ranks, uvals


def grow_forest(X, y, n_classes: int, seeds, *, mtry: int | None = None, max_depth: int | None = None,
                min_samples_leaf: int = 1, bootstrap: bool = True) -> Trees:
    """One tree per seed on X (n, F), labels y in 0..n_classes-1, as one flat ``Trees``.

    Tree t draws its bootstrap counts and its ``mtry`` features per node (None: all F) from the
    splitmix stream of ``seeds[t]``, so the result does not depend on the thread count. Trees grow
    in batches of at most ~64 MB of node arrays, in parallel over Numba's threads.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> trees = grow_forest(X, y, 2, np.zeros(1, np.uint64), bootstrap=False)
    >>> trees.feature, trees.threshold, trees.left
    (array([ 0, -1, -1], dtype=int32), array([1.5, 0. , 0. ]), array([ 1, -1, -1], dtype=int32))
    """
    n, n_features = X.shape
    ranks, uvals = rank_features(X)
    depth = _UNLIMITED_DEPTH if max_depth is None else int(max_depth)
    # a binary tree of depth d has < 2^(d+1) nodes, and never more than 2n - 1
    max_nodes = 2 * n - 1 if depth > 40 else min(2 ** (depth + 1) - 1, 2 * n - 1)
    batch = max(1, min(len(seeds), _BATCH_BYTES // (max_nodes * (24 + 8 * n_classes))))
    y = np.asarray(y).astype(np.int64)
    mtry = n_features if mtry is None else int(mtry)
    parts = []
    for b in range(0, len(seeds), batch):
        s = seeds[b : b + batch]
        T = len(s)
        feature = np.empty((T, max_nodes), np.int32)
        threshold = np.empty((T, max_nodes), np.float64)
        left = np.empty((T, max_nodes), np.int32)
        right = np.empty((T, max_nodes), np.int32)
        value = np.empty((T, max_nodes, n_classes), np.float64)
        n_nodes = np.zeros(T, np.int64)
        _grow_trees(ranks, uvals, y, n_classes, s, bool(bootstrap), mtry, depth, int(min_samples_leaf),
                    feature, threshold, left, right, value, n_nodes)
        for t in range(T):
            k = n_nodes[t]
            parts.append((feature[t, :k], threshold[t, :k], left[t, :k], right[t, :k], value[t, :k]))
    return _concatenate(parts)


def _concatenate(parts) -> Trees:
    """One flat Trees from per-tree (feature, threshold, left, right, value) with tree-local children."""
    sizes = np.array([len(p[0]) for p in parts])
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)
    feature, threshold, left, right, value = (np.concatenate([p[j] for p in parts]) for j in range(5))
    # child indices become absolute: add the tree's offset, keep -1 at leaves
    offs = np.repeat(roots, sizes)
    inner = left != LEAF
    left[inner] += offs[inner]
    right[inner] += offs[inner]
    return Trees(roots, feature, threshold, left, right, value)


def predict_proba(X, roots, feature, threshold, left, right, value) -> np.ndarray:
    """P(c | x) = (1/T) sum_t value[leaf_t(x), c] for every row of X (n, F), in parallel over rows.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> trees = grow_forest(X, y, 2, np.zeros(1, np.uint64), bootstrap=False)
    >>> predict_proba(np.array([[0.2], [2.7]]), *trees)
    array([[1., 0.],
           [0., 1.]])
    """
    out = np.zeros((X.shape[0], value.shape[1]))
    _predict_proba(X, roots, feature, threshold, left, right, value, out)
    return out


def best_split_reference(x, y, w, n_classes: int, min_samples_leaf: int = 1):
    """Plain NumPy reference of one feature's split search: (score, threshold), (-inf, nan) if none.

    score(t) = sum_c W_c(L)^2 / W(L) + sum_c W_c(R)^2 / W(R) for every t between consecutive
    distinct sorted values, each side keeping >= min_samples_leaf samples.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 3.0, 4.0]); y = np.array([0, 0, 1, 1])
    >>> best_split_reference(x, y, np.ones(4), n_classes=2)     # a pure split: 2^2/2 + 2^2/2
    (4.0, 2.5)
    """
    order = np.argsort(x, kind="stable")
    xs, ys, ws = x[order], y[order], w[order]
    onehot = np.zeros((len(x), n_classes))
    onehot[np.arange(len(x)), ys] = ws
    WcL = np.cumsum(onehot, axis=0)[:-1]                 # W_c(L) when the split is after row k
    WcR = onehot.sum(0) - WcL
    WL, WR = WcL.sum(1), WcR.sum(1)
    n_left = np.arange(1, len(x))
    ok = (xs[1:] != xs[:-1]) & (n_left >= min_samples_leaf) & (len(x) - n_left >= min_samples_leaf)
    if not ok.any():
        return -np.inf, np.nan
    score = (WcL**2).sum(1) / WL + (WcR**2).sum(1) / WR
    score[~ok] = -np.inf
    k = int(np.argmax(score))
    return float(score[k]), 0.5 * (float(xs[k]) + float(xs[k + 1]))


def predict_proba_reference(X, roots, feature, threshold, left, right, value):
    """Plain Python tree walk: P(c | x) = (1/T) sum_t value[leaf_t(x), c].

    Examples
    --------
    >>> X = np.random.default_rng(1).normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)
    >>> trees = grow_forest(X, y, 2, np.arange(10, dtype=np.uint64), mtry=1, max_depth=3)
    >>> bool(np.allclose(predict_proba_reference(X, *trees), predict_proba(X, *trees)))
    True
    """
    X = np.asarray(X, np.float64)
    out = np.zeros((len(X), value.shape[1]))
    for i, x in enumerate(X):
        for root in roots:
            node = root
            while left[node] != LEAF:
                node = left[node] if x[feature[node]] <= threshold[node] else right[node]
            out[i] += value[node]
    return out / len(roots)

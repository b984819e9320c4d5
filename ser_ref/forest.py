"""CART random forest for classification (Breiman 2001), the paper's baseline on eGeMAPS.

Each tree is grown on a bootstrap sample (n draws with replacement, kept as integer weights
w_i = how often sample i was drawn). At a node S, ``max_features`` features are drawn at random
and, for each, every threshold t between two consecutive distinct values is scored. The split
maximises the decrease of the weighted Gini impurity

    G(S) = 1 - sum_c p_c^2,          p_c = W_c(S) / W(S),   W_c(S) = sum_{i in S, y_i = c} w_i
    Delta(t) = W(S) G(S) - W(L) G(L) - W(R) G(R),   L = {x_f <= t}, R = {x_f > t}

Since W(S) G(S) = W(S) - sum_c W_c(S)^2 / W(S), maximising Delta is maximising the proxy

    score(t) = sum_c W_c(L)^2 / W(L) + sum_c W_c(R)^2 / W(R)

which is what the scan computes, in one pass over the node's samples sorted by x_f. The
threshold is the midpoint of the two values it separates. A node becomes a leaf when it is pure,
at ``max_depth``, when it has fewer than 2 * ``min_samples_leaf`` samples, or when every feature is
constant on it. A leaf stores its class frequencies p_c; the forest's probability is their mean
over the trees, and its prediction the arg max (ties: the lower class index).

The trees are kept as flat arrays over all nodes of all trees: ``feature``, ``threshold``, ``left``,
``right`` (absolute node indices, -1 at a leaf; the two children of a node are always adjacent,
right = left + 1) and ``value`` (n_nodes, n_classes), with tree t's
root at ``roots[t]``: a layout a GPU kernel can walk as it is.

Hot loops (tree growing, prediction) are Numba; trees grow in parallel across cores. Features
are replaced once by their dense ranks, so sorting a node's samples is a radix sort of integer
keys rather than a comparison sort of floats. The plain
NumPy references ``best_split_reference`` and ``predict_proba_reference`` sit beside them and the
tests compare the two.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .errors import SerRefError

LEAF = -1
_MASK = np.int64(0xFFFFFFFF)

# splitmix64 (Steele, Lea & Flood 2014): a tiny counter-based generator whose stream depends only
# on the seed, so a tree is the same whichever thread grows it.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


@njit(cache=True)
def _next_u64(state):
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def _randint(state, k):
    """Uniform integer in [0, k) (modulo bias < k / 2^64, negligible)."""
    return np.int64(_next_u64(state) % np.uint64(k))


@njit(cache=True)
def _scan_feature(keys, m, idx, start, y, w, total, w_total, n_classes, min_leaf, left):
    """Best proxy score over thresholds of one feature; ``keys`` hold (rank << 32 | position), sorted.

    score(t) = sum_c W_c(L)^2 / W(L) + sum_c W_c(R)^2 / W(R); only thresholds between distinct
    values that leave >= min_leaf samples on each side count. Returns (score, k): the split is
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
def _sort(a, m, scratch, count, rank_bits):
    """Sort keys a[:m] = (rank << 32 | position) in place: insertion sort for the many small
    nodes, else a least-significant-digit radix sort on the rank, 8 bits a pass: O(m + 256) per
    pass instead of O(m log m) compares."""
    if m <= 48:
        for i in range(1, m):
            v = a[i]
            j = i - 1
            while j >= 0 and a[j] > v:
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = v
        return
    src, dst = a, scratch
    n_pass = 0
    for shift in range(32, 32 + rank_bits, 8):
        count[:] = 0
        for i in range(m):
            count[((src[i] >> shift) & 255) + 1] += 1
        for d in range(1, 257):
            count[d] += count[d - 1]
        for i in range(m):  # stable: equal digits keep their order
            d = (src[i] >> shift) & 255
            dst[count[d]] = src[i]
            count[d] += 1
        src, dst = dst, src
        n_pass += 1
    if n_pass % 2 == 1:  # the sorted keys ended in scratch
        a[:m] = scratch[:m]


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
    rank_bits = 8
    while (1 << rank_bits) < uvals.shape[1]:
        rank_bits += 8
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
            r = j + _randint(state, n_features - j)
            perm[j], perm[r] = perm[r], perm[j]
            f = perm[j]
            for k in range(m):
                keys[k] = (np.int64(ranks[f, idx[start + k]]) << 32) | k
            _sort(keys, m, scratch, count, rank_bits)
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
def _grow_forest(ranks, uvals, y, n_classes, seeds, bootstrap, mtry, max_depth, min_leaf,
                 feature, threshold, left, right, value, n_nodes):
    n = ranks.shape[1]
    for t in prange(seeds.shape[0]):
        state = np.empty(1, np.uint64)
        state[0] = seeds[t]
        if bootstrap:  # n draws with replacement, kept as counts
            w = np.zeros(n, np.float64)
            for _ in range(n):
                w[_randint(state, n)] += 1.0
        else:
            w = np.ones(n, np.float64)
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
    >>> rf = RandomForest(n_trees=10, max_depth=3).fit(X, y)
    >>> ref = predict_proba_reference(X, rf.roots, rf.feature, rf.threshold, rf.left, rf.right, rf.value)
    >>> bool(np.allclose(ref, rf.predict_proba(X)))
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


def check_X(X, name="X", n_features=None):
    """X as a non-empty, finite (n_samples, n_features) float32 array, or a SerRefError naming ``name``.

    >>> check_X([[1, 2], [3, 4]]).dtype
    dtype('float32')
    """
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise SerRefError(f"{name}: not a numeric array ({exc})") from exc
    if X.ndim != 2 or X.shape[0] == 0:
        raise SerRefError(f"{name}: expected a non-empty 2-D array (n_samples, n_features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise SerRefError(f"{name}: {int(np.count_nonzero(~np.isfinite(X)))} NaN/inf values")
    if n_features is not None and X.shape[1] != n_features:
        raise SerRefError(f"{name}: has {X.shape[1]} features, the forest was fitted on {n_features}")
    return X


class _Threads:
    """Run a block with n Numba threads (None or -1: all), restoring the previous count after."""

    def __init__(self, n_jobs):
        self.n = numba.config.NUMBA_NUM_THREADS if n_jobs in (None, -1) else int(n_jobs)
        if self.n < 1:
            raise SerRefError(f"n_jobs must be None, -1 or >= 1, got {n_jobs}")
        self.n = min(self.n, numba.config.NUMBA_NUM_THREADS)

    def __enter__(self):
        self.old = numba.get_num_threads()
        numba.set_num_threads(self.n)

    def __exit__(self, *exc):
        numba.set_num_threads(self.old)


class RandomForest:
    """Random forest of CART trees (Gini); labels are integers 0..n_classes-1.

    ``max_features``: "sqrt" (floor(sqrt(F)), the paper's/sklearn's default), "log2", an int, a
    fraction in (0, 1], or None (all F). ``max_depth=None`` grows until leaves are pure.
    ``n_classes`` fixes the width of predict_proba (default: max(y) + 1), so a training fold that
    lacks a class still gives one column per class. ``bootstrap=False`` grows every tree on all
    samples (then, with max_features=None, each tree is plain CART: used to test against it).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    >>> rf = RandomForest(n_trees=50, max_depth=6, seed=0).fit(X, y)
    >>> P = rf.predict_proba(X[:3])
    >>> P.shape, bool(np.allclose(P.sum(axis=1), 1)), float(np.mean(rf.predict(X) == y)) > 0.9
    ((3, 4), True, True)
    """

    def __init__(self, n_trees=1000, max_depth=10, min_samples_leaf=1, max_features="sqrt", seed=0,
                 n_jobs=None, n_classes=None, bootstrap=True):
        if int(n_trees) < 1:
            raise SerRefError(f"n_trees must be >= 1, got {n_trees}")
        if max_depth is not None and int(max_depth) < 0:
            raise SerRefError(f"max_depth must be None or >= 0, got {max_depth}")
        if int(min_samples_leaf) < 1:
            raise SerRefError(f"min_samples_leaf must be >= 1, got {min_samples_leaf}")
        self.n_trees, self.max_depth, self.min_samples_leaf = int(n_trees), max_depth, int(min_samples_leaf)
        self.max_features, self.seed, self.n_jobs, self.n_classes = max_features, int(seed), n_jobs, n_classes
        self.bootstrap = bool(bootstrap)

    def _mtry(self, n_features):
        mf = self.max_features
        if mf is None:
            return n_features
        if mf == "sqrt":
            return max(1, int(np.sqrt(n_features)))
        if mf == "log2":
            return max(1, int(np.log2(n_features)))
        if isinstance(mf, (int, np.integer)) and not isinstance(mf, bool):
            if not 1 <= mf <= n_features:
                raise SerRefError(f"max_features={mf} must be in [1, {n_features}]")
            return int(mf)
        if isinstance(mf, float) and 0.0 < mf <= 1.0:
            return max(1, int(mf * n_features))
        raise SerRefError(f"max_features must be 'sqrt', 'log2', None, an int or a fraction, got {mf!r}")

    def fit(self, X, y):
        X = check_X(X)
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise SerRefError(f"y: expected shape ({X.shape[0]},) to match X, got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise SerRefError("y: labels must be non-negative integers (class indices)")
        n_classes = int(self.n_classes or y.max() + 1)
        if y.max() >= n_classes:
            raise SerRefError(f"y: label {int(y.max())} >= n_classes={n_classes}")
        n, n_features = X.shape
        if n >= 2**31:
            raise SerRefError("X: more than 2^31 samples")
        ranks, uvals = rank_features(X)
        depth = 2**62 if self.max_depth is None else int(self.max_depth)
        # a binary tree of depth d has < 2^(d+1) nodes, and never more than 2n - 1
        max_nodes = 2 * n - 1 if depth > 40 else min(2 ** (depth + 1) - 1, 2 * n - 1)
        seeds = np.random.SeedSequence(self.seed).generate_state(self.n_trees, np.uint64)
        parts = []
        batch = max(1, min(self.n_trees, (64 << 20) // (max_nodes * (24 + 8 * n_classes))))  # <= ~64 MB
        with _Threads(self.n_jobs):
            for b in range(0, self.n_trees, batch):
                s = seeds[b : b + batch]
                T = len(s)
                feature = np.empty((T, max_nodes), np.int32)
                threshold = np.empty((T, max_nodes), np.float64)
                left = np.empty((T, max_nodes), np.int32)
                right = np.empty((T, max_nodes), np.int32)
                value = np.empty((T, max_nodes, n_classes), np.float64)
                n_nodes = np.zeros(T, np.int64)
                _grow_forest(ranks, uvals, y.astype(np.int64), n_classes, s, self.bootstrap, self._mtry(n_features), depth,
                             self.min_samples_leaf, feature, threshold, left, right, value, n_nodes)
                for t in range(T):
                    k = n_nodes[t]
                    parts.append((feature[t, :k], threshold[t, :k], left[t, :k], right[t, :k], value[t, :k]))
        sizes = np.array([len(p[0]) for p in parts])
        self.roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)
        self.feature = np.concatenate([p[0] for p in parts])
        self.threshold = np.concatenate([p[1] for p in parts])
        # child indices become absolute: add the tree's offset, keep -1 at leaves
        offs = np.repeat(self.roots, sizes)
        self.left = np.concatenate([p[2] for p in parts])
        self.right = np.concatenate([p[3] for p in parts])
        inner = self.left != LEAF
        self.left[inner] += offs[inner]
        self.right[inner] += offs[inner]
        self.value = np.concatenate([p[4] for p in parts])
        self.n_features, self.n_classes_ = n_features, n_classes
        return self

    def predict_proba(self, X, device: str = "cpu") -> np.ndarray:
        """P(c | x) = (1/T) sum_t value[leaf_t(x), c]: the mean of the leaves' class frequencies.

        ``device="gpu"`` walks the same flat trees in a CUDA kernel (``ser_ref.gpu.forest``), one
        thread per sample; the result comes back as a NumPy array.

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        >>> RandomForest(n_trees=1, bootstrap=False, max_features=None).fit(X, y).predict_proba([[0.2], [2.7]])
        array([[1., 0.],
               [0., 1.]])
        """
        if not hasattr(self, "roots"):
            raise SerRefError("RandomForest: call fit before predict")
        if device == "gpu":
            from .backend import to_host
            from .gpu.forest import forest_predict_proba

            return to_host(forest_predict_proba(self, X))
        X = check_X(X, n_features=self.n_features)
        out = np.zeros((X.shape[0], self.n_classes_))
        with _Threads(self.n_jobs):
            _predict_proba(X, self.roots, self.feature, self.threshold, self.left, self.right, self.value, out)
        return out

    def predict(self, X, device: str = "cpu") -> np.ndarray:
        """arg max_c P(c | x) (ties go to the lower class index).

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        >>> RandomForest(n_trees=3, max_features=None).fit(X, y).predict([[0.2], [2.7]])
        array([0, 1])
        """
        return np.argmax(self.predict_proba(X, device=device), axis=1)

    # ------------------------------------------------------------ persistence (ser_ref.modelfile)
    _ARRAYS = ("roots", "feature", "threshold", "left", "right", "value")

    def save(self, path, meta: dict | None = None) -> None:
        """Write the fitted forest (its flat node arrays and settings, plus ``meta``) to one .npz.

        >>> import os, tempfile
        >>> X = np.random.default_rng(0).normal(size=(40, 3)); y = (X[:, 0] > 0).astype(int)
        >>> rf = RandomForest(n_trees=5, max_depth=3).fit(X, y)
        >>> p = os.path.join(tempfile.mkdtemp(), "rf.npz"); rf.save(p)
        >>> bool(np.array_equal(RandomForest.load(p).predict_proba(X), rf.predict_proba(X)))
        True
        """
        from . import modelfile

        if not hasattr(self, "roots"):
            raise SerRefError("RandomForest: call fit before save")
        settings = {"n_trees": self.n_trees, "max_depth": self.max_depth, "min_samples_leaf": self.min_samples_leaf,
                    "max_features": self.max_features, "seed": self.seed, "n_classes": self.n_classes_,
                    "bootstrap": self.bootstrap, "n_features": self.n_features}
        modelfile.write(path, "random-forest", {k: getattr(self, k) for k in self._ARRAYS},
                        {**(meta or {}), "forest": settings})

    @classmethod
    def load(cls, path) -> "RandomForest":
        """The forest ``save`` wrote; ``ser_ref.modelfile.ModelFileError`` naming the file if it is not one.

        Examples
        --------
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "not-a-forest.npz"); np.savez(p, w=np.ones(2))
        >>> RandomForest.load(p)
        Traceback (most recent call last):
        ...
        ser_ref.modelfile.ModelFileError: ...not-a-forest.npz: not a ser_ref model file (missing ...)
        """
        from . import modelfile

        arrays, meta = modelfile.read(path, kind="random-forest")
        return cls.from_saved(arrays, meta, path)

    @classmethod
    def from_saved(cls, arrays: dict, meta: dict, path="<arrays>") -> "RandomForest":
        """The forest from ``modelfile.read``'s (arrays, meta), its node arrays checked for consistency.

        Examples
        --------
        >>> import os, tempfile
        >>> from ser_ref import modelfile
        >>> X = np.random.default_rng(0).normal(size=(30, 2)); y = (X[:, 0] > 0).astype(int)
        >>> p = os.path.join(tempfile.mkdtemp(), "rf.npz"); RandomForest(n_trees=4).fit(X, y).save(p)
        >>> RandomForest.from_saved(*modelfile.read(p)).n_trees
        4
        """
        from .modelfile import ModelFileError

        s = meta["forest"]
        rf = cls(n_trees=s["n_trees"], max_depth=s["max_depth"], min_samples_leaf=s["min_samples_leaf"],
                 max_features=s["max_features"], seed=s["seed"], n_classes=s["n_classes"], bootstrap=s["bootstrap"])
        dtypes = {"roots": np.int32, "feature": np.int32, "threshold": np.float64, "left": np.int32,
                  "right": np.int32, "value": np.float64}
        for k in cls._ARRAYS:
            setattr(rf, k, np.ascontiguousarray(arrays[k], dtype=dtypes[k]))
        n = len(rf.feature)
        inner = rf.left != LEAF
        if (rf.value.shape != (n, s["n_classes"]) or len(rf.roots) != s["n_trees"]
                or np.any(rf.left[inner] >= n) or np.any(rf.feature[inner] >= s["n_features"])):
            raise ModelFileError(f"{path}: random-forest node arrays are inconsistent")
        rf.n_features, rf.n_classes_ = int(s["n_features"]), int(s["n_classes"])
        return rf

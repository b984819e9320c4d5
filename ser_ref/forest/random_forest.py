"""Random forest classifier (Breiman 2001): the paper's baseline on eGeMAPS, a scikit-learn-style estimator.

Tree t is a CART tree (``cart``) grown on a bootstrap sample of the n training rows (n draws with
replacement) with ``max_features`` features drawn at each node, on its own splitmix stream seeded
from ``SeedSequence(seed)``, so the forest is the same for any thread count. The forest predicts

    P(c | x) = (1/T) sum_t value[leaf_t(x), c],        y(x) = arg max_c P(c | x)

(ties: the lower class index). Conventions are scikit-learn's: the constructor stores its arguments
unchanged (``get_params`` / ``set_params`` read them, ``ser_ref.runtime.params``) and ``fit`` validates
them; what ``fit`` learns ends in an underscore (``trees_``, the flat node arrays; ``n_classes_``,
``classes_``, ``n_features_in_``); X and y are checked by ``check_X`` / ``check_X_y`` alone, and
predicting before ``fit`` raises ``NotFittedError``. ``device`` ("cpu" or "gpu") is where
``predict_proba`` walks the trees; growing them is always the CPU's.

The pieces: ``cart`` (Gini split, tree growing, prediction, their NumPy references), ``splitmix``
(the random numbers), ``radix_sort`` (the node sort), ``numba_threads`` (``n_jobs``).
"""
from __future__ import annotations

import numpy as np

from . import cart
from ..runtime.backend import resolve_device
from ..runtime.params import Params, check_whole
from ..errors import NotFittedError, SerRefError
from .numba_threads import numba_threads, thread_count

LEAF = cart.LEAF


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


def check_X_y(X, y, n_classes=None):
    """(X float32, y int64, n_classes) for ``fit``: ``check_X``, y one class index in 0..n_classes-1
    per row (n_classes None: max(y) + 1), or a SerRefError naming X or y.

    >>> X, y, n_classes = check_X_y([[0.5], [1.5]], [0, 2]); y.dtype, n_classes
    (dtype('int64'), 3)
    >>> check_X_y([[0.5], [1.5]], [0, 2], n_classes=2)
    Traceback (most recent call last):
    ...
    ser_ref.errors.SerRefError: y: label 2 >= n_classes=2
    """
    X = check_X(X)
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise SerRefError(f"y: expected shape ({X.shape[0]},) to match X, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise SerRefError("y: labels must be non-negative integers (class indices)")
    n_classes = int(n_classes or y.max() + 1)
    if y.max() >= n_classes:
        raise SerRefError(f"y: label {int(y.max())} >= n_classes={n_classes}")
    if X.shape[0] >= 2**31:
        raise SerRefError("X: more than 2^31 samples")
    return X, y.astype(np.int64), n_classes


def check_fitted(forest, action: str = "predict") -> cart.Trees:
    """The fitted forest's ``trees_``, or a NotFittedError saying to call fit before ``action``.

    >>> check_fitted(RandomForest(), "predict_proba")
    Traceback (most recent call last):
    ...
    ser_ref.errors.NotFittedError: this RandomForest is not fitted yet: call fit(X, y) before predict_proba
    """
    trees = getattr(forest, "trees_", None)
    if trees is None:
        raise NotFittedError(f"this {type(forest).__name__} is not fitted yet: call fit(X, y) before {action}")
    return trees


def _mtry(max_features, n_features: int) -> int:
    """How many features each node draws, from ``max_features`` (see RandomForest)."""
    mf = max_features
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


class RandomForest(Params):
    """Random forest of CART trees (Gini); labels are integers 0..n_classes-1.

    ``max_features``: "sqrt" (floor(sqrt(F)), the paper's/sklearn's default), "log2", an int, a
    fraction in (0, 1], or None (all F). ``max_depth=None`` grows until leaves are pure.
    ``n_classes`` fixes the width of predict_proba (default: max(y) + 1), so a training fold that
    lacks a class still gives one column per class. ``bootstrap=False`` grows every tree on all
    samples (then, with max_features=None, each tree is plain CART: used to test against it).
    ``n_jobs``: Numba threads for fit and predict (None or -1: all). ``device``: "gpu" predicts in a
    CUDA kernel, bit-identical to the CPU's (``ser_ref.runtime.backend.resolve_device`` checks it in fit
    and predict_proba).

    After ``fit``: ``trees_`` (``cart.Trees``, the flat node arrays of every tree), ``n_classes_``,
    ``classes_`` (0..n_classes_-1, the labels predict returns) and ``n_features_in_``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    >>> rf = RandomForest(n_trees=50, max_depth=6, seed=0).fit(X, y)
    >>> P = rf.predict_proba(X[:3])
    >>> P.shape, bool(np.allclose(P.sum(axis=1), 1)), float(np.mean(rf.predict(X) == y)) > 0.9
    ((3, 4), True, True)
    >>> rf.n_classes_, rf.n_features_in_, len(rf.trees_.roots)
    (4, 5, 50)
    """

    def __init__(self, n_trees=1000, max_depth=10, min_samples_leaf=1, max_features="sqrt", seed=0,
                 n_jobs=None, n_classes=None, bootstrap=True, device="cpu"):
        self.n_trees = n_trees
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.seed = seed
        self.n_jobs = n_jobs
        self.n_classes = n_classes
        self.bootstrap = bootstrap
        self.device = device

    def _params(self) -> dict:
        """The arguments that shape the trees, checked and normalised (max_features is checked in fit,
        against F; ``device``, which shapes nothing, in fit and predict_proba)."""
        thread_count(self.n_jobs)
        return {"n_trees": check_whole(self.n_trees, "n_trees", 1),
                "max_depth": check_whole(self.max_depth, "max_depth", 0, none_ok=True),
                "min_samples_leaf": check_whole(self.min_samples_leaf, "min_samples_leaf", 1),
                "max_features": self.max_features, "seed": check_whole(self.seed, "seed", 0),
                "n_classes": check_whole(self.n_classes, "n_classes", 1, none_ok=True),
                "bootstrap": bool(self.bootstrap)}

    def fit(self, X, y):
        """Grow ``n_trees`` trees on (X, y); returns self.

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 2, 2])
        >>> rf = RandomForest(n_trees=2).fit(X, y)
        >>> rf.classes_, rf.n_features_in_, rf.n_classes        # the argument stays as it was given
        (array([0, 1, 2]), 1, None)
        """
        p = self._params()
        resolve_device(self.device)
        X, y, n_classes = check_X_y(X, y, p["n_classes"])
        seeds = np.random.SeedSequence(p["seed"]).generate_state(p["n_trees"], np.uint64)
        with numba_threads(self.n_jobs):
            trees = cart.grow_forest(X, y, n_classes, seeds, mtry=_mtry(p["max_features"], X.shape[1]),
                                     max_depth=p["max_depth"], min_samples_leaf=p["min_samples_leaf"],
                                     bootstrap=p["bootstrap"])
        self._set_fitted(trees, n_classes, X.shape[1])
        return self

    def _set_fitted(self, trees: cart.Trees, n_classes: int, n_features: int) -> None:
        self.trees_, self.n_classes_, self.n_features_in_ = trees, int(n_classes), int(n_features)
        self.classes_ = np.arange(self.n_classes_)

    def predict_proba(self, X) -> np.ndarray:
        """P(c | x) = (1/T) sum_t value[leaf_t(x), c]: the mean of the leaves' class frequencies.

        With ``device="gpu"`` (the constructor's) a CUDA kernel (``ser_ref.gpu.random_forest``) walks the
        same flat trees, one thread per sample; the result comes back as a NumPy array.

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        >>> RandomForest(n_trees=1, bootstrap=False, max_features=None).fit(X, y).predict_proba([[0.2], [2.7]])
        array([[1., 0.],
               [0., 1.]])
        """
        trees = check_fitted(self, "predict_proba")
        if resolve_device(self.device) == "gpu":  # "cuda" or a typo must not quietly mean the CPU
            from ..runtime.backend import to_host
            from ..gpu.random_forest import forest_predict_proba

            return to_host(forest_predict_proba(self, X))
        X = check_X(X, n_features=self.n_features_in_)
        with numba_threads(self.n_jobs):
            return cart.predict_proba(X, *trees)

    def predict(self, X) -> np.ndarray:
        """arg max_c P(c | x) (ties go to the lower class index).

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        >>> RandomForest(n_trees=3, max_features=None).fit(X, y).predict([[0.2], [2.7]])
        array([0, 1])
        """
        check_fitted(self, "predict")
        return np.argmax(self.predict_proba(X), axis=1)

    # ------------------------------------------------------------ persistence (ser_ref.files.modelfile)
    def save(self, path, meta: dict | None = None) -> None:
        """Write the fitted forest (its flat node arrays and settings, plus ``meta``) to one .npz.

        >>> import os, tempfile
        >>> X = np.random.default_rng(0).normal(size=(40, 3)); y = (X[:, 0] > 0).astype(int)
        >>> rf = RandomForest(n_trees=5, max_depth=3).fit(X, y)
        >>> p = os.path.join(tempfile.mkdtemp(), "rf.npz"); rf.save(p)
        >>> bool(np.array_equal(RandomForest.load(p).predict_proba(X), rf.predict_proba(X)))
        True
        """
        from ..files import modelfile

        trees = check_fitted(self, "save")
        settings = {**self._params(), "n_classes": self.n_classes_, "n_features": self.n_features_in_}
        modelfile.write(path, "random-forest", trees._asdict(), {**(meta or {}), "forest": settings})

    @classmethod
    def load(cls, path, device: str = "cpu") -> "RandomForest":
        """The forest ``save`` wrote, predicting on ``device`` (a file does not record one);
        ``ser_ref.files.modelfile.ModelFileError`` naming the file if it is not one.

        Examples
        --------
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp(); np.savez(os.path.join(folder, "weights.npz"), w=np.ones(2))
        >>> RandomForest.load(os.path.join(folder, "weights.npz"))
        Traceback (most recent call last):
        ...
        ser_ref.files.modelfile.ModelFileError: ...weights.npz: not a ser_ref model file (missing ...)
        """
        from ..files import modelfile

        arrays, meta = modelfile.read(path, kind="random-forest")
        return cls.from_saved(arrays, meta, path, device)

    @classmethod
    def from_saved(cls, arrays: dict, meta: dict, path="<arrays>", device: str = "cpu") -> "RandomForest":
        """The forest from ``modelfile.read``'s (arrays, meta), its node arrays checked for consistency,
        predicting on ``device``.

        Examples
        --------
        >>> import os, tempfile
        >>> from ser_ref.files import modelfile
        >>> X = np.random.default_rng(0).normal(size=(30, 2)); y = (X[:, 0] > 0).astype(int)
        >>> p = os.path.join(tempfile.mkdtemp(), "rf.npz"); RandomForest(n_trees=4).fit(X, y).save(p)
        >>> RandomForest.from_saved(*modelfile.read(p)).n_trees
        4
        """
        from ..files.modelfile import ModelFileError

        s = meta["forest"]
        rf = cls(n_trees=s["n_trees"], max_depth=s["max_depth"], min_samples_leaf=s["min_samples_leaf"],
                 max_features=s["max_features"], seed=s["seed"], n_classes=s["n_classes"], bootstrap=s["bootstrap"],
                 device=device)
        trees = cart.Trees(*(np.ascontiguousarray(arrays[k], dtype=d)
                             for k, d in zip(cart.Trees._fields, cart.TREE_DTYPES)))
        n = len(trees.feature)
        inner = trees.left != LEAF
        if (trees.value.shape != (n, s["n_classes"]) or len(trees.roots) != s["n_trees"]
                or np.any(trees.left[inner] >= n) or np.any(trees.feature[inner] >= s["n_features"])):
            raise ModelFileError(f"{path}: random-forest node arrays are inconsistent")
        rf._set_fitted(trees, s["n_classes"], s["n_features"])
        return rf

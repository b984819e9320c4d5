"""Random-forest prediction on the GPU; reference: ``ser_ref.forest.cart.predict_proba`` (Numba).

The forest is the reference's flat arrays (``ser_ref.forest.cart.Trees``): for node k, ``feature[k]``,
``threshold[k]``, ``left[k]``, ``right[k]`` (-1 at a leaf), ``value[k, :]``; tree t's root is ``roots[t]``.
One thread per sample walks the trees in order and sums in the reference's order:

    leaf_t(x):  k = roots[t];  while left[k] != -1:  k = left[k] if x[feature[k]] <= threshold[k] else right[k]
    P(c | x) = (sum_t value[leaf_t(x), c]) / T

With the same order of additions (tree 0 first) and the float32 feature compared as a float64
against the float64 threshold, the result is bit-identical to the Numba path.
"""
from __future__ import annotations

from ..forest.cart import TREE_DTYPES
from ..errors import SerRefError
from ._cuda import DEFINES, cupy, i32, kernel, launch

MAX_CLASSES = 32

FOREST_SRC = DEFINES + f"#define MAX_CLASSES {MAX_CLASSES}\n" + r"""
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
forest_predict_proba(const float* __restrict__ X, int n, int n_features,
                     const int* __restrict__ roots, int n_trees,
                     const int* __restrict__ feature, const double* __restrict__ threshold,
                     const int* __restrict__ left, const int* __restrict__ right,
                     const double* __restrict__ value, int n_classes,
                     double* __restrict__ out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float* x = X + (long long)i * n_features;
    double acc[MAX_CLASSES];
    for (int c = 0; c < n_classes; ++c) acc[c] = 0.0;
    for (int t = 0; t < n_trees; ++t) {
        int k = roots[t];
        while (left[k] != -1)
            k = ((double)x[feature[k]] <= threshold[k]) ? left[k] : right[k];
        for (int c = 0; c < n_classes; ++c) acc[c] += value[(long long)k * n_classes + c];
    }
    for (int c = 0; c < n_classes; ++c) out[(long long)i * n_classes + c] = acc[c] / n_trees;
}
"""


def cuda_sources():
    return [("forest.predict_proba", FOREST_SRC)]


def trees_to_device(trees):
    """A forest's flat trees (``cart.Trees``, e.g. a fitted ``RandomForest.trees_``) on the device, once:
    (roots, feature, threshold, left, right, value)."""
    cp = cupy()
    return tuple(cp.asarray(a, dtype=d) for a, d in zip(trees, TREE_DTYPES))


def predict_proba(X, roots, feature, threshold, left, right, value):
    """P(c | x) (n, n_classes) float64 cupy for X (n, n_features) on the flat trees (cupy or NumPy arrays)."""
    cp = cupy()
    X = cp.ascontiguousarray(cp.asarray(X, dtype=cp.float32))
    if X.ndim != 2:
        raise SerRefError(f"X: expected (n_samples, n_features), got shape {X.shape}")
    arrays = [cp.ascontiguousarray(cp.asarray(a, dtype=d)) for a, d in
              zip((roots, feature, threshold, left, right, value), TREE_DTYPES)]
    roots, feature, threshold, left, right, value = arrays
    n_classes = value.shape[1]
    if n_classes > MAX_CLASSES:
        raise SerRefError(f"GPU forest prediction supports up to {MAX_CLASSES} classes, got {n_classes}")
    out = cp.empty((X.shape[0], n_classes), dtype=cp.float64)
    launch(kernel(FOREST_SRC, "forest_predict_proba"), X.shape[0], X, i32(X.shape[0]), i32(X.shape[1]),
           roots, i32(roots.size), feature, threshold, left, right, value, i32(n_classes), out, block=128)
    return out

"""Dense (affine) layer.

    forward:   y = x W + b                 x (N, n_in), W (n_in, n_out), b (n_out,)
    backward:  dx = dy W^T,  dW = x^T dy,  db = sum_n dy[n]
"""
from __future__ import annotations

from .checks import NNInputError, check_ndim


def dense_forward(x, W, b):
    """y = x W + b for a batch of row vectors x (N, n_in). Returns (y, cache)."""
    check_ndim(x, 2, "x")
    if x.shape[1] != W.shape[0] or b.shape != (W.shape[1],):
        raise NNInputError(f"dense: x {x.shape}, W {W.shape}, b {b.shape} do not fit y = x W + b")
    return x @ W + b, (x, W)


def dense_backward(dy, cache, need_dx: bool = True):
    """dx = dy W^T, dW = x^T dy, db = sum over rows of dy. Returns (dx, dW, db).

    ``need_dx=False`` skips dx (None) for a first layer: it is the largest product of the pass
    and nothing upstream of the input needs it."""
    x, W = cache
    dx = dy @ W.T if need_dx else None
    return dx, x.T @ dy, dy.sum(axis=0)

"""Dense (affine) layer.

    forward:   y = x W + b                 x (N, n_in), W (n_in, n_out), b (n_out,)
    backward:  dx = dy W^T,  dW = x^T dy,  db = sum_n dy[n]
"""
from __future__ import annotations

from .validation import NNInputError, check_ndim


def dense_forward(x, W, b):
    """y = x W + b for a batch of row vectors x (N, n_in). Returns (y, cache).

    Examples
    --------
    >>> import numpy as np
    >>> y, _ = dense_forward(np.array([[1.0, 2.0]]), np.array([[1.0], [10.0]]), np.array([0.5]))
    >>> y
    array([[21.5]])
    """
    check_ndim(x, 2, "x")
    if x.shape[1] != W.shape[0] or b.shape != (W.shape[1],):
        raise NNInputError(f"dense: x {x.shape}, W {W.shape}, b {b.shape} do not fit y = x W + b")
    return x @ W + b, (x, W)


def dense_backward(dy, cache, need_dx: bool = True):
    """dx = dy W^T, dW = x^T dy, db = sum over rows of dy. Returns (dx, dW, db).

    ``need_dx=False`` skips dx (None) for a first layer: it is the largest product of the pass
    and nothing upstream of the input needs it.

    Examples
    --------
    >>> import numpy as np
    >>> x, W = np.array([[1.0, 2.0]]), np.array([[1.0], [10.0]])
    >>> _, cache = dense_forward(x, W, np.zeros(1))
    >>> dx, dW, db = dense_backward(np.array([[1.0]]), cache)
    >>> dx, dW.T, db
    (array([[ 1., 10.]]), array([[1., 2.]]), array([1.]))
    """
    x, W = cache
    dx = dy @ W.T if need_dx else None
    return dx, x.T @ dy, dy.sum(axis=0)

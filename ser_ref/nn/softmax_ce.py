"""Softmax with (weighted) cross-entropy, fused so the gradient is the well-known p - onehot.

    log p[n, k] = z[n, k] - max_j z[n, j] - log sum_j exp(z[n, j] - max_j z[n, j])
    L           = sum_n w[n] (-log p[n, y[n]]) / sum_n w[n]
    dL/dz[n, k] = w[n] (p[n, k] - [k == y[n]]) / sum_n w[n]

``gpu/softmax_ce.py`` fuses the same into one kernel; ``ser_ref.dispatch`` picks it for CuPy logits.
"""
from __future__ import annotations

import numpy as np

from ..runtime.backend import array_module
from .validation import NNInputError, check_labels, check_ndim


def log_softmax(z):
    """log softmax over the last axis, shifted by the row maximum so exp never overflows.

    Examples
    --------
    >>> np.round(np.exp(log_softmax(np.array([[1000.0, 1000.0]]))), 6)    # no overflow
    array([[0.5, 0.5]])
    """
    xp = array_module(z)
    s = z - z.max(axis=-1, keepdims=True)
    return s - xp.log(xp.exp(s).sum(axis=-1, keepdims=True))


def softmax(z):
    """softmax over the last axis (exp of log_softmax).

    Examples
    --------
    >>> np.round(softmax(np.array([0.0, np.log(3.0)])), 6)
    array([0.25, 0.75])
    """
    return array_module(z).exp(log_softmax(z))


def softmax_cross_entropy_forward(z, y, w=None):
    """Mean cross-entropy of logits z (N, K) against integer labels y (N,), weights w (N,).

    L = sum_n w[n] (-log softmax(z)[n, y[n]]) / sum_n w[n]   (w = 1 when None). Returns (L, cache).

    Examples
    --------
    >>> loss, cache = softmax_cross_entropy_forward(np.zeros((2, 4)), np.array([0, 3]))
    >>> round(float(loss), 6) == round(float(np.log(4)), 6)              # uniform over 4 classes
    True
    """
    xp = array_module(z)
    check_ndim(z, 2, "logits")
    if y.shape != (z.shape[0],):
        raise NNInputError(f"labels y {y.shape} do not match logits {z.shape}")
    y = check_labels(y, z.shape[0], z.shape[1], name="labels y")  # y = -1 would index the last class
    if w is None:
        w = xp.ones(z.shape[0], dtype=z.dtype)
    logp = log_softmax(z)
    nll = -logp[xp.arange(z.shape[0]), y]
    wsum = w.sum()
    loss = (w * nll).sum() / wsum
    return loss, (logp, y, w, wsum)


def softmax_cross_entropy_backward(cache, dloss=1.0):
    """dz[n, k] = dloss * w[n] (p[n, k] - [k == y[n]]) / sum_n w[n].

    Examples
    --------
    >>> _, cache = softmax_cross_entropy_forward(np.zeros((1, 4)), np.array([2]))
    >>> softmax_cross_entropy_backward(cache)                            # p - onehot(y)
    array([[ 0.25,  0.25, -0.75,  0.25]])
    """
    logp, y, w, wsum = cache
    xp = array_module(logp)
    dz = xp.exp(logp)
    dz[xp.arange(dz.shape[0]), y] -= 1.0
    return dz * (dloss * w / wsum)[:, None].astype(dz.dtype)

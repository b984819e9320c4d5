"""The three small networks the paper's four models are built from, each as an init, a logits
function and a loss-and-gradients function on a dict of parameters (what the gradient checks and
the training loop use):

    mlp          x -> [dense -> relu]* -> dense -> softmax-CE     (Dense1 / Frame Dense; Dense2 with no hidden layer)
    lstm_clf     x_1..x_T -> LSTM -> h_T -> dense -> softmax-CE   (the LSTM model; LSTM2)

Initialisation follows the Keras defaults the paper would have used: Glorot-uniform input kernels,
orthogonal recurrent kernel, zero biases except the forget gate's, which starts at 1 (Keras
``unit_forget_bias=True``) so that early in training the cell remembers instead of forgetting.
"""
from __future__ import annotations

import numpy as np

from ..dispatch import lstm_backward, lstm_forward, softmax_cross_entropy_backward, softmax_cross_entropy_forward
from ..runtime.backend import array_module
from .activations import relu_backward, relu_forward
from .dense import dense_backward, dense_forward


def glorot_uniform(rng, n_in, n_out, dtype=np.float32):
    """U(-l, l) with l = sqrt(6 / (n_in + n_out)).

    Examples
    --------
    >>> W = glorot_uniform(np.random.default_rng(0), 100, 50)
    >>> W.shape, bool(np.abs(W).max() <= np.sqrt(6 / 150))
    ((100, 50), True)
    """
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out)).astype(dtype)


def orthogonal(rng, rows, cols, dtype=np.float32):
    """A (rows, cols) matrix with orthonormal rows (or columns), the Q of a Gaussian's QR.

    Examples
    --------
    >>> Q = orthogonal(np.random.default_rng(0), 3, 12)
    >>> bool(np.allclose(Q @ Q.T, np.eye(3), atol=1e-6))
    True
    """
    a = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return (q if rows >= cols else q.T).astype(dtype, order="C")  # C order, as every other parameter


# ---------------------------------------------------------------- mlp
def mlp_init(rng, sizes, dtype=np.float32):
    """Parameters W0, b0, W1, b1, ... of a chain of dense layers with sizes [n_in, h1, ..., n_out].

    Examples
    --------
    >>> p = mlp_init(np.random.default_rng(0), [2048, 204, 4])
    >>> {k: v.shape for k, v in p.items()}
    {'W0': (2048, 204), 'b0': (204,), 'W1': (204, 4), 'b1': (4,)}
    """
    p = {}
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        p[f"W{k}"] = glorot_uniform(rng, a, b, dtype)
        p[f"b{k}"] = np.zeros(b, dtype=dtype)
    return p


def _n_dense(p):
    return sum(1 for k in p if k.startswith("W"))


def mlp_logits(p, x):
    """z = W_L relu(... relu(x W_0 + b_0) ...) + b_L. Returns (z, caches).

    Examples
    --------
    >>> p = mlp_init(np.random.default_rng(0), [6, 5, 4])
    >>> z, _ = mlp_logits(p, np.ones((3, 6), np.float32))
    >>> z.shape
    (3, 4)
    """
    caches = []
    h = x
    n = _n_dense(p)
    for k in range(n):
        h, dc = dense_forward(h, p[f"W{k}"], p[f"b{k}"])
        rc = None
        if k < n - 1:
            h, rc = relu_forward(h)
        caches.append((dc, rc))
    return h, caches


def mlp_loss_grads(p, x, y, w=None):
    """Weighted softmax cross-entropy of the mlp and its gradient with respect to every parameter.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = {k: v.astype(np.float64) for k, v in mlp_init(rng, [3, 4, 2]).items()}
    >>> x, y = rng.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    >>> loss, g = mlp_loss_grads(p, x, y)
    >>> q = dict(p); q["W0"] = p["W0"].copy(); q["W0"][0, 0] += 1e-6
    >>> bool(abs((mlp_loss_grads(q, x, y)[0] - loss) / 1e-6 - g["W0"][0, 0]) < 1e-5)
    True
    """
    z, caches = mlp_logits(p, x)
    loss, ce = softmax_cross_entropy_forward(z, y, w)
    d = softmax_cross_entropy_backward(ce)
    grads = {}
    for k in range(len(caches) - 1, -1, -1):
        dc, rc = caches[k]
        if rc is not None:
            d = relu_backward(d, rc)
        d, grads[f"W{k}"], grads[f"b{k}"] = dense_backward(d, dc, need_dx=k > 0)
    return loss, grads


# ---------------------------------------------------------------- lstm_clf
def lstm_clf_init(rng, n_in, units, n_out, dtype=np.float32):
    """LSTM (W, U, b) followed by a dense softmax layer (Wo, bo).

    Examples
    --------
    >>> p = lstm_clf_init(np.random.default_rng(0), 4, 20, 4)
    >>> {k: v.shape for k, v in p.items()}, float(p["b"][20:40].min())     # forget-gate bias 1
    ({'W': (4, 80), 'U': (20, 80), 'b': (80,), 'Wo': (20, 4), 'bo': (4,)}, 1.0)
    """
    b = np.zeros(4 * units, dtype=dtype)
    b[units:2 * units] = 1.0  # forget gate bias 1 (Keras unit_forget_bias)
    return {
        "W": glorot_uniform(rng, n_in, 4 * units, dtype),
        "U": orthogonal(rng, units, 4 * units, dtype),
        "b": b,
        "Wo": glorot_uniform(rng, units, n_out, dtype),
        "bo": np.zeros(n_out, dtype=dtype),
    }


def lstm_clf_logits(p, x, mask=None, activation="relu"):
    """z = h_T Wo + bo, with h_T the LSTM's last real state (padding carries the state). Returns (z, cache).

    Examples
    --------
    >>> p = lstm_clf_init(np.random.default_rng(0), 4, 20, 4)
    >>> z, _ = lstm_clf_logits(p, np.ones((2, 7, 4), np.float32))
    >>> z.shape
    (2, 4)
    """
    h, lc = lstm_forward(x, p["W"], p["U"], p["b"], activation=activation, mask=mask)
    z, dc = dense_forward(h[:, -1], p["Wo"], p["bo"])
    return z, (lc, dc, h.shape)


def lstm_clf_loss_grads(p, x, y, w=None, mask=None, activation="relu", need_dx=False):
    """Weighted softmax cross-entropy of the LSTM classifier and its gradient for every parameter.

    Examples
    --------
    >>> p = lstm_clf_init(np.random.default_rng(0), 4, 3, 2)
    >>> loss, g = lstm_clf_loss_grads(p, np.ones((2, 5, 4), np.float32), np.array([0, 1]))
    >>> sorted(g), bool(np.isfinite(loss))
    (['U', 'W', 'Wo', 'b', 'bo'], True)
    """
    z, (lc, dc, hshape) = lstm_clf_logits(p, x, mask, activation)
    loss, ce = softmax_cross_entropy_forward(z, y, w)
    dz = softmax_cross_entropy_backward(ce)
    dhT, dWo, dbo = dense_backward(dz, dc)
    xp = array_module(dhT)
    dh = xp.zeros(hshape, dtype=dhT.dtype)
    dh[:, -1] = dhT  # only the last output feeds the classifier
    dx, dW, dU, db = lstm_backward(dh, lc, need_dx=need_dx)
    grads = {"W": dW, "U": dU, "b": db, "Wo": dWo, "bo": dbo}
    if need_dx:
        grads["x"] = dx
    return loss, grads

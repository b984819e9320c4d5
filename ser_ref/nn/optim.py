"""Adam, L2 weight decay and global gradient-norm clipping on dicts of parameter arrays.

    Adam:  m <- b1 m + (1-b1) g,   v <- b2 v + (1-b2) g^2,
           p <- p - lr sqrt(1-b2^t) / (1-b1^t) * m / (sqrt(v) + eps)      (the Keras/TF form)
    decay: g <- g + wd * p        for weight matrices only (names starting with W or U), not biases
    clip:  g <- g * min(1, c / ||g||_2)   with ||g|| over all parameters together
    flush: p <- 0 where |p| < the dtype's smallest normal number

Flush to zero: a parameter that falls below the smallest normal number (1.2e-38 in float32) is set
to 0. Why: a weight whose only gradient is the decay shrinks geometrically once |wd p| << eps (the
step is then ~ lr wd p / eps), down through the subnormal range, where every product that reads it
costs ~100x (LSTM2's weights do this: its training ran 2-4x slower). Zero is the value such a
weight is heading for; PyTorch offers the same as ``torch.set_flush_denormal``.

The Adam update of NumPy arrays runs as one compiled pass per parameter (``_adam_update_compiled``);
it does the array formula's float operations in the same order and precision, so its bits equal
``adam_update_arrays``' (the formula as array operations, used for CuPy), which a test checks.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..runtime.backend import array_module


def adam_init(params):
    """Zero first and second moments for every parameter, step count 0.

    Examples
    --------
    >>> import numpy as np
    >>> s = adam_init({"W": np.ones((2, 2))})
    >>> s["t"], float(s["m"]["W"].sum())
    (0, 0.0)
    """
    xp = array_module(*params.values())
    return {"t": 0, "m": {k: xp.zeros_like(v) for k, v in params.items()},
            "v": {k: xp.zeros_like(v) for k, v in params.items()}}


def adam_step(params, grads, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    """One in-place Adam update of ``params`` (eps 1e-7 as in Keras).

    Examples
    --------
    >>> import numpy as np
    >>> p = {"w": np.array([1.0])}; s = adam_init(p)
    >>> adam_step(p, {"w": np.array([0.5])}, s, lr=0.1)
    >>> np.round(p["w"], 6)                    # the first step is lr * sign(g)
    array([0.9])
    """
    state["t"] += 1
    t = state["t"]
    step = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    consts = {}  # per dtype: the array formula rounds every Python float to the arrays' dtype
    for k, g in grads.items():
        p, m, v = params[k], state["m"][k], state["v"][k]
        if _compilable(p, g, m, v):
            c = consts.get(p.dtype)
            if c is None:
                t = p.dtype.type
                c = consts[p.dtype] = (t(b1), t(1 - b1), t(b2), t(1 - b2), t(step), t(eps), t(np.finfo(t).tiny))
            _adam_update_compiled(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), *c)
        else:
            adam_update_arrays(p, g, m, v, b1, b2, step, eps)


def adam_update_arrays(p, g, m, v, b1, b2, step, eps):
    """m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= step m / (sqrt(v) + eps), in place,
    as NumPy or CuPy array operations (``step`` already holds the bias corrections).

    Examples
    --------
    >>> import numpy as np
    >>> p, m, v = np.array([1.0]), np.zeros(1), np.zeros(1)
    >>> adam_update_arrays(p, np.array([2.0]), m, v, 0.9, 0.999, 0.1, 0.0)
    >>> m, v, p                                  # p -= 0.1 * 0.2 / sqrt(0.004)
    (array([0.2]), array([0.004]), array([0.68377223]))
    """
    xp = array_module(p)
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * (g * g)
    p -= step * m / (xp.sqrt(v) + eps)
    p[xp.abs(p) < xp.finfo(p.dtype).tiny] = 0  # flush to zero: see the module docstring


def _compilable(*arrays):
    a0 = arrays[0]
    if type(a0) is not np.ndarray or a0.dtype not in _COMPILED_DTYPES:
        return False
    return all(type(a) is np.ndarray and a.dtype == a0.dtype and a.shape == a0.shape and a.flags.c_contiguous
               for a in arrays)


_COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@njit(cache=True, error_model="numpy")  # numpy error model: IEEE division, so the loop vectorises
def _adam_update_compiled(p, g, m, v, b1, c1, b2, c2, step, eps, tiny):
    for k in range(p.size):
        gk = g[k]
        mk = m[k] * b1 + c1 * gk          # two roundings each, as m *= b1; m += (1 - b1) g
        vk = v[k] * b2 + c2 * (gk * gk)
        m[k] = mk
        v[k] = vk
        pk = p[k] - (step * mk) / (np.sqrt(vk) + eps)
        p[k] = pk if abs(pk) >= tiny else 0.0


def add_weight_decay(grads, params, wd):
    """g += wd * p for the weight matrices (L2 penalty wd/2 ||W||^2); biases are not decayed.

    Examples
    --------
    >>> import numpy as np
    >>> g = {"W0": np.zeros(2), "b0": np.zeros(2)}
    >>> add_weight_decay(g, {"W0": np.ones(2), "b0": np.ones(2)}, 0.1)
    >>> g["W0"], g["b0"]
    (array([0.1, 0.1]), array([0., 0.]))
    """
    if wd:
        for k in grads:
            if k[0] in "WU":
                grads[k] += wd * params[k]


def clip_grad_norm(grads, max_norm):
    """Scale all gradients together so their joint 2-norm is at most ``max_norm``; returns the norm before.

    Examples
    --------
    >>> import numpy as np
    >>> g = {"a": np.array([3.0]), "b": np.array([4.0])}
    >>> float(clip_grad_norm(g, 1.0)), g["a"], g["b"]
    (5.0, array([0.6]), array([0.8]))
    """
    xp = array_module(*grads.values())
    norm = float(xp.sqrt(sum((g.astype(xp.float64) ** 2).sum() for g in grads.values())))
    if max_norm and norm > max_norm:
        s = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= s
    return norm

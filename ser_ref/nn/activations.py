"""Elementwise activations and their derivatives, written so they never overflow.

    relu(z)    = max(z, 0)             relu'(z)    = [z > 0]
    sigmoid(z) = 1 / (1 + exp(-z))     sigmoid'(z) = s (1 - s)
    tanh(z)                            tanh'(z)    = 1 - tanh(z)^2
"""
from __future__ import annotations

from ..runtime.backend import array_module
from .validation import NNInputError

CELL_ACTIVATIONS = ("tanh", "relu")


def check_activation(name):
    """``name`` if it is an LSTM cell activation, else NNInputError naming the ones there are.

    >>> check_activation("relu")
    'relu'
    """
    if name not in CELL_ACTIVATIONS:
        raise NNInputError(f"activation must be one of {CELL_ACTIVATIONS}, got {name!r}")
    return name


def relu_forward(z):
    """y = max(z, 0). Returns (y, cache).

    Examples
    --------
    >>> import numpy as np
    >>> y, cache = relu_forward(np.array([-1.0, 0.0, 2.0]))
    >>> y
    array([0., 0., 2.])
    """
    xp = array_module(z)
    y = xp.maximum(z, 0)
    return y, z


def relu_backward(dy, cache):
    """dz = dy * [z > 0].

    Examples
    --------
    >>> import numpy as np
    >>> _, cache = relu_forward(np.array([-1.0, 0.5, 2.0]))
    >>> relu_backward(np.ones(3), cache)
    array([0., 1., 1.])
    """
    z = cache
    return dy * (z > 0)


def sigmoid(z):
    """sigmoid(z) = (1 + tanh(z/2)) / 2: the same function as 1/(1+exp(-z)), but exp never overflows.

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid(np.array([-800.0, 0.0, 800.0]))          # no overflow warning at the extremes
    array([0. , 0.5, 1. ])
    """
    xp = array_module(z)
    return 0.5 * (1.0 + xp.tanh(0.5 * z))


def activate(z, name):
    """The LSTM cell activation: tanh(z) or relu(z) (Keras ``LSTM(activation=...)``).

    Examples
    --------
    >>> import numpy as np
    >>> activate(np.array([-1.0, 2.0]), "relu"), np.round(activate(np.array([0.0]), "tanh"), 6)
    (array([0., 2.]), array([0.]))
    """
    xp = array_module(z)
    if name == "tanh":
        return xp.tanh(z)
    if check_activation(name) == "relu":
        return xp.maximum(z, 0)


def activate_grad_from_output(a, name):
    """act'(z) written in terms of a = act(z): 1 - a^2 for tanh, [a > 0] for relu.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([0.3]); a = activate(z, "tanh")
    >>> bool(np.allclose(activate_grad_from_output(a, "tanh"), 1 / np.cosh(z) ** 2))
    True
    """
    if name == "tanh":
        return 1.0 - a * a
    if check_activation(name) == "relu":
        return (a > 0).astype(a.dtype)

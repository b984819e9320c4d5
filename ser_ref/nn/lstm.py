"""LSTM layer with backpropagation through time (Keras ``LSTM`` semantics, batch first).

Weights: W (n_in, 4H), U (H, 4H), b (4H,). The 4H columns are the gates in the Keras and
PyTorch order  [ input i | forget f | candidate g | output o ],  one bias per gate (PyTorch's
two biases b_ih + b_hh add up to this one). For step t, with act = tanh or relu:

    z_t = x_t W + h_{t-1} U + b
    i = sigmoid(z_i)   f = sigmoid(z_f)   g = act(z_g)   o = sigmoid(z_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * act(c_t)

``activation="relu"`` is Keras ``LSTM(activation="relu")``: relu replaces tanh in both places
(candidate and cell output); the gates keep the sigmoid. h_0 = c_0 = 0.

Masks (batch, T), 1 = real frame, 0 = padding: at a padded step the state is carried over,
    h_t = m_t h_t' + (1 - m_t) h_{t-1},   c_t likewise,
so the output at the last position h[:, -1] is every sequence's last real state, whatever its
length (right padding). This is what Keras does with a mask.

Backward, with dH = dL/dh_t (from the output and from step t+1), dC = dL/dc_t (from step t+1):
    dh' = m dH                         dc' = m dC + dh' * o * act'(c')
    do = dh' * act(c')                 di = dc' * g     dg = dc' * i     df = dc' * c_{t-1}
    dz = [di i(1-i), df f(1-f), dg act'(z_g), do o(1-o)]
    dh_{t-1} = dz U^T + (1-m) dH       dc_{t-1} = dc' f + (1-m) dC
    dW = sum_t x_t^T dz_t,  dU = sum_t h_{t-1}^T dz_t,  db = sum_t dz_t,  dx_t = dz_t W^T
The input products (x W and dz W^T, x^T dz) are done once for all steps as single large matrix
products; only the small recurrent products run inside the time loop.

Three paths, one truth: ``lstm_forward_reference`` / ``lstm_backward_reference`` are the loop above in
plain NumPy; ``lstm_forward`` / ``lstm_backward`` run the same loop compiled (``nn/lstm_loop.py``), and
``gpu/lstm.py`` runs it as fused CUDA kernels (``ser_ref.dispatch`` picks that one for CuPy arrays).
Both fast paths are tested against the reference, and the reference against PyTorch and finite differences.
"""
from __future__ import annotations

import numpy as np

from .activations import activate, activate_grad_from_output, check_activation, sigmoid
from .lstm_loop import backward_steps, forward_steps
from .validation import check_lstm_args


def lstm_forward(x, W, U, b, activation="tanh", mask=None):
    """h_t = o_t * act(c_t) for every step of x (batch, T, n_in). Returns (h (batch, T, H), cache).

    The time loop runs compiled (``nn/lstm_loop.py``) on NumPy arrays (``ser_ref.dispatch.lstm_forward``
    takes CuPy ones to the GPU); ``lstm_forward_reference`` is the same loop in plain NumPy.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2, 5, 3)); W, U, b = rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), np.zeros(8)
    >>> h, cache = lstm_forward(x, W, U, b)
    >>> h.shape, bool(np.all(np.abs(h) < 1))            # h = o * tanh(c): inside (-1, 1)
    ((2, 5, 2), True)
    >>> m = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    >>> hm, _ = lstm_forward(x, W, U, b, mask=m)         # padding carries the last real state
    >>> bool(np.allclose(hm[0, -1], h[0, 2]))
    True
    """
    B, T, n_in, H = check_lstm_args(x, W, U, b, mask)
    dt = x.dtype
    m = None if mask is None else mask.astype(dt)[:, :, None]
    Zx = _input_projection(x, W, b)
    gates, c_new = np.empty((B, T, 4 * H), dtype=dt), np.empty((B, T, H), dtype=dt)
    hs, cs = np.empty((B, T + 1, H), dtype=dt), np.empty((B, T + 1, H), dtype=dt)
    forward_steps(Zx, _as_float64(U), _mask_or_ones(m, B, T, dt), _is_relu(activation), gates, c_new, hs, cs)
    return hs[:, 1:], (x, W, U, activation, m, gates, c_new, hs, cs)


def _input_projection(x, W, b):
    """Zx_t = x_t W + b for all steps at once: one (B*T, n_in) x (n_in, 4H) product."""
    B, T, n_in = x.shape
    return (x.reshape(B * T, n_in) @ W + b).reshape(B, T, W.shape[1])


def _as_float64(U):
    """U as the float64 values the loop computes with, converted once per call rather than at each
    of the B x T steps (the same values either way)."""
    return np.ascontiguousarray(U, dtype=np.float64)


def _mask_or_ones(m, B, T, dt):
    return np.ones((B, T), dtype=dt) if m is None else np.ascontiguousarray(m[:, :, 0])


def _is_relu(activation):
    return check_activation(activation) == "relu"


def lstm_forward_reference(x, W, U, b, activation="tanh", mask=None):
    """``lstm_forward`` as a plain NumPy loop over t, the equations of the module docstring line by line.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2, 5, 3)); W, U, b = rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), np.zeros(8)
    >>> h, cache = lstm_forward_reference(x, W, U, b)
    >>> h.shape
    (2, 5, 2)
    """
    B, T, n_in, H = check_lstm_args(x, W, U, b, mask)
    dt = x.dtype
    m = None if mask is None else mask.astype(dt)[:, :, None]
    Zx = _input_projection(x, W, b)
    gates = np.empty((B, T, 4 * H), dtype=dt)  # i, f, g, o after their nonlinearities
    c_new = np.empty((B, T, H), dtype=dt)      # c' before the mask carry
    hs = np.empty((B, T + 1, H), dtype=dt)     # hs[:, t] = h_{t-1}; hs[:, 0] = h_0 = 0
    cs = np.empty((B, T + 1, H), dtype=dt)
    hs[:, 0] = 0
    cs[:, 0] = 0
    for t in range(T):
        z = Zx[:, t] + hs[:, t] @ U
        a = gates[:, t]
        a[:, :2 * H] = sigmoid(z[:, :2 * H])
        a[:, 2 * H:3 * H] = activate(z[:, 2 * H:3 * H], activation)
        a[:, 3 * H:] = sigmoid(z[:, 3 * H:])
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        c = f * cs[:, t] + i * g
        c_new[:, t] = c
        h = o * activate(c, activation)
        if m is None:
            cs[:, t + 1] = c
            hs[:, t + 1] = h
        else:
            mt = m[:, t]
            cs[:, t + 1] = mt * c + (1 - mt) * cs[:, t]
            hs[:, t + 1] = mt * h + (1 - mt) * hs[:, t]
    cache = (x, W, U, activation, m, gates, c_new, hs, cs)
    return hs[:, 1:], cache


def lstm_backward(dh, cache, need_dx: bool = True):
    """Backpropagation through time for ``lstm_forward``: dh (batch, T, H) = dL/dh_t.

    Compiled time loop on NumPy arrays (``ser_ref.dispatch.lstm_backward`` takes CuPy ones to the GPU);
    ``lstm_backward_reference`` is the plain NumPy loop. Any forward's cache works with any backward.

    Returns (dx, dW, dU, db); dx is None when ``need_dx=False`` (a first layer).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(1, 4, 3)); W, U, b = rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), np.zeros(8)
    >>> h, cache = lstm_forward(x, W, U, b)
    >>> dx, dW, dU, db = lstm_backward(np.ones_like(h), cache)     # dL/d(.) of L = sum h
    >>> e = np.zeros_like(W); e[1, 2] = 1e-6
    >>> fd = (lstm_forward(x, W + e, U, b)[0].sum() - lstm_forward(x, W - e, U, b)[0].sum()) / 2e-6
    >>> bool(abs(dW[1, 2] - fd) < 1e-6)                            # a finite difference agrees
    True
    """
    x, W, U, activation, m, gates, c_new, hs, cs = cache
    B, T, H = dh.shape
    dt = dh.dtype
    dZ = np.empty((B, T, 4 * H), dtype=dt)
    tiny = np.finfo(dt).tiny
    backward_steps(np.ascontiguousarray(dh), _as_float64(U.T), _mask_or_ones(m, B, T, dt),
                   _is_relu(activation), gates, c_new, cs, float(tiny * 2.0 ** 24), float(tiny), dZ)
    return lstm_input_grads(dZ, x, W, hs, need_dx)


def lstm_backward_reference(dh, cache, need_dx: bool = True):
    """``lstm_backward`` as a plain NumPy loop over t, the backward equations of the module docstring.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(1, 4, 3)); W, U, b = rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), np.zeros(8)
    >>> h, cache = lstm_forward_reference(x, W, U, b)
    >>> dx, dW, dU, db = lstm_backward_reference(np.ones_like(h), cache)
    >>> dW.shape
    (3, 8)
    """
    x, W, U, activation, m, gates, c_new, hs, cs = cache
    B, T, n_in = x.shape
    H = U.shape[0]
    dZ = np.empty((B, T, 4 * H), dtype=dh.dtype)
    dH_next = np.zeros((B, H), dtype=dh.dtype)
    dC_next = np.zeros((B, H), dtype=dh.dtype)
    UT = U.T
    tiny = np.finfo(dh.dtype).tiny
    # flush level for the carried gradients: 2^24 x the smallest normal number (2e-31 in float32),
    # so that the products of a step (factors like i(1-i) that can be small) stay normal too
    flush = tiny * 2.0 ** 24
    for t in range(T - 1, -1, -1):
        dH = dh[:, t] + dH_next
        dC = dC_next
        a = gates[:, t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        act_c = activate(c_new[:, t], activation)
        if m is None:
            dh_new, dc_new = dH, dC
        else:
            mt = m[:, t]
            dh_new, dc_new = mt * dH, mt * dC
        dc_new = dc_new + dh_new * o * activate_grad_from_output(act_c, activation)
        dz = dZ[:, t]
        dz[:, :H] = dc_new * g * i * (1 - i)
        dz[:, H:2 * H] = dc_new * cs[:, t] * f * (1 - f)
        dz[:, 2 * H:3 * H] = dc_new * i * activate_grad_from_output(g, activation)
        dz[:, 3 * H:] = dh_new * act_c * o * (1 - o)
        dH_next = dz @ UT
        dC_next = dc_new * f
        if m is not None:  # a padded step passed h_{t-1}, c_{t-1} straight through
            dH_next += (1 - mt) * dH
            dC_next += (1 - mt) * dC
        # Gradients decaying through many steps reach the subnormal range, where the CPU computes
        # ~100x slower (NumPy has no flush-to-zero). They are far below any tolerance (relative
        # to the gradient that enters, 1e-30 and less), so flush them to zero.
        dH_next[np.abs(dH_next) < flush] = 0
        dC_next[np.abs(dC_next) < flush] = 0
    # the same flush before the large products (one 2048-wide dW product went from 0.06 s to 9 s)
    dZ[np.abs(dZ) < tiny] = 0
    return lstm_input_grads(dZ, x, W, hs, need_dx)


def lstm_input_grads(dZ, x, W, hs, need_dx: bool = True):
    """Given dZ (B, T, 4H) = dL/d(pre-activations) from the time loop, the products that need no loop:

        dW = sum_t x_t^T dZ_t,   dU = sum_t h_{t-1}^T dZ_t,   db = sum_t sum_b dZ_t,   dx_t = dZ_t W^T

    each as one large matrix product over all B*T rows (hs[:, t] holds h_{t-1}, hs[:, 0] = 0).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dZ, x, W, hs = rng.normal(size=(1, 2, 8)), rng.normal(size=(1, 2, 3)), rng.normal(size=(3, 8)), rng.normal(size=(1, 3, 2))
    >>> dx, dW, dU, db = lstm_input_grads(dZ, x, W, hs)
    >>> dx.shape, dW.shape, dU.shape, db.shape
    ((1, 2, 3), (3, 8), (2, 8), (8,))
    """
    B, T, n_in = x.shape
    H = hs.shape[-1]
    dZ2 = dZ.reshape(B * T, 4 * H)
    dW = x.reshape(B * T, n_in).T @ dZ2
    dU = hs[:, :-1].reshape(B * T, H).T @ dZ2
    db = dZ2.sum(axis=0)
    dx = (dZ2 @ W.T).reshape(B, T, n_in) if need_dx else None
    return dx, dW, dU, db

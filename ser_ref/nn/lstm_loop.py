"""The LSTM's time loop compiled with Numba: the fast CPU path of ``nn/lstm.py``.

``nn/lstm.py`` holds the equations and the plain NumPy loop (``lstm_forward_reference``,
``lstm_backward_reference``); this module runs the same steps, one sequence at a time, in compiled
loops. Why: with H = 20 units a step is a (B, 20) x (20, 80) product and a dozen small elementwise
operations, so the NumPy loop spends most of its time dispatching them, one call per operation and
step; LSTM2 (4 inputs, chunks of 5-80 steps, up to 14,000 steps per fit) is nearly nothing else.
The large input products (x W, x^T dz) stay in ``nn/lstm.py`` as single BLAS calls.

Where the time goes now (H = 20, one row-step ~0.6 us each way): in the forward, the 60 gate
exponentials (libm calls, not vectorised) and the h U product (~8 GMAC/s: the compiler does not
vectorise it well); ``bench/bench_nn.py`` times both paths.

Numerics: each step is computed in float64 scalars and rounded to the arrays' dtype when stored, so
float32 results agree with the float32 reference to its rounding, float64 ones to ~1e-15. The loops
are serial and their order is fixed: the bits never depend on the thread count. The carried
gradients are flushed below the same level as in the reference (its docstring says why).

>>> import numpy as np
>>> from ser_ref.nn.lstm import lstm_forward, lstm_forward_reference
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(2, 5, 3)); W, U, b = rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), np.zeros(8)
>>> bool(np.allclose(lstm_forward(x, W, U, b)[0], lstm_forward_reference(x, W, U, b)[0], rtol=0, atol=1e-13))
True
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def _sigmoid(z):
    # 1 / (1 + e^-z): ~3x cheaper than the reference's (1 + tanh(z/2)) / 2 and as accurate; in
    # float64, e^-z overflowing to inf for z < -709 gives the right limit 0, with no warning
    return 1.0 / (1.0 + math.exp(-z))


@njit(cache=True, error_model="numpy")
def _act(z, relu):
    if relu:
        return max(z, 0.0)
    return math.tanh(z)


@njit(cache=True, error_model="numpy")
def _act_grad_from_output(a, relu):
    if relu:
        return 1.0 if a > 0.0 else 0.0
    return 1.0 - a * a


@njit(cache=True, error_model="numpy")
def forward_steps(Zx, U, m, relu, gates, c_new, hs, cs):
    """For t = 0..T-1 and every sequence b (Zx[b, t] = x_t W + b, precomputed):

        z = Zx[b, t] + h_{t-1} U;  i, f, o = sigmoid(z_i, z_f, z_o);  g = act(z_g)
        c' = f c_{t-1} + i g;  h' = o act(c');  c_t = m c' + (1 - m) c_{t-1};  h_t likewise

    filling gates (B, T, 4H), c_new (B, T, H) = c', hs, cs (B, T+1, H) with hs[:, 0] = cs[:, 0] = 0.
    """
    B, T, G = Zx.shape
    H = G // 4
    z = np.empty(G)
    for b in range(B):
        for j in range(H):
            hs[b, 0, j] = 0.0
            cs[b, 0, j] = 0.0
        for t in range(T):
            for j in range(G):
                z[j] = Zx[b, t, j]
            for k in range(H):
                hk = float(hs[b, t, k])
                for j in range(G):
                    z[j] += hk * U[k, j]
            mt = float(m[b, t])
            for j in range(H):
                i = _sigmoid(z[j])
                f = _sigmoid(z[H + j])
                g = _act(z[2 * H + j], relu)
                o = _sigmoid(z[3 * H + j])
                c = f * cs[b, t, j] + i * g
                h = o * _act(c, relu)
                gates[b, t, j] = i
                gates[b, t, H + j] = f
                gates[b, t, 2 * H + j] = g
                gates[b, t, 3 * H + j] = o
                c_new[b, t, j] = c
                cs[b, t + 1, j] = mt * c + (1.0 - mt) * cs[b, t, j]
                hs[b, t + 1, j] = mt * h + (1.0 - mt) * hs[b, t, j]


@njit(cache=True, error_model="numpy")
def backward_steps(dh, UT, m, relu, gates, c_new, cs, flush, tiny, dZ):
    """For t = T-1..0 and every sequence b, with dH = dh_t + dL/dh_t from step t+1, dC from step t+1:

        dh' = m dH   dc' = m dC + dh' o act'(c')
        dz = [dc' g i(1-i), dc' c_{t-1} f(1-f), dc' i act'(z_g), dh' act(c') o(1-o)]
        dH_{t-1} = dz U^T + (1 - m) dH,   dC_{t-1} = dc' f + (1 - m) dC

    filling dZ (B, T, 4H), given UT = U^T (4H, H). Carried values below ``flush`` and stored ones
    below ``tiny`` become 0.
    """
    B, T, H = dh.shape
    dH = np.empty(H)
    dH_next = np.empty(H)
    dC_next = np.empty(H)
    dz = np.empty(4 * H)
    for b in range(B):
        dH_next[:] = 0.0
        dC_next[:] = 0.0
        for t in range(T - 1, -1, -1):
            mt = float(m[b, t])
            for j in range(H):
                dH[j] = dh[b, t, j] + dH_next[j]
                dC = dC_next[j]
                i, f = float(gates[b, t, j]), float(gates[b, t, H + j])
                g, o = float(gates[b, t, 2 * H + j]), float(gates[b, t, 3 * H + j])
                act_c = _act(float(c_new[b, t, j]), relu)
                dh_new = mt * dH[j]
                dc_new = mt * dC + dh_new * o * _act_grad_from_output(act_c, relu)
                dz[j] = dc_new * g * i * (1.0 - i)
                dz[H + j] = dc_new * cs[b, t, j] * f * (1.0 - f)
                dz[2 * H + j] = dc_new * i * _act_grad_from_output(g, relu)
                dz[3 * H + j] = dh_new * act_c * o * (1.0 - o)
                v = dc_new * f + (1.0 - mt) * dC
                dC_next[j] = v if abs(v) >= flush else 0.0
            for j in range(4 * H):
                dZ[b, t, j] = dz[j] if abs(dz[j]) >= tiny else 0.0
            for k in range(H):
                dH_next[k] = (1.0 - mt) * dH[k]
            for j in range(4 * H):  # dz U^T, summed over j in the outer loop so that k vectorises
                dzj = dz[j]
                for k in range(H):
                    dH_next[k] += dzj * UT[j, k]
            for k in range(H):
                if abs(dH_next[k]) < flush:
                    dH_next[k] = 0.0

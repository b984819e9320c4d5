"""The tflite-int8 LSTM step fused in one compiled pass over int8 weights (the fast path of
``tflite_lstm.lstm_tflite_int8``; its reference is ``tflite_lstm._int8_step_reference``).

Per step and row, with m the row's scale (``tflite_lstm`` says how it is chosen):
    q_h  = the int8 values of h_{t-1} quantised with m
    acc  = acc_x + q_h @ W_q[H:]                 an exact integer (int32 here: |acc| < 4096 127^2 < 2^31)
    z    = float32(acc) * s + b                  s = (m / 127) w_scale, each step rounded to float32
    c_t  = logistic(z_f) c_{t-1} + logistic(z_i) tanh(z_g),   h_t = logistic(z_o) tanh(c_t)
with the interpreter's LOGISTIC and TANH (``tflite_math``), one float32 operation at a time, in the
reference's order, never contracted to an FMA: the same bits as the NumPy reference.

Why it is faster: the reference sums q_h @ W_q as a float32 GEMM, which streams the 64 MiB of W_q[H:]
as float32 every step; here W_q[H:] stays int8 (16 MiB), packed so that each block of ``BW`` cells
reads its four gates' weight columns as one contiguous run (each column a dot product along k), and the epilogue and the cell run on the block
while its sums are in cache. Blocks are shared out over the cores (``runtime.core_pool``); integer
sums do not depend on the split.
"""
from __future__ import annotations

import numba
import numpy as np

from ..runtime.core_pool import cores, run_shares

f32 = np.float32
BW = 64  # cells per block: its 4 x 64 int8 weights per input (256 bytes) and its int32 sums stay in L1

# the interpreter's LOGISTIC / TANH constants (tflite_math), as float32 scalars
_L_MAX, _HALF, _LOG2E = f32(16.6355324), f32(0.5), f32(1.44269504088896341)
_LN2_HI, _LN2_LO = f32(-0.693359375), f32(2.12194440e-4)
_PE1, _PE0 = f32(4.1898667812347412109375e-2), f32(0.49999141693115234375)
_PO1, _PO0 = f32(8.33471305668354034423828125e-3), f32(0.16666877269744873046875)
_ONE, _ZERO, _L_MIN = f32(1), f32(0), f32(-104)
_T_CLAMP = f32(7.90738964080810547)
_TP0, _TP1, _TP2, _TP3 = f32(1.394553628e-8), f32(2.102733560e-5), f32(3.520756727e-3), f32(1.340216100e-1)
_TQ0, _TQ1, _TQ2, _TQ3, _TQ4 = (f32(8.015776984e-7), f32(3.326951409e-4), f32(2.597254514e-2),
                                f32(4.673548340e-1), f32(1.0))


def pack_blocks(W, bw: int = BW):
    """W (K, 4 H) -> P (H / bw, 4 bw, K) with P[j, g bw + i, k] = W[k, g H + j bw + i]: block j holds
    the weight columns of cells j bw .. j bw + bw - 1 of the four gates, each column's K inputs in a row.

    >>> W = np.arange(2 * 8).reshape(2, 8)            # K = 2, H = 2
    >>> pack_blocks(W, 1)[1]                          # cell 1 of each gate
    array([[ 1,  9],
           [ 3, 11],
           [ 5, 13],
           [ 7, 15]])
    """
    K, H4 = W.shape
    H = H4 // 4
    if H % bw:
        raise ValueError(f"pack_blocks: {H} cells is not a whole number of blocks of {bw}")
    return np.ascontiguousarray(W.T.reshape(4, H // bw, bw, K).transpose(1, 0, 2, 3).reshape(H // bw, 4 * bw, K))


@numba.njit(nogil=True, cache=True)
def _int_dots(q, w0, w1, out, n):
    """out[r, n] = sum_k q[r, k] w0[k] and out[r, n + 1] = sum_k q[r, k] w1[k] for every row r:
    int8 values as int16 products summed in int32, exact (|sum| <= 4096 127^2 < 2^31).
    Four rows by two columns per pass over k (each load serves several sums); a lone row takes
    the one-sum loop, the form LLVM turns into VPMADDWD."""
    K = w0.shape[0]
    r = 0
    while r + 4 <= q.shape[0]:
        q0, q1, q2, q3 = q[r], q[r + 1], q[r + 2], q[r + 3]
        s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = np.int32(0)
        for k in range(K):
            a, b = np.int16(w0[k]), np.int16(w1[k])
            x0, x1, x2, x3 = np.int16(q0[k]), np.int16(q1[k]), np.int16(q2[k]), np.int16(q3[k])
            s00 = np.int32(s00 + np.int32(x0 * a))
            s01 = np.int32(s01 + np.int32(x0 * b))
            s10 = np.int32(s10 + np.int32(x1 * a))
            s11 = np.int32(s11 + np.int32(x1 * b))
            s20 = np.int32(s20 + np.int32(x2 * a))
            s21 = np.int32(s21 + np.int32(x2 * b))
            s30 = np.int32(s30 + np.int32(x3 * a))
            s31 = np.int32(s31 + np.int32(x3 * b))
        out[r, n], out[r + 1, n], out[r + 2, n], out[r + 3, n] = s00, s10, s20, s30
        out[r, n + 1], out[r + 1, n + 1], out[r + 2, n + 1], out[r + 3, n + 1] = s01, s11, s21, s31
        r += 4
    for r in range(r, q.shape[0]):
        out[r, n] = _dot(q[r], w0)
        out[r, n + 1] = _dot(q[r], w1)


@numba.njit(nogil=True, cache=True)
def _dot(q, w):
    s = np.int32(0)
    for k in range(q.shape[0]):
        s = np.int32(s + np.int32(np.int16(q[k]) * np.int16(w[k])))
    return s


@numba.njit(nogil=True, cache=True)
def quantize_given_max(v, m_q, q):
    """q[r] = the int8 values of v[r] with the row maximum m_q[r] > 0 imposed (``tflite_lstm``'s
    ``_quantize_given_max``: float32 127 / m, float32 product, rounding half away in float64).

    >>> q = np.empty((1, 3), np.int8)
    >>> quantize_given_max(np.float32([[0.5, -1.0, 0.25]]), np.float32([2.0]), q); q    # x 63.5
    array([[ 32, -64,  16]], dtype=int8)
    """
    for r in range(v.shape[0]):
        inv = f32(127) / m_q[r]
        for j in range(v.shape[1]):
            w = np.float64(v[r, j] * inv)
            a = min(np.floor(abs(w) + 0.5), 127.0)
            q[r, j] = np.int8(a if w >= 0 else -a)


@numba.njit(nogil=True, cache=True)
def row_max_abs(v):
    """max_j |v[r, j]| per row, float32.

    >>> row_max_abs(np.float32([[1, -3], [0, 0]]))
    array([3., 0.], dtype=float32)
    """
    out = np.zeros(v.shape[0], dtype=np.float32)
    for r in range(v.shape[0]):
        m = f32(0)
        for j in range(v.shape[1]):
            m = max(m, abs(v[r, j]))
        out[r] = m
    return out


@numba.njit(nogil=True, cache=True)
def logistic_into(x, out, bits):
    """out = ``tflite_math.logistic_tflite(x)``: the same float32 operations in the same order, as
    loops LLVM can vectorise; 2^m is built from its bits (``bits``, an int32 scratch array as long
    as x). Lanes below -104 are computed from -104 and then set to 0, as the reference's ``where``.

    >>> out = np.empty(2, np.float32); logistic_into(np.float32([0, -200]), out, np.empty(2, np.int32)); out
    array([0.5, 0. ], dtype=float32)
    """
    p2 = bits.view(np.float32)
    for i in range(x.shape[0]):
        x0 = max(x[i], _L_MIN)
        xh = min(x0, _L_MAX) * _HALF
        m = np.floor(xh * _LOG2E + _HALF)
        r = m * _LN2_HI + xh
        r = m * _LN2_LO + r
        r2 = r * r
        p_even = r2 * _PE1 + _PE0
        p_odd = r2 * _PO1 + _PO0
        p = r * p_odd + p_even
        out[i] = r2 * p + (r + _ONE)
        bits[i] = (np.int32(m) + np.int32(127)) << 23   # 2^m, m in [-75, 12]: a normal float32
    for i in range(x.shape[0]):
        e = out[i] * p2[i]
        e = e * e
        out[i] = _ZERO if x[i] < _L_MIN else e / (_ONE + e)


@numba.njit(nogil=True, cache=True)
def tanh_into(x, out):
    """out = ``tflite_math.tanh_tflite(x)``: the same float32 operations in the same order, in a loop
    LLVM can vectorise.

    >>> out = np.empty(2, np.float32); tanh_into(np.float32([0, 50]), out); out
    array([0., 1.], dtype=float32)
    """
    for i in range(x.shape[0]):
        v = max(min(x[i], _T_CLAMP), -_T_CLAMP)
        x2 = v * v
        p = ((_TP0 * x2 + _TP1) * x2 + _TP2) * x2 + _TP3
        q = (((_TQ0 * x2 + _TQ1) * x2 + _TQ2) * x2 + _TQ3) * x2 + _TQ4
        out[i] = (x2 * v * p + v) / q


@numba.njit(nogil=True, cache=True)
def _step_blocks(j0, j1, qh, P, acc_x, s, b, gate, c, h_out, c_out):
    """Blocks j0 .. j1 - 1 of one step: integer sums, epilogue, cell (module doc).
    ``gate`` = the quarters of (input, candidate, forget, output)."""
    a = qh.shape[0]
    bw = P.shape[1] // 4
    H = c.shape[1]
    acc = np.empty((a, 4 * bw), dtype=np.int32)
    z = np.empty((4, bw), dtype=np.float32)
    act = np.empty((5, bw), dtype=np.float32)   # sigmoid i, tanh g, sigmoid f, sigmoid o, tanh c
    c_new = np.empty(bw, dtype=np.float32)
    bits = np.empty(bw, dtype=np.int32)
    for j in range(j0, j1):
        for n in range(0, 4 * bw, 2):
            _int_dots(qh, P[j, n], P[j, n + 1], acc, n)
        cell0 = j * bw
        for r in range(a):
            s_r = s[r]
            for g in range(4):
                for i in range(bw):
                    col = g * H + cell0 + i
                    # the exact sum rounded once to float32, then the product and the sum each rounded
                    tot = f32(np.float64(acc[r, g * bw + i]) + np.float64(acc_x[r, col]))
                    z[g, i] = tot * s_r + b[col]
            logistic_into(z[gate[0]], act[0], bits)
            tanh_into(z[gate[1]], act[1])
            logistic_into(z[gate[2]], act[2], bits)
            logistic_into(z[gate[3]], act[3], bits)
            for i in range(bw):
                c_new[i] = act[2, i] * c[r, cell0 + i] + act[0, i] * act[1, i]
                c_out[r, cell0 + i] = c_new[i]
            tanh_into(c_new, act[4])
            for i in range(bw):
                h_out[r, cell0 + i] = act[3, i] * act[4, i]


def fused_step(qh, P, acc_x, s, b, gate, c):
    """(h_t, c_t) of one step from q_h (a, H) int8, the packed W_q[H:] (``pack_blocks``), the exact
    x-half sums acc_x (a, 4 H), the row scales s, the bias b and c_{t-1}; blocks over the cores.

    >>> H = 64                                       # zero weights: z = 0, c = c / 2, h = tanh(c) / 2
    >>> h, c = fused_step(np.zeros((1, H), np.int8), pack_blocks(np.zeros((H, 4 * H), np.int8)),
    ...                   np.zeros((1, 4 * H), np.float32), np.ones(1, np.float32), np.zeros(4 * H, np.float32),
    ...                   np.arange(4), np.ones((1, H), np.float32))
    >>> float(c[0, 0]), round(float(h[0, 0]), 6)
    (0.5, 0.231059)
    """
    a, H = c.shape
    h_out = np.empty((a, H), dtype=np.float32)
    c_out = np.empty((a, H), dtype=np.float32)
    n_blocks = P.shape[0]
    k = min(cores(), n_blocks)
    bounds = [n_blocks * i // k for i in range(k + 1)]
    run_shares(_step_blocks, [(bounds[i], bounds[i + 1], qh, P, acc_x, s, b, gate, c, h_out, c_out)
                              for i in range(k)])
    return h_out, c_out


@numba.njit(nogil=True, cache=True)
def _int_columns(q, WT, c0, c1, out):
    for n in range(c0, c1, 2):
        _int_dots(q, WT[n], WT[n + 1], out, n)


def int8_matmul(q, WT):
    """q @ WT.T as exact int32 sums: q (n, K) and WT (N, K) int8 (the weights transposed, so that
    each output is a dot product along k); columns shared out over the cores.

    >>> q = np.array([[1, -2, 3]], np.int8); WT = np.array([[127, 127, 127], [-1, 0, 1]], np.int8)
    >>> int8_matmul(q, WT)
    array([[254,   2]], dtype=int32)
    """
    out = np.empty((q.shape[0], WT.shape[0]), dtype=np.int32)
    if WT.shape[0] % 2:
        raise ValueError(f"int8_matmul: the kernel takes columns in pairs, got {WT.shape[0]}")
    pairs = WT.shape[0] // 2
    k = min(cores(), pairs)
    bounds = [2 * (pairs * i // k) for i in range(k + 1)]
    run_shares(_int_columns, [(q, WT, bounds[i], bounds[i + 1], out) for i in range(k)])
    return out

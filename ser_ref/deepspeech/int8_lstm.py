"""The tflite-int8 LSTM step fused in one compiled pass over int8 weights (the fast path of
``tflite_lstm.lstm_tflite_int8``; its reference is ``tflite_lstm.int8_step_reference``).

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

import math

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


@numba.njit(nogil=True, cache=True)
def logistic_scalar(x0):
    """``tflite_math.logistic_tflite`` of one float32, the same operations in the same order.

    >>> float(logistic_scalar(np.float32(0.0)))
    0.5
    """
    if x0 < _L_MIN:
        return _ZERO
    x = min(x0, _L_MAX) * _HALF
    m = np.floor(x * _LOG2E + _HALF)
    r = m * _LN2_HI + x
    r = m * _LN2_LO + r
    r2 = r * r
    p_even = r2 * _PE1 + _PE0
    p_odd = r2 * _PO1 + _PO0
    p = r * p_odd + p_even
    p = r2 * p + (r + _ONE)
    e = p * f32(math.ldexp(1.0, int(m)))  # 2^m is a float32 (m >= -75 here): exact
    e = e * e
    return e / (_ONE + e)


@numba.njit(nogil=True, cache=True)
def tanh_scalar(x):
    """``tflite_math.tanh_tflite`` of one float32, the same operations in the same order.

    >>> float(tanh_scalar(np.float32(0.0)))
    0.0
    """
    x = max(min(x, _T_CLAMP), -_T_CLAMP)
    x2 = x * x
    p = ((_TP0 * x2 + _TP1) * x2 + _TP2) * x2 + _TP3
    q = (((_TQ0 * x2 + _TQ1) * x2 + _TQ2) * x2 + _TQ3) * x2 + _TQ4
    return (x2 * x * p + x) / q


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
def int_dots(q, w, r0, r1, out, n):
    """out[r, n] = sum_k q[r, k] w[k] for rows r0 .. r1 - 1, four rows per pass over w (each weight
    load serves four sums). int8 values as int16 products summed in int32: exact, and the form
    LLVM turns into VPMADDWD."""
    K = w.shape[0]
    r = r0
    while r + 4 <= r1:
        q0, q1, q2, q3 = q[r], q[r + 1], q[r + 2], q[r + 3]
        s0 = s1 = s2 = s3 = np.int32(0)
        for k in range(K):
            wk = np.int16(w[k])
            s0 = np.int32(s0 + np.int32(np.int16(q0[k]) * wk))
            s1 = np.int32(s1 + np.int32(np.int16(q1[k]) * wk))
            s2 = np.int32(s2 + np.int32(np.int16(q2[k]) * wk))
            s3 = np.int32(s3 + np.int32(np.int16(q3[k]) * wk))
        out[r, n], out[r + 1, n], out[r + 2, n], out[r + 3, n] = s0, s1, s2, s3
        r += 4
    for r in range(r, r1):
        q0 = q[r]
        s0 = np.int32(0)
        for k in range(K):
            s0 = np.int32(s0 + np.int32(np.int16(q0[k]) * np.int16(w[k])))
        out[r, n] = s0


@numba.njit(nogil=True, cache=True)
def quantize_given_max(v, m_q, q):
    """q[r] = the int8 values of v[r] with the row maximum m_q[r] > 0 imposed (``tflite_lstm``'s
    ``_quantize_given_max``: float32 127 / m, float32 product, rounding half away in float64)."""
    for r in range(v.shape[0]):
        inv = f32(127) / m_q[r]
        for j in range(v.shape[1]):
            w = np.float64(v[r, j] * inv)
            a = min(np.floor(abs(w) + 0.5), 127.0)
            q[r, j] = np.int8(a if w >= 0 else -a)


@numba.njit(nogil=True, cache=True)
def row_max_abs(v):
    """max_j |v[r, j]| per row, float32."""
    out = np.zeros(v.shape[0], dtype=np.float32)
    for r in range(v.shape[0]):
        m = f32(0)
        for j in range(v.shape[1]):
            m = max(m, abs(v[r, j]))
        out[r] = m
    return out


@numba.njit(nogil=True, cache=True, inline="always")
def _pre(acc, acc_x, s, b, r, g, bw, i, H, cell):
    """z = float32(acc) * s + b of quarter g, cell ``cell``: the exact sum rounded once to float32,
    then the product and the sum each rounded (the kernel's order)."""
    col = g * H + cell
    tot = f32(np.float64(acc[r, g * bw + i]) + np.float64(acc_x[r, col]))
    return tot * s[r] + b[col]


@numba.njit(nogil=True, cache=True)
def _step_blocks(j0, j1, qh, P, acc_x, s, b, gate, c, h_out, c_out):
    """Blocks j0 .. j1 - 1 of one step: integer sums, epilogue, cell (module doc).
    ``gate`` = the quarters of (input, candidate, forget, output)."""
    a = qh.shape[0]
    bw = P.shape[1] // 4
    H = c.shape[1]
    acc = np.empty((a, 4 * bw), dtype=np.int32)
    for j in range(j0, j1):
        for n in range(4 * bw):
            int_dots(qh, P[j, n], 0, a, acc, n)
        for r in range(a):
            for i in range(bw):
                cell = j * bw + i
                z_i = _pre(acc, acc_x, s, b, r, gate[0], bw, i, H, cell)
                z_g = _pre(acc, acc_x, s, b, r, gate[1], bw, i, H, cell)
                z_f = _pre(acc, acc_x, s, b, r, gate[2], bw, i, H, cell)
                z_o = _pre(acc, acc_x, s, b, r, gate[3], bw, i, H, cell)
                c_new = logistic_scalar(z_f) * c[r, cell] + logistic_scalar(z_i) * tanh_scalar(z_g)
                c_out[r, cell] = c_new
                h_out[r, cell] = logistic_scalar(z_o) * tanh_scalar(c_new)


def fused_step(qh, P, acc_x, s, b, gate, c):
    """(h_t, c_t) of one step from q_h (a, H) int8, the packed W_q[H:] (``pack_blocks``), the exact
    x-half sums acc_x (a, 4 H), the row scales s, the bias b and c_{t-1}; blocks over the cores."""
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
    for n in range(c0, c1):
        int_dots(q, WT[n], 0, q.shape[0], out, n)


def int8_matmul(q, WT):
    """q @ WT.T as exact int32 sums: q (n, K) and WT (N, K) int8 (the weights transposed, so that
    each output is a dot product along k); columns shared out over the cores.

    >>> q = np.array([[1, -2, 3]], np.int8); WT = np.array([[127, 127, 127], [-1, 0, 1]], np.int8)
    >>> int8_matmul(q, WT)
    array([[254,   2]], dtype=int32)
    """
    out = np.empty((q.shape[0], WT.shape[0]), dtype=np.int32)
    k = min(cores(), WT.shape[0])
    bounds = [WT.shape[0] * i // k for i in range(k + 1)]
    run_shares(_int_columns, [(q, WT, bounds[i], bounds[i + 1], out) for i in range(k)])
    return out

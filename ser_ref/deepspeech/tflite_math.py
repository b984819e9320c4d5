"""The interpreter's arithmetic where it is not plain float32: hybrid int8 sums, LOGISTIC, TANH.

Hybrid FULLY_CONNECTED (int8 weights, float input; the same kernel as layer 1, ``layer1.py``):
    q, m = quantize_rows(x)                 per row, symmetric, 127 / max|x|
    acc  = q @ W_q                          an int32 sum in the C++ kernel
    y    = b + float32(acc) * ((m / 127) * w_scale)
Over 2048 or 4096 inputs |acc| can pass 2^24, where float32 stops holding every integer, so the
sum is formed exactly (``exact_int_matmul``) and only then rounded to float32, as int32 -> float
does in the kernel.

LOGISTIC and TANH are Eigen's float32 packet approximations, evaluated without FMA (how the
interpreter's x86 build computes them; each step below is one float32 operation):
    logistic: e = exp(min(x, 16.6355324) / 2) by Cephes range reduction and a degree-5 polynomial,
              squared; s = e / (1 + e), 0 below x = -104
    tanh:     x clamped to +-7.90738964; x + x^3 P(x^2) / Q(x^2), P, Q the [9/8] minimax pair
Both agree with the interpreter's tensors bit for bit; they differ from the correctly rounded
functions by a few ulp, which is enough to flip a later int8 rounding, so the emulation needs them.
"""
from __future__ import annotations

import numpy as np

from .layer1 import quantize_rows

f32 = np.float32
EXACT_F32_INT = 2 ** 24   # every integer of magnitude <= 2^24 is a float32
CHUNK = 1024              # 1024 * 127 * 127 < 2^24: a float32 GEMM over 1024 int8 products is exact

_TANH_P = (1.394553628e-8, 2.102733560e-5, 3.520756727e-3, 1.340216100e-1)
_TANH_Q = (8.015776984e-7, 3.326951409e-4, 2.597254514e-2, 4.673548340e-1, 1.0)
_TANH_CLAMP = 7.90738964080810547


def _horner(x2, coeffs):
    p = np.full_like(x2, f32(coeffs[0]))
    for c in coeffs[1:]:
        p = p * x2 + f32(c)
    return p


def tanh_tflite(x):
    """TANH as the interpreter computes it (float32 in, float32 out; see the module doc).

    >>> bool(abs(float(tanh_tflite(np.float32([0.5]))[0]) - np.tanh(0.5)) < 1e-7)
    True
    """
    x = np.asarray(x, dtype=f32)
    x = np.maximum(np.minimum(x, f32(_TANH_CLAMP)), f32(-_TANH_CLAMP))
    x2 = x * x
    p = _horner(x2, _TANH_P)
    q = _horner(x2, _TANH_Q)
    return (x2 * x * p + x) / q


def logistic_tflite(x):
    """LOGISTIC as the interpreter computes it: Eigen's exp(x/2)^2 / (1 + exp(x/2)^2), float32.

    >>> bool(abs(float(logistic_tflite(np.float32([0.0]))[0]) - 0.5) < 1e-7)
    True
    """
    x0 = np.asarray(x, dtype=f32)
    x = np.minimum(x0, f32(16.6355324)) * f32(0.5)
    m = np.floor(x * f32(1.44269504088896341) + f32(0.5))
    r = m * f32(-0.693359375) + x         # x - m ln 2, ln 2 in two parts (Cephes)
    r = m * f32(2.12194440e-4) + r
    r2 = r * r
    p_even = r2 * f32(4.1898667812347412109375e-2) + f32(0.49999141693115234375)
    p_odd = r2 * f32(8.33471305668354034423828125e-3) + f32(0.16666877269744873046875)
    p = r * p_odd + p_even
    p = r2 * p + (r + f32(1))
    e = p * np.ldexp(f32(1), m.astype(np.int32)).astype(f32)  # exact: 2^m is a float32
    e = e * e
    return np.where(x0 < f32(-104), f32(0), e / (f32(1) + e)).astype(f32)


def sum_abs_bound(q, w_max: int):
    """Per row, sum_j |q_j| * max|W|: a bound on every partial sum of q @ W, in any order."""
    return np.abs(q).sum(axis=1, dtype=np.float64) * float(w_max)


def exact_int_matmul(q, Wf, w_max: int):
    """q @ Wf for integer-valued float32 q and Wf, exact (the kernel's int32 sum).

    When every row's bound stays within 2^24 this is one float32 GEMM (every partial sum is an
    exact float32 integer) and the result is float32; otherwise the inputs are summed in chunks
    of ``CHUNK``, each an exact float32 GEMM, added in float64, and the result is float64.
    """
    if np.all(sum_abs_bound(q, w_max) <= EXACT_F32_INT):
        return q @ Wf
    acc = np.zeros((q.shape[0], Wf.shape[1]), dtype=np.float64)
    for k in range(0, q.shape[1], CHUNK):
        acc += q[:, k:k + CHUNK] @ Wf[k:k + CHUNK]
    return acc


def row_scales(m, w_scale):
    """(m / 127) * w_scale per row in float32 (w_scale for an all-zero row), as the kernel."""
    return (np.where(m == 0, f32(1), m / f32(127)) * f32(w_scale)).astype(f32)


def hybrid_epilogue(acc, s, b):
    """b + float32(acc) * s, each step rounded to float32 like the C++."""
    y = acc.astype(f32)
    y *= s[:, None]
    y += b
    return y


def hybrid_fc(x, Wf, w_scale, b, w_max: int):
    """The hybrid FULLY_CONNECTED without activation: b + float32(q @ W_q) * s (module doc).

    ``Wf`` holds the int8 weights as float32 [in, out]; ``w_max`` = max|W_q|.

    >>> W = np.array([[1, -2], [3, 4]], dtype=np.float32)
    >>> # q = [round(63.5), -127] = [64, -127]; acc = [64 - 381, -128 - 508]; s = 0.1 / 127
    >>> [round(float(v), 4) for v in hybrid_fc(np.float32([[0.5, -1.0]]), W, 0.1, np.zeros(2, np.float32), 4)[0]]
    [-0.2496, -0.5008]
    """
    q, m = quantize_rows(np.asarray(x, dtype=f32))
    return hybrid_epilogue(exact_int_matmul(q, Wf, w_max), row_scales(m, w_scale), np.asarray(b, f32))


def softmax_rows(z):
    """exp(z - max z) / sum exp(z - max z) per row, float32 (the graph's SOFTMAX, beta 1)."""
    z = np.asarray(z, dtype=f32)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(f32)

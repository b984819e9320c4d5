"""Fused softmax cross-entropy on the GPU; reference: ``ser_ref.nn.softmax_ce`` (same math, same cache).

One thread per row n of the logits z (N, K) (K is the number of classes, small):

    log p[n, k] = (z[n, k] - max_j z[n, j]) - log sum_j exp(z[n, j] - max_j z[n, j])
    l[n]        = w[n] (-log p[n, y[n]])            L = sum_n l[n] / sum_n w[n]
    dz[n, k]    = (p[n, k] - [k == y[n]]) (dloss w[n] / sum_n w[n])

``softmax_cross_entropy_forward`` / ``_backward`` keep the reference's signatures and cache
(logp, y, w, wsum); ``softmax_cross_entropy_fused`` returns (L, dz) from a single kernel launch
(plus the two sums), which is what a training step needs.
"""
from __future__ import annotations

import numpy as np

from ..nn.validation import NNInputError, check_ndim
from ._cuda import DEFINES, cupy, i32, kernel, launch, with_real

SOFTMAX_CE_SRC = DEFINES + r"""
// logp[n, :], wnll[n] = w[n] * -logp[n, y[n]], and when write_dz, dz[n, :] = (p - onehot) * w[n] / wsum
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
softmax_ce_rows(const real_t* __restrict__ z, const int* __restrict__ y,
                const real_t* __restrict__ w, const real_t* __restrict__ wsum,
                real_t* __restrict__ logp, real_t* __restrict__ wnll,
                real_t* __restrict__ dz, int N, int K, int write_dz)
{
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const real_t* zn = z + (long long)n * K;
    real_t mx = zn[0];
    for (int k = 1; k < K; ++k) mx = zn[k] > mx ? zn[k] : mx;
    real_t s = 0;
    for (int k = 0; k < K; ++k) s += exp(zn[k] - mx);
    real_t lse = log(s);
    real_t* lp = logp + (long long)n * K;
    for (int k = 0; k < K; ++k) lp[k] = (zn[k] - mx) - lse;
    wnll[n] = w[n] * -lp[y[n]];
    if (write_dz) {
        real_t scale = w[n] / wsum[0];
        for (int k = 0; k < K; ++k) dz[(long long)n * K + k] = (exp(lp[k]) - (real_t)(k == y[n])) * scale;
    }
}

// dz[n, k] = (exp(logp[n, k]) - [k == y[n]]) * (dloss * w[n] / wsum)
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
softmax_ce_backward(const real_t* __restrict__ logp, const int* __restrict__ y,
                    const real_t* __restrict__ w, const real_t* __restrict__ wsum,
                    real_t* __restrict__ dz, int N, int K, real_t dloss)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)N * K) return;
    int n = (int)(i / K), k = (int)(i % K);
    dz[i] = (exp(logp[i]) - (real_t)(k == y[n])) * (dloss * w[n] / wsum[0]);
}
"""


def cuda_sources():
    return [(f"softmax_ce.{np.dtype(d).name}", with_real(SOFTMAX_CE_SRC, d)) for d in (np.float32, np.float64)]


def _labels(y, n_classes: int):
    """y as int32 on the device, checked as the reference checks it: integer, in [0, K). The
    kernels index logp[n, y[n]] unchecked, so an out-of-range label would read out of bounds."""
    cp = cupy()
    y = cp.asarray(y)
    if y.dtype.kind not in "iu":  # the messages are check_labels', which the reference uses
        raise NNInputError(f"labels y must hold integer class indices, got dtype {y.dtype}")
    if y.size and bool(((y < 0) | (y >= n_classes)).any()):
        raise NNInputError(f"labels y must lie in [0, {n_classes}), got values {int(y.min())}..{int(y.max())}")
    return y.astype(cp.int32)


def _prepare(z, y, w):
    cp = cupy()
    check_ndim(z, 2, "logits")
    if y.shape != (z.shape[0],):
        raise NNInputError(f"labels y {y.shape} do not match logits {z.shape}")
    z = cp.ascontiguousarray(z)
    y32 = _labels(y, z.shape[1])
    w = cp.ones(z.shape[0], dtype=z.dtype) if w is None else cp.ascontiguousarray(cp.asarray(w, dtype=z.dtype))
    return z, y32, w


def _rows(z, y32, w, write_dz):
    cp = cupy()
    N, K = z.shape
    wsum = cp.asarray(w.sum())  # a 0-d device array: the kernel reads it through a pointer
    logp, wnll = cp.empty_like(z), cp.empty(N, dtype=z.dtype)
    dz = cp.empty_like(z) if write_dz else logp
    launch(kernel(with_real(SOFTMAX_CE_SRC, z.dtype), "softmax_ce_rows"), N,
           z, y32, w, wsum, logp, wnll, dz, i32(N), i32(K), i32(write_dz))
    return logp, wnll, wsum, dz


def softmax_cross_entropy_forward(z, y, w=None):
    """L = sum_n w[n] (-log softmax(z)[n, y[n]]) / sum_n w[n] -> (L (0-d cupy), cache (logp, y, w, wsum))."""
    z, y32, w = _prepare(z, y, w)
    logp, wnll, wsum, _ = _rows(z, y32, w, False)
    return wnll.sum() / wsum, (logp, y, w, wsum)


def softmax_cross_entropy_backward(cache, dloss=1.0):
    """dz[n, k] = dloss * w[n] (p[n, k] - [k == y[n]]) / sum_n w[n]."""
    cp = cupy()
    logp, y, w, wsum = cache
    N, K = logp.shape
    dz = cp.empty_like(logp)
    launch(kernel(with_real(SOFTMAX_CE_SRC, logp.dtype), "softmax_ce_backward"), dz.size,
           cp.ascontiguousarray(logp), _labels(y, K),
           cp.ascontiguousarray(cp.asarray(w, dtype=logp.dtype)), cp.asarray(wsum, dtype=logp.dtype),
           dz, i32(N), i32(K), logp.dtype.type(dloss))
    return dz


def softmax_cross_entropy_fused(z, y, w=None):
    """(L, dL/dz) in one kernel launch: the loss and gradient of a training step."""
    z, y32, w = _prepare(z, y, w)
    _, wnll, wsum, dz = _rows(z, y32, w, True)
    return wnll.sum() / wsum, dz

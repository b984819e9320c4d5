"""Fused LSTM cell kernels for training on the GPU; reference: ``ser_ref.nn.lstm`` (same math, same cache).

Per step t the forward pass is two launches for the whole batch: one cuBLAS GEMM for the
recurrent product and one fused cell kernel for everything elementwise:

    z_t = Zx_t + h_{t-1} U                        (Zx = x W + b for all steps: one large GEMM)
    i = sigmoid(z_i)  f = sigmoid(z_f)  g = act(z_g)  o = sigmoid(z_o)       (kernel lstm_cell_forward)
    c' = f c_{t-1} + i g,  h' = o act(c')
    c_t = m c' + (1 - m) c_{t-1},  h_t = m h' + (1 - m) h_{t-1}

and the backward pass likewise (kernel lstm_cell_backward, then dH_rec = dz_t U^T by cuBLAS):

    dH = dh_t + (dH_rec + carry),   dh' = m dH,   dc' = m dC + dh' o act'(c')
    dz = [dc' g i(1-i), dc' c_{t-1} f(1-f), dc' i act'(g), dh' act(c') o(1-o)]
    dC <- dc' f + (1 - m) dC,   carry <- (1 - m) dH

with sigmoid(z) = (1 + tanh(z / 2)) / 2 as in the reference.

For small H (the paper's LSTM has 20 units) the 2T launches cost more than the math, so by
default (H <= PERSISTENT_MAX_H) a persistent kernel does the whole sequence in one launch: block
b owns sample b and loops over t; forward with 4H threads (z_k = Zx[b,t,k] + sum_m h[m] U[m,k],
h and the gates in shared memory, c in a register), backward with H threads (dH_rec_j =
sum_n dz[n] U[j,n] from dz in shared memory). ``persistent=False`` forces the per-step path. dW, dU, db, dx are
single large GEMMs after the loop, exactly as the reference does them. One thread per (sample, unit)
handles its four gates, so each thread owns its c and dC and no synchronisation is needed inside a step.

The cache is the reference's tuple (x, W, U, activation, m, gates, c_new, hs, cs) on every path, so
any forward's cache works with any backward: this backward takes either fused forward's cache and
the reference's (its arrays are moved to the device), and ``ser_ref.nn.lstm.lstm_backward`` takes
a fused forward's cache once its arrays are on the host (``backend.to_host``; given CuPy arrays it
dispatches back here). x, W, U, b (and dh against the cache) must share one float dtype.
"""
from __future__ import annotations

import numpy as np

from ..nn.activations import check_activation
from ..nn.validation import NNInputError, check_lstm_args
from ..nn.lstm import lstm_input_grads
from ._cuda import DEFINES, common_real_dtype, cupy, i32, kernel, launch, with_real

CELL_SRC = DEFINES + r"""
__device__ __forceinline__ real_t sigm(real_t z) { return (real_t)0.5 * ((real_t)1 + tanh((real_t)0.5 * z)); }
__device__ __forceinline__ real_t act(real_t z, int relu) { return relu ? (z > (real_t)0 ? z : (real_t)0) : tanh(z); }
// act'(z) from a = act(z): 1 - a^2 (tanh) or [a > 0] (relu)
__device__ __forceinline__ real_t act_grad(real_t a, int relu) { return relu ? (real_t)(a > (real_t)0) : (real_t)1 - a * a; }

// one unit, one step: c' = f c_prev + i g, h' = o act(c'), then the mask carry
__device__ __forceinline__ void cell_step(real_t i, real_t f, real_t g, real_t o, real_t c_prev, real_t h_prev,
                                          real_t m, int has_mask, int relu, real_t* c_raw, real_t* c, real_t* h)
{
    real_t cc = f * c_prev + i * g;
    real_t hh = o * act(cc, relu);
    *c_raw = cc;
    if (has_mask) {
        cc = m * cc + ((real_t)1 - m) * c_prev;
        hh = m * hh + ((real_t)1 - m) * h_prev;
    }
    *c = cc;
    *h = hh;
}

// one unit, one step backward: dz (4 entries, stride H) from dH = dL/dh_t and *dC = dL/dc_t;
// updates *dC to dL/dc_{t-1} and *carry to the (1 - m) dH that h_{t-1} receives directly
__device__ __forceinline__ void cell_grad(real_t i, real_t f, real_t g, real_t o, real_t c_prev, real_t c_raw,
                                          real_t dH, real_t m, int has_mask, int relu,
                                          real_t* dC, real_t* carry, real_t* dz, int H)
{
    real_t ac = act(c_raw, relu);
    real_t dh_new = has_mask ? m * dH : dH;
    real_t dc_new = has_mask ? m * *dC : *dC;
    dc_new = dc_new + dh_new * o * act_grad(ac, relu);
    dz[0] = dc_new * g * i * ((real_t)1 - i);
    dz[H] = dc_new * c_prev * f * ((real_t)1 - f);
    dz[2 * H] = dc_new * i * act_grad(g, relu);
    dz[3 * H] = dh_new * ac * o * ((real_t)1 - o);
    real_t dC_next = dc_new * f;
    if (has_mask) {
        dC_next = dC_next + ((real_t)1 - m) * *dC;
        *carry = ((real_t)1 - m) * dH;
    }
    *dC = dC_next;
}

// per-step path, one thread per (b, j): gates and cell of step t, after the GEMM Zh = h_{t-1} U
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK) lstm_cell_forward(
    const real_t* __restrict__ Zx,    // (B, T, 4H)  x W + b
    const real_t* __restrict__ Zh,    // (B, 4H)     h_{t-1} U
    const real_t* __restrict__ mask,  // (B, T)      used when has_mask
    real_t* __restrict__ gates,       // (B, T, 4H)  i, f, g, o
    real_t* __restrict__ c_new,       // (B, T, H)   c' before the mask carry
    real_t* __restrict__ hs,          // (B, T+1, H) hs[:, t] = h_{t-1}
    real_t* __restrict__ cs,          // (B, T+1, H)
    real_t* __restrict__ h_work,      // (B, H)      h_t, contiguous for the next GEMM
    int B, int T, int H, int t, int relu, int has_mask)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * H) return;
    int b = idx / H, j = idx % H;
    long long g4 = ((long long)b * T + t) * 4 * H;
    const real_t* zh = Zh + (long long)b * 4 * H;
    real_t i = sigm(Zx[g4 + j] + zh[j]);
    real_t f = sigm(Zx[g4 + H + j] + zh[H + j]);
    real_t g = act(Zx[g4 + 2 * H + j] + zh[2 * H + j], relu);
    real_t o = sigm(Zx[g4 + 3 * H + j] + zh[3 * H + j]);
    gates[g4 + j] = i; gates[g4 + H + j] = f; gates[g4 + 2 * H + j] = g; gates[g4 + 3 * H + j] = o;
    long long prev = ((long long)b * (T + 1) + t) * H + j, next = prev + H;
    real_t m = has_mask ? mask[(long long)b * T + t] : (real_t)1;
    cell_step(i, f, g, o, cs[prev], hs[prev], m, has_mask, relu, &c_new[((long long)b * T + t) * H + j],
              &cs[next], &hs[next]);
    h_work[idx] = hs[next];
}

// per-step path, one thread per (b, j): dz of step t, and the dC / carry passed to step t-1;
// the GEMM dH_rec = dz_t U^T follows
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK) lstm_cell_backward(
    const real_t* __restrict__ dh,      // (B, T, H)   dL/dh_t from the layer's output
    const real_t* __restrict__ dH_rec,  // (B, H)      dz_{t+1} U^T
    real_t* __restrict__ carry,         // (B, H)      (1 - m_{t+1}) dH_{t+1}; updated
    real_t* __restrict__ dC,            // (B, H)      dL/dc_t from step t+1; updated
    const real_t* __restrict__ mask, const real_t* __restrict__ gates, const real_t* __restrict__ c_new,
    const real_t* __restrict__ cs,      // (B, T+1, H)
    real_t* __restrict__ dZ,            // (B, T, 4H)
    real_t* __restrict__ dz_work,       // (B, 4H)     dz_t, contiguous for the next GEMM
    int B, int T, int H, int t, int relu, int has_mask)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * H) return;
    int b = idx / H, j = idx % H;
    long long g4 = ((long long)b * T + t) * 4 * H;
    real_t dH = dh[((long long)b * T + t) * H + j] + (dH_rec[idx] + carry[idx]);
    real_t m = has_mask ? mask[(long long)b * T + t] : (real_t)1;
    cell_grad(gates[g4 + j], gates[g4 + H + j], gates[g4 + 2 * H + j], gates[g4 + 3 * H + j],
              cs[((long long)b * (T + 1) + t) * H + j], c_new[((long long)b * T + t) * H + j],
              dH, m, has_mask, relu, &dC[idx], &carry[idx], &dZ[g4 + j], H);
    real_t* w = dz_work + (long long)b * 4 * H;
    for (int q = 0; q < 4; ++q) w[q * H + j] = dZ[g4 + q * H + j];
}
"""

# the persistent kernels' ceiling: 4 H threads per block forward, so H <= 256 is CUDA's 1024 threads
PERSISTENT_LIMIT_H = 256
PERSISTENT_SRC = f"#define MAX_H {PERSISTENT_LIMIT_H}\n" + r"""
// The whole sequence in ONE launch: block b owns sample b and loops over t itself, so the T
// per-step launches disappear. Forward: 4H threads, thread k computes z_k = Zx[b,t,k] + sum_m h[m] U[m,k]
// and its gate's nonlinearity; then threads j < H update c_j (kept in a register) and h_j.
extern "C" __global__ void __launch_bounds__(4 * MAX_H) lstm_forward_persistent(
    const real_t* __restrict__ Zx, const real_t* __restrict__ U, const real_t* __restrict__ mask,
    real_t* __restrict__ gates, real_t* __restrict__ c_new, real_t* __restrict__ hs, real_t* __restrict__ cs,
    int B, int T, int H, int relu, int has_mask)
{
    __shared__ real_t h[MAX_H];
    __shared__ real_t a[4 * MAX_H];
    int b = blockIdx.x, k = threadIdx.x, H4 = 4 * H;
    real_t c_reg = 0;
    if (k < H) h[k] = 0;
    __syncthreads();
    for (int t = 0; t < T; ++t) {
        long long g4 = ((long long)b * T + t) * H4;
        real_t acc = 0;
        for (int m = 0; m < H; ++m) acc += h[m] * U[(long long)m * H4 + k];
        real_t z = Zx[g4 + k] + acc;
        real_t v = (k >= 2 * H && k < 3 * H) ? act(z, relu) : sigm(z);
        gates[g4 + k] = v;
        a[k] = v;
        __syncthreads();  // every gate of step t is in a[]; every read of h_{t-1} is done
        if (k < H) {
            long long next = ((long long)b * (T + 1) + t + 1) * H + k;
            real_t m = has_mask ? mask[(long long)b * T + t] : (real_t)1;
            cell_step(a[k], a[H + k], a[2 * H + k], a[3 * H + k], c_reg, h[k], m, has_mask, relu,
                      &c_new[((long long)b * T + t) * H + k], &cs[next], &hs[next]);
            c_reg = cs[next];
            h[k] = hs[next];
        }
        __syncthreads();  // h_t complete before step t+1 reads it
    }
}

// Backward in one launch: H threads per sample; thread j keeps dC_j and carry_j in registers,
// writes its four dz entries to shared memory, then computes dH_rec_j = sum_n dz[n] U[j, n].
extern "C" __global__ void __launch_bounds__(MAX_H) lstm_backward_persistent(
    const real_t* __restrict__ dh, const real_t* __restrict__ U, const real_t* __restrict__ mask,
    const real_t* __restrict__ gates, const real_t* __restrict__ c_new, const real_t* __restrict__ cs,
    real_t* __restrict__ dZ, int B, int T, int H, int relu, int has_mask)
{
    __shared__ real_t dz[4 * MAX_H];
    int b = blockIdx.x, j = threadIdx.x, H4 = 4 * H;
    real_t dC = 0, carry = 0, dH_rec = 0;
    for (int t = T - 1; t >= 0; --t) {
        long long g4 = ((long long)b * T + t) * H4;
        real_t dH = dh[((long long)b * T + t) * H + j] + (dH_rec + carry);
        real_t m = has_mask ? mask[(long long)b * T + t] : (real_t)1;
        cell_grad(gates[g4 + j], gates[g4 + H + j], gates[g4 + 2 * H + j], gates[g4 + 3 * H + j],
                  cs[((long long)b * (T + 1) + t) * H + j], c_new[((long long)b * T + t) * H + j],
                  dH, m, has_mask, relu, &dC, &carry, &dz[j], H);
        for (int q = 0; q < 4; ++q) dZ[g4 + q * H + j] = dz[q * H + j];
        __syncthreads();  // all of dz_t in shared memory
        real_t acc = 0;
        for (int n = 0; n < H4; ++n) acc += dz[n] * U[(long long)j * H4 + n];
        dH_rec = acc;
        __syncthreads();  // dz[] is read by everyone before step t-1 overwrites it
    }
}
"""

# The persistent kernels re-read U from L1/L2 every step in every block: a win while U is small
# (the paper's H = 20: 6.4 KB) and launch latency dominates; past this, the per-step cuBLAS path.
PERSISTENT_MAX_H = 64
_SRC = CELL_SRC + PERSISTENT_SRC


def cuda_sources():
    return [(f"lstm.cell.{np.dtype(d).name}", with_real(_SRC, d)) for d in (np.float32, np.float64)]


def _cell(dtype, name):
    return kernel(with_real(_SRC, dtype), name)


def _use_persistent(persistent, H):
    if persistent is None:
        return H <= PERSISTENT_MAX_H
    if persistent and H > PERSISTENT_LIMIT_H:
        raise NNInputError(f"lstm: the persistent kernels hold at most {PERSISTENT_LIMIT_H} units, got H={H}")
    return bool(persistent)


def _relu_flag(activation):
    return i32(check_activation(activation) == "relu")


def lstm_forward(x, W, U, b, activation="tanh", mask=None, *, persistent=None):
    """``ser_ref.nn.lstm.lstm_forward`` with fused cell kernels: x (B, T, n_in) cupy -> (h (B, T, H), cache).

    ``persistent``: one launch for all T steps (True), a GEMM + cell launch per step (False), or
    chosen by H (None: persistent up to PERSISTENT_MAX_H units)."""
    cp = cupy()
    B, T, n_in, H = check_lstm_args(x, W, U, b, mask)
    relu = _relu_flag(activation)
    dt = common_real_dtype("lstm_forward", x=x, W=W, U=U, b=b)
    x = cp.ascontiguousarray(x)
    m = None if mask is None else cp.ascontiguousarray(cp.asarray(mask).astype(dt))[:, :, None]
    Zx = cp.ascontiguousarray((x.reshape(B * T, n_in) @ W + b).reshape(B, T, 4 * H))
    gates = cp.empty((B, T, 4 * H), dtype=dt)
    c_new = cp.empty((B, T, H), dtype=dt)
    hs = cp.zeros((B, T + 1, H), dtype=dt)
    cs = cp.zeros((B, T + 1, H), dtype=dt)
    h_work = cp.zeros((B, H), dtype=dt)
    Zh = cp.empty((B, 4 * H), dtype=dt)
    Uc = cp.ascontiguousarray(U)
    mask_arg = Zx if m is None else m  # any pointer when there is no mask; never read
    if _use_persistent(persistent, H):
        if B > 0 and T > 0:
            _cell(dt, "lstm_forward_persistent")((B,), (4 * H,), (Zx, Uc, mask_arg, gates, c_new, hs, cs, i32(B),
                                                                  i32(T), i32(H), relu, i32(m is not None)))
        return hs[:, 1:], (x, W, U, activation, m, gates, c_new, hs, cs)
    cell = _cell(dt, "lstm_cell_forward")
    for t in range(T):
        cp.matmul(h_work, Uc, out=Zh)
        launch(cell, B * H, Zx, Zh, mask_arg, gates, c_new, hs, cs, h_work,
               i32(B), i32(T), i32(H), i32(t), relu, i32(m is not None))
    cache = (x, W, U, activation, m, gates, c_new, hs, cs)
    return hs[:, 1:], cache


def lstm_backward(dh, cache, need_dx: bool = True, *, persistent=None):
    """``ser_ref.nn.lstm.lstm_backward`` with fused cell kernels -> (dx, dW, dU, db); dx None if not need_dx.

    ``persistent`` as in ``lstm_forward``; the cache of any forward works (see the module doc)."""
    cp = cupy()
    x, W, U, activation, m, gates, c_new, hs, cs = cache
    x, W, U, gates, c_new, hs, cs = (cp.asarray(a) for a in (x, W, U, gates, c_new, hs, cs))
    m = None if m is None else cp.asarray(m)
    relu = _relu_flag(activation)
    B, T, n_in = x.shape
    H = U.shape[0]
    if dh.shape != (B, T, H):
        raise NNInputError(f"lstm_backward: dh {dh.shape} must be (B, T, H) = {(B, T, H)}")
    dt = common_real_dtype("lstm_backward", dh=dh, x=x, W=W, U=U, gates=gates, c_new=c_new, cs=cs, mask=m)
    dh = cp.ascontiguousarray(cp.asarray(dh))
    gates, c_new, cs = (cp.ascontiguousarray(a) for a in (gates, c_new, cs))
    dZ = cp.empty((B, T, 4 * H), dtype=dt)
    dz_work = cp.zeros((B, 4 * H), dtype=dt)
    dH_rec = cp.zeros((B, H), dtype=dt)
    carry = cp.zeros((B, H), dtype=dt)
    dC = cp.zeros((B, H), dtype=dt)
    UT = cp.ascontiguousarray(U.T)
    mask_arg = dh if m is None else cp.ascontiguousarray(m)
    if _use_persistent(persistent, H):
        if B > 0 and T > 0:
            _cell(dt, "lstm_backward_persistent")((B,), (H,), (dh, cp.ascontiguousarray(U), mask_arg, gates, c_new,
                                                               cs, dZ, i32(B), i32(T), i32(H), relu,
                                                               i32(m is not None)))
    else:
        cell = _cell(dt, "lstm_cell_backward")
        for t in range(T - 1, -1, -1):
            launch(cell, B * H, dh, dH_rec, carry, dC, mask_arg, gates, c_new, cs, dZ, dz_work,
                   i32(B), i32(T), i32(H), i32(t), relu, i32(m is not None))
            if t > 0:
                cp.matmul(dz_work, UT, out=dH_rec)
    return lstm_input_grads(dZ, x, W, hs, need_dx)

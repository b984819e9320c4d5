"""Context windows + DeepSpeech layer 1 on the GPU; reference: ``ser_ref.deepspeech`` (windows.py, layer1.py,
layer_features.py).

Rows r = (utterance b, frame t) of a batch of MFCC frames F (B, T, C), n_frames[b] real frames each:

    window      x_r[j C + c] = F[b, t + j - n_ctx, c]  (0 outside 0 <= t + j - n_ctx < n_frames[b])
    float       h_r = min(max(x_r W + b, 0), clip)                     W (494, H) float32
    tflite-int8 m_r = max_k |x_r[k]|,  q_r = clip(round_half_away(x_r * (127 / m_r)), -127, 127)
                s_r = (m_r / 127) w_scale   (w_scale when m_r = 0, q_r = 0)
                h_r = min(max(b + float(q_r W_q) s_r, 0), clip)

Kernels: ``gather_windows`` writes the windows straight from F (one pass, no padded copy);
``gather_quantize`` does the gather and the int8 row quantisation in one pass (one block per row,
max |x| by a shared-memory reduction); the GEMM is cuBLAS SGEMM (the int8 products are exact in
float32: |q W_q| <= 494 * 127^2 < 2^24, so the int8 mode is bit-identical to the reference as long
as CuPy does not use TF32, its default); ``bias_relu_clip`` / ``scale_bias_relu_clip`` are the
fused epilogues (one read and one write of the output instead of the reference's three passes).

The windows are materialised (R x 494 float32): cuBLAS cannot read the overlapping-row view the
reference builds (its leading dimension would be 26 < 494), and the gather costs one write and one
read of R x 494 x 4 bytes, a few percent of the GEMM at H = 2048.
"""
from __future__ import annotations

import numpy as np

from ..deepspeech.layer1 import MODES, ModeError
from ..errors import AudioError, WeightsError
from ..runtime.backend import to_host
from ._cuda import BLOCK, DEFINES, cupy, i32, i64, kernel, launch
from .tf_mfcc import mfcc_batch

GATHER_SRC = DEFINES + r"""
// value of window element k of row r: F[b, t + k / C - n_ctx, k % C], 0 outside the utterance
__device__ __forceinline__ float window_value(const float* F, const int* n_frames, const int* row_b,
                                              const int* row_t, long long T, int C, int n_ctx, long long r, int k)
{
    int b = row_b[r];
    int s = row_t[r] + k / C - n_ctx;
    return (s >= 0 && s < n_frames[b]) ? F[((long long)b * T + s) * C + k % C] : 0.0f;
}

// X[r, k] = window value, one thread per element
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
gather_windows(const float* __restrict__ F, const int* __restrict__ n_frames,
               const int* __restrict__ row_b, const int* __restrict__ row_t,
               float* __restrict__ X, long long R, long long T, int C, int n_ctx)
{
    int width = (2 * n_ctx + 1) * C;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= R * width) return;
    X[i] = window_value(F, n_frames, row_b, row_t, T, C, n_ctx, i / width, (int)(i % width));
}

// one block (SER_REF_BLOCK threads, a power of two) per row: m = max|x|,
// Q[r, k] = clip(round_half_away(x * (127 / m))), s[r] = (m / 127) * w_scale, all in float32 like
// TFLite's kernel (w_scale alone when m = 0)
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
gather_quantize(const float* __restrict__ F, const int* __restrict__ n_frames,
                const int* __restrict__ row_b, const int* __restrict__ row_t,
                float* __restrict__ Q, float* __restrict__ s,
                long long R, long long T, int C, int n_ctx, float w_scale)
{
    __shared__ float red[SER_REF_BLOCK];
    int width = (2 * n_ctx + 1) * C;
    long long r = blockIdx.x;
    if (r >= R) return;
    float m = 0.0f;
    for (int k = threadIdx.x; k < width; k += blockDim.x)
        m = fmaxf(m, fabsf(window_value(F, n_frames, row_b, row_t, T, C, n_ctx, r, k)));
    red[threadIdx.x] = m;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h >>= 1) {
        if (threadIdx.x < h) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + h]);
        __syncthreads();
    }
    m = red[0];
    float inv = m > 0.0f ? 127.0f / m : 0.0f;
    for (int k = threadIdx.x; k < width; k += blockDim.x) {
        double v = (double)(window_value(F, n_frames, row_b, row_t, T, C, n_ctx, r, k) * inv);
        double q = copysign(floor(fabs(v) + 0.5), v);   // round half away from zero
        Q[r * width + k] = (float)fmin(fmax(q, -127.0), 127.0);
    }
    if (threadIdx.x == 0) s[r] = (m > 0.0f ? m / 127.0f : 1.0f) * w_scale;
}
"""

EPILOGUE_SRC = DEFINES + r"""
// Y[r, j] = min(max(Y[r, j] + b[j], 0), clip), in place on the GEMM output
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
bias_relu_clip(float* __restrict__ Y, const float* __restrict__ bias,
               long long R, int H, float clip)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= R * H) return;
    Y[i] = fminf(fmaxf(Y[i] + bias[i % H], 0.0f), clip);
}

// Y[r, j] = min(max(b[j] + Y[r, j] * s[r], 0), clip): the int8 accumulator rescaled, in place
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
scale_bias_relu_clip(float* __restrict__ Y, const float* __restrict__ s,
                     const float* __restrict__ bias, long long R, int H, float clip)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= R * H) return;
    Y[i] = fminf(fmaxf(bias[i % H] + Y[i] * s[i / H], 0.0f), clip);
}
"""



def cuda_sources():
    return [("layer1.gather", GATHER_SRC), ("layer1.epilogue", EPILOGUE_SRC)]


def _rows(n_frames):
    """(row_b, row_t) int32 device arrays listing every real (utterance, frame) pair in order."""
    cp = cupy()
    n_frames = np.asarray(n_frames, dtype=np.int64)
    row_b = np.repeat(np.arange(len(n_frames), dtype=np.int32), n_frames)
    starts = np.concatenate([[0], np.cumsum(n_frames)[:-1]])
    row_t = (np.arange(int(n_frames.sum())) - np.repeat(starts, n_frames)).astype(np.int32)
    return cp.asarray(row_b), cp.asarray(row_t)


def _frames(frames, n_frames):
    cp = cupy()
    F = cp.ascontiguousarray(cp.asarray(frames, dtype=cp.float32))
    if F.ndim == 2:
        F = F[None]
    if F.ndim != 3 or F.shape[1] < 1:
        raise AudioError(f"layer1: expected MFCC frames (T, C) or (B, T, C) with T >= 1, got {F.shape}")
    n_frames = np.full(F.shape[0], F.shape[1]) if n_frames is None else np.asarray(n_frames, dtype=np.int64)
    if n_frames.shape != (F.shape[0],) or n_frames.min() < 1 or n_frames.max() > F.shape[1]:
        raise AudioError(f"layer1: n_frames {n_frames.shape} must give 1..{F.shape[1]} frames "
                         f"for each of the {F.shape[0]} utterances")
    return F, n_frames


def context_windows(mfcc, n_context: int = 9, n_frames=None):
    """Windows of every real frame -> (sum n_frames, (2 n_context + 1) C) cupy float32, materialised.

    ``mfcc`` (T, C) gives exactly ``ser_ref.deepspeech.context_windows(mfcc, n_context)``;
    (B, T, C) with ``n_frames`` gives each utterance's windows (zero-padded at its own edges), stacked.
    """
    if int(n_context) != n_context or n_context < 0:
        raise AudioError(f"context_windows: n_context must be a non-negative integer, got {n_context!r}")
    cp = cupy()
    F, n_frames = _frames(mfcc, n_frames)
    B, T, C = F.shape
    row_b, row_t = _rows(n_frames)
    R, width = row_b.size, (2 * int(n_context) + 1) * C
    X = cp.empty((R, width), dtype=cp.float32)
    launch(kernel(GATHER_SRC, "gather_windows"), X.size, F, cp.asarray(n_frames.astype(np.int32)),
           row_b, row_t, X, i64(R), i64(T), i32(C), i32(n_context))
    return X


def _check_weights(W, b, width):
    if W.ndim != 2 or W.shape[0] != width or b.shape != (W.shape[1],):
        raise WeightsError(f"layer1: W {W.shape} and b {b.shape} must be ({width}, H) and (H,)")


def layer1_batch(frames, W, b, *, n_frames=None, mode: str = "float", w_scale=None, n_context: int = 9,
                 clip: float = 20.0):
    """Layer 1 of every real frame of a batch -> (sum n_frames, H) cupy float32, rows in (b, t) order.

    ``frames`` (T, C) or (B, T, C) MFCC (CuPy or NumPy), ``n_frames`` (B,) real frames per utterance.
    mode "float": W is the float32 (494, H) weight. mode "tflite-int8": W is W_q (494, H) (int8, or
    float32 holding the integers: pass that to skip the per-call conversion) and ``w_scale`` its scale.
    """
    cp = cupy()
    if mode not in MODES:
        raise ModeError(f"layer 1 mode must be one of {MODES}, got {mode!r}")
    F, n_frames = _frames(frames, n_frames)
    B, T, C = F.shape
    width = (2 * int(n_context) + 1) * C
    W, bias = cp.asarray(W), cp.asarray(b, dtype=cp.float32)
    _check_weights(W, bias, width)
    row_b, row_t = _rows(n_frames)
    nf = cp.asarray(n_frames.astype(np.int32))
    R, H = row_b.size, W.shape[1]
    X = cp.empty((R, width), dtype=cp.float32)
    if mode == "float":
        launch(kernel(GATHER_SRC, "gather_windows"), X.size, F, nf, row_b, row_t, X,
               i64(R), i64(T), i32(C), i32(n_context))
        Y = cp.matmul(X, W.astype(cp.float32, copy=False))
        launch(kernel(EPILOGUE_SRC, "bias_relu_clip"), Y.size, Y, bias, i64(R), i32(H), np.float32(clip))
        return Y
    if w_scale is None:
        raise WeightsError("layer1: mode 'tflite-int8' needs w_scale")
    s = cp.empty(R, dtype=cp.float32)
    if R > 0:
        kernel(GATHER_SRC, "gather_quantize")((R,), (BLOCK,), (F, nf, row_b, row_t, X, s, i64(R), i64(T),
                                                              i32(C), i32(n_context), np.float32(w_scale)))
    Y = cp.matmul(X, W.astype(cp.float32, copy=False))  # exact integer sums (see module doc)
    launch(kernel(EPILOGUE_SRC, "scale_bias_relu_clip"), Y.size, Y, s, bias, i64(R), i32(H), np.float32(clip))
    return Y


def layer1_forward(windows, W, b, *, mode: str = "float", w_scale=None, clip: float = 20.0):
    """``ser_ref.deepspeech.Layer1`` on ready-made windows (R, 494) -> (R, H) cupy float32.

    The windows are gathered with n_context = 0 (a copy), so the same fused kernels run."""
    cp = cupy()
    X = cp.asarray(windows, dtype=cp.float32)
    if X.ndim != 2:
        raise AudioError(f"layer1: expected windows (frames, {W.shape[0]}), got {X.shape}")
    return layer1_batch(X[:, None, :], W, b, n_frames=np.ones(X.shape[0], np.int64), mode=mode,
                        w_scale=w_scale, n_context=0, clip=clip)


def _weights(layer, mode: str):
    """(W, b) of a ``Layer1`` on the device for ``mode``, copied once and kept by the layer: W for
    "float", W_q as float32 for "tflite-int8" (exact: |W_q| <= 127; saves a conversion per call)."""
    cp = cupy()
    W, b, W_q = layer.weights_on(cp)
    return (W if mode == "float" else layer.int8_as_float(cp, W_q)), b


def apply_layer1(layer, windows, mode: str = "float"):
    """``Layer1.__call__`` (``ser_ref.deepspeech.layer1``) on the device: windows (R, 494) -> (R, H) cupy float32."""
    x = cupy().asarray(windows)
    layer.check_windows(x)
    W, b = _weights(layer, mode)
    return layer1_forward(x, W, b, mode=mode, w_scale=layer.w_scale, clip=layer.clip)


def deepspeech_features_batch(signals, layer, *, step_ms: float = 20, mode: str = "float") -> list:
    """``ser_ref.deepspeech.layer_features.deepspeech_features_batch`` on the device -> list of (frames_i, H)
    NumPy float32.

    The whole batch moves to the device once: one batched MFCC (``tf_mfcc.mfcc_batch``), the 19-frame
    windows gathered inside the layer-1 kernel (never materialised on the host), one GEMM, one fused
    bias + ReLU + clip pass, then one copy back."""
    signals = list(signals)
    if not signals:  # e.g. a final batch whose files were all left out: nothing to send to the device
        return []
    feats, n_frames = mfcc_batch(signals, win_ms=layer.metadata.get("win_len_ms", 32), step_ms=step_ms)
    W, b = _weights(layer, mode)
    Y = to_host(layer1_batch(feats, W, b, n_frames=n_frames, mode=mode, w_scale=layer.w_scale, clip=layer.clip))
    bounds = np.cumsum(np.r_[0, np.asarray(n_frames)])
    return [Y[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]

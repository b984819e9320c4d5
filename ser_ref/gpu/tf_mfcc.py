"""MFCC of a batch of utterances on the GPU: the math of ``ser_ref.frontend.tf_mfcc.mfcc_reference`` (the reference).

For utterance b with N_b samples, window L, step S, FFT length K, frames t < T_b = 1 + (N_b - L) // S:

    frames      y_bt[n] = w[n] x_b[t S + n]  for n < L,  0 for L <= n < K       (kernel frame_window)
    spectrum    X_bt = rfft(y_bt)                                               (cuFFT, float64, batched)
    magnitude   M_bt[k] = sqrt(float32(Re^2 + Im^2))  on the bins H uses         (kernel magnitude)
    filterbank  E = M H                                                         (cuBLAS DGEMM)
    log         l = ln(max(E, 1e-12))                                           (kernel log_floor)
    DCT         mfcc = float32(l D),  rows t >= T_b set to 0                    (cuBLAS DGEMM + kernel)

All in float64 as the reference (and TensorFlow) does; the power is rounded to float32 before the
square root exactly like the reference. Kernels are compiled with --fmad=false (see _cuda.py),
so a*b + c rounds twice, as in NumPy, rather than once in an FMA. Remaining differences are
cuFFT's vs pocketfft's rounding (float64, ~1e-16 relative).

The batch goes to the device once: signals are packed into one zero-padded (B, N_max) float32
array on the host and copied in a single transfer.
"""
from __future__ import annotations

import numpy as np

from ..frontend import tf_mfcc as ref
from ..frontend.audio import check_signal
from ..errors import AudioError
from ._cuda import DEFINES, cupy, i32, i64, kernel, launch

FRAME_WINDOW_SRC = DEFINES + r"""
// y[b, t, n] = w[n] * x[b, t*step + n] for n < win and t < n_frames[b]; 0 otherwise (zero-pad to n_fft)
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
frame_window(const float* __restrict__ x, const int* __restrict__ n_frames,
             const double* __restrict__ w, double* __restrict__ y,
             long long B, long long T, long long N, int win, int step, int n_fft)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * T * n_fft) return;
    int n = (int)(i % n_fft);
    long long bt = i / n_fft;
    long long t = bt % T, b = bt / T;
    double v = 0.0;
    if (n < win && t < n_frames[b]) v = w[n] * (double)x[b * N + t * step + n];
    y[i] = v;
}
"""

MAGNITUDE_SRC = DEFINES + r"""
// M[r, k] = sqrt((double)(float)(Re^2 + Im^2)) of X[r, lo + k], k < n_used   (TF keeps the power in float32)
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
magnitude(const double* __restrict__ X, double* __restrict__ M,
          long long rows, int n_bins, int lo, int n_used)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * n_used) return;
    long long r = i / n_used;
    int k = lo + (int)(i % n_used);
    double re = X[2 * (r * n_bins + k)], im = X[2 * (r * n_bins + k) + 1];
    float p = (float)(re * re + im * im);
    M[i] = sqrt((double)p);
}
"""

LOG_FLOOR_SRC = DEFINES + r"""
// E[i] = ln(max(E[i], floor)), in place
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
log_floor(double* __restrict__ E, long long n, double floor_)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) E[i] = log(fmax(E[i], floor_));
}
"""

CAST_MASK_SRC = DEFINES + r"""
// out[b, t, c] = (float)C[b, t, c] for t < n_frames[b], 0 for the padding rows
extern "C" __global__ void __launch_bounds__(SER_REF_BLOCK)
cast_mask(const double* __restrict__ C, const int* __restrict__ n_frames,
          float* __restrict__ out, long long B, long long T, int n_mfcc)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * T * n_mfcc) return;
    long long bt = i / n_mfcc;
    long long t = bt % T, b = bt / T;
    out[i] = t < n_frames[b] ? (float)C[i] : 0.0f;
}
"""


def cuda_sources():
    return [("tf_mfcc.frame_window", FRAME_WINDOW_SRC), ("tf_mfcc.magnitude", MAGNITUDE_SRC),
            ("tf_mfcc.log_floor", LOG_FLOOR_SRC), ("tf_mfcc.cast_mask", CAST_MASK_SRC)]


def _pack(signals, sample_rate):
    """Host (B, N_max) float32 zero-padded batch and lengths; each signal validated like the reference."""
    if len(signals) == 0:
        raise AudioError("mfcc_batch: got an empty list of signals")
    xs = []
    for k, s in enumerate(signals):
        if type(s).__module__.startswith("cupy"):
            s = s.get()
        xs.append(check_signal(s, sample_rate, name=f"mfcc_batch signal {k}", min_samples=1))
    lengths = np.array([len(x) for x in xs], dtype=np.int64)
    packed = np.zeros((len(xs), int(lengths.max())), dtype=np.float32)
    for k, x in enumerate(xs):
        packed[k, : len(x)] = x
    return packed, lengths


def mfcc_batch(signals, sample_rate: int = 16000, *, win_ms: float = 32, step_ms: float = 20,
               n_mfcc: int = 26, n_mels: int = 40, fmin: float = 20.0, fmax: float = 8000.0,
               lengths=None):
    """MFCC of many utterances at once -> (feats (B, T_max, n_mfcc) cupy float32, n_frames (B,) int64).

    ``signals``: a list of 1-D arrays (NumPy or CuPy), or a 2-D (B, N) array (NumPy or CuPy) with
    ``lengths`` (B,) giving each row's real length. feats[b, :n_frames[b]] equals
    ``ser_ref.frontend.tf_mfcc.mfcc_reference(signals[b], ...)``; rows past n_frames[b] are 0.
    """
    cp = cupy()
    win = ref.ms_to_samples(win_ms, sample_rate, "win_ms")
    step = ref.ms_to_samples(step_ms, sample_rate, "step_ms")
    ref.check_mfcc_params(sample_rate, n_mfcc, n_mels, fmin, fmax)
    if lengths is None:
        packed, lengths = _pack(list(signals), sample_rate)
        x = cp.asarray(packed)  # the one host -> device transfer of the batch
    else:
        lengths = np.asarray(lengths, dtype=np.int64)
        x = cp.asarray(signals, dtype=cp.float32)
        if x.ndim != 2 or lengths.shape != (x.shape[0],) or lengths.min() < 0 or lengths.max() > x.shape[1]:
            raise AudioError(f"mfcc_batch: signals {x.shape} and lengths {lengths.shape} must be (B, N) "
                             f"and (B,) with 0 <= lengths <= N")
    short = np.flatnonzero(lengths < win)
    if short.size:
        raise AudioError(f"mfcc_batch: signal {int(short[0])} has {int(lengths[short[0]])} samples, "
                         f"shorter than one window ({win})")
    x = cp.ascontiguousarray(x)
    B, N = x.shape
    n_frames = 1 + (lengths - win) // step
    T = int(n_frames.max())
    n_fft = 1 << (win - 1).bit_length()
    H = ref.tf_mel_filterbank(n_fft // 2 + 1, int(sample_rate), n_mels, float(fmin), float(fmax))
    k, _, _ = ref.mel_bands(n_fft // 2 + 1, int(sample_rate), n_mels, float(fmin), float(fmax))
    lo, hi = int(k[0]), int(k[-1]) + 1  # only the bins the filterbank uses
    H = cp.asarray(H[lo:hi])
    D = cp.asarray(ref.dct_matrix(n_mels, n_mfcc))
    w = cp.asarray(ref.hann_window(win))
    nf = cp.asarray(n_frames.astype(np.int32))

    frames = cp.empty((B, T, n_fft), dtype=cp.float64)
    launch(kernel(FRAME_WINDOW_SRC, "frame_window"), frames.size,
           x, nf, w, frames, i64(B), i64(T), i64(N), i32(win), i32(step), i32(n_fft))
    X = cp.fft.rfft(frames, axis=2)  # batched cuFFT over all B*T frames
    del frames
    rows, n_used = B * T, hi - lo
    mag = cp.empty((rows, n_used), dtype=cp.float64)
    launch(kernel(MAGNITUDE_SRC, "magnitude"), mag.size,
           X, mag, i64(rows), i32(X.shape[2]), i32(lo), i32(n_used))
    del X
    E = mag @ H
    launch(kernel(LOG_FLOOR_SRC, "log_floor"), E.size, E, i64(E.size), np.float64(ref.LOG_FLOOR))
    C = E @ D
    out = cp.empty((B, T, n_mfcc), dtype=cp.float32)
    launch(kernel(CAST_MASK_SRC, "cast_mask"), out.size, C, nf, out, i64(B), i64(T), i32(n_mfcc))
    return out, n_frames


def mfcc(signal, sample_rate: int = 16000, *, win_ms: float = 32, step_ms: float = 20,
         n_mfcc: int = 26, n_mels: int = 40, fmin: float = 20.0, fmax: float = 8000.0):
    """``ser_ref.frontend.tf_mfcc.mfcc`` / ``mfcc_reference`` on the GPU for one signal -> (frames, n_mfcc) cupy float32.

    A CuPy signal stays on the device (unvalidated, as in the reference); a NumPy one is checked."""
    on_device = type(signal).__module__.startswith("cupy") and signal.ndim == 1
    batch, lengths = (signal[None], [signal.shape[0]]) if on_device else ([signal], None)
    feats, n_frames = mfcc_batch(batch, sample_rate, lengths=lengths, win_ms=win_ms, step_ms=step_ms, n_mfcc=n_mfcc,
                                 n_mels=n_mels, fmin=fmin, fmax=fmax)
    return feats[0, : int(n_frames[0])]

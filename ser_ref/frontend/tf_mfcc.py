"""MFCC exactly as the DeepSpeech model file computes them (TensorFlow's AudioSpectrogram + Mfcc ops).

For a signal x sampled at sr Hz, window length L = win_ms * sr / 1000 (512 at 32 ms) and step
S = step_ms * sr / 1000 (320 at 20 ms, 160 at 10 ms):

    frames      x_t[n] = x[t*S + n],  n < L,  t < 1 + (N - L) // S        (no padding; ser_ref.frontend.framing)
    window      w[n] = 0.5 - 0.5 cos(2 pi n / L)                          (periodic Hann)
    spectrum    P_t[k] = |sum_n w[n] x_t[n] e^{-2 pi i k n / K}|^2,  K = next power of two >= L
    mel scale   mel(f) = 1127 ln(1 + f / 700)
    filterbank  E_t[c] = sum_k H[k, c] sqrt(P_t[k])          (applied to the magnitude, as TF does)
    log floor   l_t[c] = ln(max(E_t[c], 1e-12))
    DCT         mfcc_t[i] = sqrt(2 / C) sum_c l_t[c] cos(pi / C * i * (c + 0.5)),  i < n_mfcc

H (see ``tf_mel_filterbank``) is TensorFlow's MfccMelFilterbank: C + 1 centres evenly spaced in mel,
each FFT bin splitting a weight w and 1 - w between the two channels around it. (openSMILE's eGeMAPS
front end has its own mel scale and filterbank, ``ser_ref.egemaps.mel``: other rounding, other bins,
applied to the power; the ``tf_`` names here say which is which.) Everything is
computed in float64 (as TF does) and returned as float32. ``mfcc_reference`` is backend-generic (a
CuPy signal gives a CuPy result); ``mfcc`` is the compiled CPU path.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numba
import numpy as np

from .audio import check_signal
from ..runtime.backend import array_module
from ..runtime.core_pool import run_shares
from ..errors import AudioError
from .framing import frame_signal

LOG_FLOOR = 1e-12
_WORKERS = max(1, min(2, os.cpu_count() or 1))  # threads over blocks (the CI machine has 2 cores)
_BLOCK = 1024  # frames per block: its samples, spectrum and energies stay in cache


def tf_hz_to_mel(f):
    """mel(f) = 1127 ln(1 + f / 700)   (the HTK mel scale, natural-log form, as TF's MfccMelFilterbank
    computes it: 1127 log1p(f / 700), which rounds differently from openSMILE's log(1 + f / 700)).

    Examples
    --------
    >>> bool(float(tf_hz_to_mel(700.0)) == 1127.0 * np.log(2.0))
    True
    """
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


@lru_cache(maxsize=16)
def hann_window(length: int) -> np.ndarray:
    """w[n] = 0.5 - 0.5 cos(2 pi n / L): the periodic Hann window (TF's Spectrogram uses it).

    Examples
    --------
    >>> hann_window(4)
    array([0. , 0.5, 1. , 0.5])
    """
    n = np.arange(length, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / length)


@lru_cache(maxsize=16)
def mel_bands(n_bins: int, sample_rate: int, n_mels: int = 40, fmin: float = 20.0, fmax: float = 8000.0):
    """TensorFlow's MfccMelFilterbank in its own sparse form: (k, band, w) for the bins k it uses.

    centres     m_c = mel(fmin) + (c + 1) (mel(fmax) - mel(fmin)) / (C + 1),  c = 0..C
                (the extra centre m_C = mel(fmax) closes the last triangle)
    bins used   k0 = int(1.5 + fmin / hz_per_bin) <= k <= k1 = int(fmax / hz_per_bin),
                hz_per_bin = (sr / 2) / (n_bins - 1)   (DC is always excluded)
    band        b(k) = (number of centres below mel(k hz_per_bin)) - 1, in [-1, C - 1]
    weight      w(k) = (m_{b+1} - mel_k) / (m_{b+1} - m_b),  with m_{-1} = mel(fmin)
    Bin k gives w(k) of its magnitude to channel b (falling edge) and 1 - w(k) to b + 1 (rising edge).

    Examples
    --------
    >>> k, band, w = mel_bands(257, 16000)
    >>> int(k[0]), int(k[-1]), int(band.min()), int(band.max()), bool(np.all((w >= 0) & (w <= 1)))
    (2, 256, -1, 39, True)
    """
    mel_lo, mel_hi = float(tf_hz_to_mel(fmin)), float(tf_hz_to_mel(fmax))
    spacing = (mel_hi - mel_lo) / (n_mels + 1)
    centres = mel_lo + spacing * np.arange(1, n_mels + 2, dtype=np.float64)
    hz_per_bin = 0.5 * sample_rate / (n_bins - 1)
    k0, k1 = int(1.5 + fmin / hz_per_bin), int(fmax / hz_per_bin)
    k = np.arange(k0, min(k1, n_bins - 1) + 1)
    mel_k = tf_hz_to_mel(k * hz_per_bin)
    # TF walks the channel pointer up while centre < mel_k, stopping at C: a count of centres below
    band = np.minimum(np.searchsorted(centres[:n_mels], mel_k, side="left"), n_mels) - 1
    left = np.where(band >= 0, centres[np.maximum(band, 0)], mel_lo)
    right = centres[band + 1]
    return k, band, (right - mel_k) / (right - left)


@lru_cache(maxsize=16)
def tf_mel_filterbank(n_bins: int, sample_rate: int, n_mels: int = 40,
                      fmin: float = 20.0, fmax: float = 8000.0) -> np.ndarray:
    """H (n_bins, n_mels): H[k, b(k)] = w(k), H[k, b(k) + 1] = 1 - w(k) (see ``mel_bands``).

    Examples
    --------
    >>> H = tf_mel_filterbank(257, 16000)
    >>> H.shape, bool(np.allclose(H[3:240].sum(axis=1), 1.0))   # a bin splits w and 1 - w
    ((257, 40), True)
    """
    k, band, w = mel_bands(n_bins, sample_rate, n_mels, fmin, fmax)
    H = np.zeros((n_bins, n_mels), dtype=np.float64)
    falling = band >= 0
    H[k[falling], band[falling]] = w[falling]
    rising = band + 1 < n_mels
    H[k[rising], band[rising] + 1] = 1.0 - w[rising]
    return H


@lru_cache(maxsize=16)
def dct_matrix(n_mels: int = 40, n_mfcc: int = 26) -> np.ndarray:
    """D (n_mels, n_mfcc), D[c, i] = sqrt(2 / C) cos(pi / C * i * (c + 0.5))  (c0 scaled the same).

    Examples
    --------
    >>> D = dct_matrix(40, 26)
    >>> G = D.T @ D                  # orthonormal columns, except c0, whose norm is sqrt(2)
    >>> D.shape, round(float(G[0, 0]), 12), bool(np.allclose(G[1:, 1:], np.eye(25)))
    ((40, 26), 2.0, True)
    """
    c = np.arange(n_mels, dtype=np.float64)[:, None]
    i = np.arange(n_mfcc, dtype=np.float64)[None, :]
    return np.sqrt(2.0 / n_mels) * np.cos(np.pi / n_mels * i * (c + 0.5))


def ms_to_samples(ms: float, sample_rate: int, name: str) -> int:
    """n = ms * sample_rate / 1000, which must be a whole positive number (AudioError naming ``name``).

    >>> ms_to_samples(32, 16000, "win_ms")
    512
    """
    if not np.isfinite(ms) or ms <= 0:
        raise AudioError(f"mfcc: {name} must be a positive number of milliseconds, got {ms!r}")
    n = ms * sample_rate / 1000.0
    if abs(n - round(n)) > 1e-9 or round(n) < 1:
        raise AudioError(f"mfcc: {name}={ms} ms is not a whole number of samples at {sample_rate} Hz")
    return int(round(n))


def check_mfcc_params(sample_rate, n_mfcc, n_mels, fmin, fmax):
    """AudioError unless 0 < n_mfcc <= n_mels and 0 <= fmin < fmax <= sample_rate / 2.

    >>> check_mfcc_params(16000, 26, 40, 20.0, 8000.0)   # the model's settings: no error
    """
    if not (0 < n_mfcc <= n_mels):
        raise AudioError(f"mfcc: need 0 < n_mfcc <= n_mels, got n_mfcc={n_mfcc}, n_mels={n_mels}")
    if not (0 <= fmin < fmax <= sample_rate / 2):
        raise AudioError(f"mfcc: need 0 <= fmin < fmax <= sample_rate / 2, got fmin={fmin}, "
                         f"fmax={fmax}, sample_rate={sample_rate}")


def _prepare(signal, sample_rate, win_ms, step_ms, n_mfcc, n_mels, fmin, fmax):
    """Validate everything; return (x, win, step, n_fft)."""
    xp = array_module(signal)
    if xp is np:
        x = check_signal(signal, sample_rate, name="mfcc signal", min_samples=1)
    else:
        x = signal.astype(xp.float32, copy=False)
    win = ms_to_samples(win_ms, sample_rate, "win_ms")
    step = ms_to_samples(step_ms, sample_rate, "step_ms")
    check_mfcc_params(sample_rate, n_mfcc, n_mels, fmin, fmax)
    if x.shape[0] < win:
        raise AudioError(f"mfcc signal: {x.shape[0]} samples is shorter than one window ({win})")
    return x, win, step, 1 << (win - 1).bit_length()


def mfcc_reference(signal, sample_rate: int = 16000, *, win_ms: float = 32, step_ms: float = 20,
                   n_mfcc: int = 26, n_mels: int = 40, fmin: float = 20.0, fmax: float = 8000.0):
    """The module's equations line by line in NumPy/CuPy (float64): the reference ``mfcc`` is tested
    against, and the path CuPy arrays take.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=16000).astype(np.float32)
    >>> ref = mfcc_reference(x)
    >>> ref.shape, float(np.abs(mfcc(x) - ref).max()) < 1e-3
    ((49, 26), True)
    """
    x, win, step, n_fft = _prepare(signal, sample_rate, win_ms, step_ms, n_mfcc, n_mels, fmin, fmax)
    xp = array_module(x)
    H = tf_mel_filterbank(n_fft // 2 + 1, int(sample_rate), n_mels, float(fmin), float(fmax))
    k, _, _ = mel_bands(n_fft // 2 + 1, int(sample_rate), n_mels, float(fmin), float(fmax))
    lo, hi = int(k[0]), int(k[-1]) + 1  # only the bins the filterbank uses
    H, D, w = xp.asarray(H[lo:hi]), xp.asarray(dct_matrix(n_mels, n_mfcc)), xp.asarray(hann_window(win))

    frames = frame_signal(x, win, step)
    X = xp.fft.rfft(frames * w, n=n_fft, axis=1)[:, lo:hi]
    # TF stores the power spectrum as float32 before the filterbank takes its square root
    power = (X.real * X.real + X.imag * X.imag).astype(xp.float32)
    energies = xp.sqrt(power.astype(xp.float64)) @ H
    return (xp.log(xp.maximum(energies, LOG_FLOOR)) @ D).astype(xp.float32)


@numba.njit(nogil=True, cache=True, fastmath={"nsz", "contract", "reassoc"})
def _mfcc_frames(X, hann_in_freq, k, band, w, D, out):
    """out[t] = float32(l_t @ D), l_t[c] = ln(max(E_t[c], 1e-12)), one pass per frame t:
    [Hann in frequency], |X|^2 rounded to float32 as TF stores it, sqrt, the sparse filterbank, log,
    DCT. The bins the filterbank uses are consecutive, k[j] = k[0] + j, so the
    magnitudes are one loop LLVM vectorises and the filterbank a second, scalar scatter loop.
    The DCT is done here, not as one BLAS matmul at the end: OpenBLAS leaves its threads
    spinning after a call, and they would steal a core from the other block thread.

    With the periodic Hann window and the FFT length equal to the window length,
    w[n] = 0.5 - 0.25 e^{2 pi i n / N} - 0.25 e^{-2 pi i n / N}, so windowing is the 3-tap
    X_w[k] = 0.5 X[k] - 0.25 (X[k-1] + X[k+1]) with X[N/2 + 1] = conj(X[N/2 - 1]) (k >= 1 always:
    DC is never used). This spares a windowed copy of every frame before the FFT.
    """
    n_frames, last = X.shape[0], X.shape[1] - 1
    n_mels, n_mfcc = D.shape
    k0, n_k = k[0], k.shape[0]
    top = n_k if k[n_k - 1] < last else n_k - 1  # bins whose right neighbour X[k + 1] is stored
    e = np.empty(n_mels)
    mag = np.empty(n_k)
    acc = np.empty(n_mfcc)
    for t in range(n_frames):
        row = X[t]
        if hann_in_freq:
            for j in range(top):
                z = 0.5 * row[k0 + j] - 0.25 * (row[k0 + j - 1] + row[k0 + j + 1])
                mag[j] = z.real * z.real + z.imag * z.imag
            for j in range(top, n_k):  # the Nyquist bin: X[N/2 + 1] = conj(X[N/2 - 1])
                z = 0.5 * row[last] - 0.25 * (row[last - 1] + np.conj(row[last - 1]))
                mag[j] = z.real * z.real + z.imag * z.imag
        else:
            for j in range(n_k):
                z = row[k0 + j]
                mag[j] = z.real * z.real + z.imag * z.imag
        for j in range(n_k):
            mag[j] = np.sqrt(np.float64(np.float32(mag[j])))
        e[:] = 0.0
        for j in range(n_k):
            c = band[j]
            if c >= 0:
                e[c] += mag[j] * w[j]
            if c + 1 < n_mels:
                e[c + 1] += mag[j] - mag[j] * w[j]
        for c in range(n_mels):
            e[c] = np.log(max(e[c], LOG_FLOOR))
        acc[:] = 0.0
        for c in range(n_mels):  # row by row of D: the inner loop is a vector FMA, no reductions
            for i in range(n_mfcc):
                acc[i] += e[c] * D[c, i]
        for i in range(n_mfcc):
            out[t, i] = acc[i]


def _mfcc_block(x, first, n_frames, win, step, n_fft, bands, D, out):
    """MFCC of frames first .. first + n_frames - 1 into ``out`` (one cache-sized block:
    float64 copy of its samples, FFT, Numba pass, all while the block is still in cache)."""
    import scipy.fft

    k, band, w = bands
    seg = x[first * step:(first + n_frames - 1) * step + win].astype(np.float64)
    frames = frame_signal(seg, win, step)
    hann_in_freq = win == n_fft
    if not hann_in_freq:
        frames = frames * hann_window(win)
    X = scipy.fft.rfft(frames, n=n_fft, axis=1)
    _mfcc_frames(X, hann_in_freq, k, band, w, D, out[first:first + n_frames])


def mfcc(signal, sample_rate: int = 16000, *, win_ms: float = 32, step_ms: float = 20,
         n_mfcc: int = 26, n_mels: int = 40, fmin: float = 20.0, fmax: float = 8000.0):
    """MFCC (frames, n_mfcc) float32, the model file's AudioSpectrogram + Mfcc (see module doc).

    frames = 1 + (N - L) // S; the signal must hold at least one window (L samples).
    step_ms=10 gives the 10 ms frame rate the paper's text speaks of; 20 is the model's.
    On the CPU: blocks of frames (float64 FFT of the unwindowed frames, then one Numba pass per frame
    through the DCT, ``_mfcc_frames``) spread over 2 threads, no BLAS call; equal to ``mfcc_reference`` to float32
    rounding. For a CuPy signal ``ser_ref.dispatch.mfcc`` takes the fused CUDA kernels of
    ``ser_ref.gpu.tf_mfcc`` (checked against ``mfcc_reference``).

    Examples
    --------
    >>> x = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    >>> mfcc(x).shape                    # 1 + (16000 - 512) // 320 frames
    (49, 26)
    >>> mfcc(x, step_ms=10).shape
    (97, 26)
    """
    x, win, step, n_fft = _prepare(signal, sample_rate, win_ms, step_ms, n_mfcc, n_mels, fmin, fmax)
    bands = mel_bands(n_fft // 2 + 1, int(sample_rate), n_mels, float(fmin), float(fmax))
    n_frames = 1 + (x.shape[0] - win) // step
    D = dct_matrix(n_mels, n_mfcc)
    out = np.empty((n_frames, n_mfcc), dtype=np.float32)
    starts = range(0, n_frames, _BLOCK)

    def run(share):
        for i in share:
            _mfcc_block(x, i, min(_BLOCK, n_frames - i), win, step, n_fft, bands, D, out)

    k = min(_WORKERS, len(starts))
    # scipy's FFT and the Numba pass release the GIL; the pool's threads live as long as the process
    run_shares(run, [(starts[j::k],) for j in range(k)])
    return out

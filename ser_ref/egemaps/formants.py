"""Formants F1..F3 (centre frequency and bandwidth) from the roots of an LPC polynomial.

openSMILE's chain for eGeMAPS: 20 ms Hamming frames every 10 ms, resampled to 11 kHz in the
spectral domain (cSpecResample), LPC of order p = 11 by the autocorrelation method
(Levinson-Durbin on r[0..p]), then cFormantLpc:

    A(z) = 1 + sum_{k=1..p} a_k z^{-k},   poles z_i = roots of z^p + a_1 z^{p-1} + ... + a_p
    z_i -> 1 / conj(z_i) if |z_i| > 1       (reflect into the unit circle)
    F_i = |arg z_i| fs / (2 pi),   B_i = -ln|z_i| fs / pi      (Im z_i >= 0 only)

keeping 50 <= F_i <= 5450 Hz, sorted by frequency; missing formants are 0.
openSMILE, however, solves z^p - a_1 z^{p-1} - ... - a_p (sign flipped, see ``formants``); the
eGeMAPS F1..F3 are roots of that polynomial, and ``voice_llds`` follows openSMILE.
Roots come from the eigenvalues of the companion matrices of all frames at once, then a few
Newton steps on the polynomial polish them (Numba, with a plain-Python reference).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..frontend.framing import frame_signal
from .frames import hamming

LPC_SR = 11000
LPC_ORDER = 11
FRAME = 320
HOP = 160
MIN_FORMANT, MAX_FORMANT = 50.0, 5450.0
N_FORMANTS = 3
N_FFT20 = 512
RESAMPLED = FRAME * LPC_SR // 16000            # 220 samples
RESAMPLE_DENOM = N_FFT20 * LPC_SR // 16000     # 352
FFT_BINS_KEPT = RESAMPLED // 2                 # 110


def lpc_frames(x: np.ndarray, n_out: int, frames=None) -> np.ndarray:
    """Hamming-windowed 20 ms frames resampled 16 -> 11 kHz as openSMILE's cSpecResample: (n_out, 220).

    cSpecResample evaluates the inverse DFT of the 512-point spectrum on the 11 kHz grid:
    320 * 11000/16000 = 220 output samples over a period of 512 * 11000/16000 = 352. Its inverse
    DFT keeps min(512, 220) = 220 spectrum *values* (real and imaginary parts), i.e. only bins
    k < 110 (f < 3.44 kHz), each with weight 1 (DC included), divided by 512/2:

    y_t[i] = (1/256) sum_{k=0}^{109} Re( X_t[k] e^{2 pi j k i / 352} ),
    X_t = FFT_512([0]*96 ++ w * frame_t ++ [0]*96)

    so y_t spans the first 20 ms of the padded buffer: 6 ms of zeros, then the first 14 ms of
    the windowed frame, low-passed at 3.4 kHz. ``frames`` optionally picks frame indices.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
    >>> lpc_frames(x, 46).shape        # 20 ms Hamming frames at 11 kHz, one per 10 ms frame
    (46, 220)
    """
    padded = np.zeros(max(len(x), (n_out - 1) * HOP + FRAME))
    padded[: len(x)] = x
    all_frames = frame_signal(padded, FRAME, HOP)
    chosen = all_frames[:n_out] if frames is None else all_frames[np.asarray(frames, dtype=np.int64)]
    # cTransformFFT pads symmetrically: 96 zeros, the 320 windowed samples, 96 zeros
    pad = (N_FFT20 - FRAME) // 2
    buf = np.zeros((chosen.shape[0], N_FFT20))
    buf[:, pad:pad + FRAME] = chosen * hamming(FRAME)
    spec = np.fft.rfft(buf, axis=1)
    spec[:, FFT_BINS_KEPT:] = 0.0
    # sum_{k<110} X_k e^{2 pi j k i / 352} is a 352-point inverse DFT of the truncated spectrum
    y = np.fft.ifft(spec[:, :RESAMPLE_DENOM], n=RESAMPLE_DENOM, axis=1).real
    return y[:, :RESAMPLED] * (RESAMPLE_DENOM / (N_FFT20 / 2))


def autocorr(frames: np.ndarray, p: int = LPC_ORDER) -> np.ndarray:
    """r[t, k] = sum_n x_t[n] x_t[n + k], k = 0..p.

    Examples
    --------
    >>> autocorr(np.array([[1.0, 2.0, 3.0]]), p=2)        # r[0] = 1 + 4 + 9, r[1] = 2 + 6, r[2] = 3
    array([[14.,  8.,  3.]])
    """
    n = frames.shape[1]
    return np.stack([np.sum(frames[:, : n - k] * frames[:, k:], axis=1) for k in range(p + 1)], axis=1)


def levinson(r: np.ndarray) -> np.ndarray:
    """Levinson-Durbin for all frames: a (T, p) with sum_{k=0..p} a_k r[|i-k|] = 0, a_0 = 1.

    Frames with r[0] = 0 (digital silence) get a = 0.

    Examples
    --------
    >>> r = np.array([[1.0, 0.5, 0.25]])      # the ACF of an AR(1) process with pole 0.5
    >>> np.round(levinson(r), 12)
    array([[-0.5,  0. ]])
    """
    t, p1 = r.shape
    p = p1 - 1
    a = np.zeros((t, p + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    ok = err > 0
    for i in range(1, p + 1):
        acc = r[:, i] + np.sum(a[:, 1:i] * r[:, i - 1:0:-1], axis=1)
        k = np.where(ok, -acc / np.where(ok, err, 1.0), 0.0)
        prev = a.copy()
        a[:, 1:i] = prev[:, 1:i] + k[:, None] * prev[:, i - 1:0:-1]
        a[:, i] = k
        err = err * (1.0 - k * k)
        ok &= err > 0
    return a[:, 1:]


def _polish_roots(coef, roots, n_iter):
    """Newton steps z <- z - P(z)/P'(z) on P(z) = sum_k coef[k] z^(p-k), every root of every frame.

    Plain Python (``polish_roots(fast=False)``); ``polish_roots_numba`` is the same source compiled, so
    comparing the two checks the compilation (Numba typing), not the math; the math is checked against
    openSMILE's LLDs.
    """
    n_t, p = roots.shape
    for t in range(n_t):
        for i in range(p):
            z = roots[t, i]
            for _ in range(n_iter):
                pz = coef[t, 0] + 0j
                dz = 0j
                for k in range(1, p + 1):
                    dz = dz * z + pz
                    pz = pz * z + coef[t, k]
                if dz == 0:
                    break
                step = pz / dz
                z = z - step
                if abs(step) <= 1e-14 * max(abs(z), 1e-300):
                    break
            roots[t, i] = z


polish_roots_python = _polish_roots
polish_roots_numba = njit(cache=True)(_polish_roots)


def lpc_roots(a: np.ndarray, n_iter: int = 3, fast: bool = True) -> np.ndarray:
    """Roots of z^p + a_1 z^{p-1} + ... + a_p per frame: companion eigenvalues, Newton-polished.

    Examples
    --------
    >>> np.sort_complex(lpc_roots(np.array([[-3.0, 2.0]]))[0])   # z^2 - 3 z + 2 = (z - 1)(z - 2)
    array([1.+0.j, 2.+0.j])
    """
    t, p = a.shape
    comp = np.zeros((t, p, p))
    comp[:, 0, :] = -a
    comp[:, np.arange(1, p), np.arange(p - 1)] = 1.0
    roots = np.linalg.eigvals(comp).astype(np.complex128)
    coef = np.concatenate([np.ones((t, 1)), a], axis=1).astype(np.complex128)
    (polish_roots_numba if fast else polish_roots_python)(coef, roots, n_iter)
    return roots


def roots_to_formants(roots: np.ndarray, fs: float = LPC_SR, n_formants: int = N_FORMANTS):
    """(F (T, n), B (T, n)) from poles: see the module docstring for the equations.

    Examples
    --------
    >>> z = 0.95 * np.exp(1j * 2 * np.pi * 1000 / 11000)    # one pole pair at 1 kHz
    >>> F, B = roots_to_formants(np.array([[z, np.conj(z)]]))
    >>> round(float(F[0, 0]), 6), round(float(B[0, 0]), 1), float(F[0, 1])
    (1000.0, 179.6, 0.0)
    """
    r = np.where(np.abs(roots) > 1.0, 1.0 / np.conj(np.where(roots == 0, 1, roots)), roots)
    f = np.abs(np.angle(r)) * fs / (2.0 * np.pi)
    with np.errstate(divide="ignore"):
        b = -np.log(np.abs(r)) * fs / np.pi
    valid = (r.imag >= 0) & (f >= MIN_FORMANT) & (f <= MAX_FORMANT) & (np.abs(r) > 0)
    key = np.where(valid, f, np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :n_formants]
    rows = np.arange(r.shape[0])[:, None]
    keep = np.isfinite(key[rows, order])
    return np.where(keep, f[rows, order], 0.0), np.where(keep, b[rows, order], 0.0)


def formants(x: np.ndarray, n_out: int, opensmile_sign: bool = True, fast: bool = True, frames=None):
    """(F1..F3 Hz, B1..B3 Hz), each (n_out, 3), for the 10 ms frames of signal x (16 kHz).

    frames: optional indices (< n_out) to analyse only those frames (rows in that order).
    opensmile_sign=True reproduces cFormantLpc, which hands the solver the polynomial
    z^p - a_1 z^{p-1} - ... - a_p (its LPC coefficients with the opposite sign convention),
    so its "formants" are roots of that polynomial, not the poles of 1/A(z). False gives the
    textbook poles of 1/A(z) (used to check the LPC and root code on a known resonator).

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
    >>> F, B = formants(x, 46)
    >>> F.shape, B.shape
    ((46, 3), (46, 3))
    """
    n_rows = n_out if frames is None else len(frames)
    if n_rows == 0:
        return np.zeros((0, N_FORMANTS)), np.zeros((0, N_FORMANTS))
    fr = lpc_frames(np.asarray(x, dtype=np.float64), n_out, frames)
    a = levinson(autocorr(fr))
    return roots_to_formants(lpc_roots(-a if opensmile_sign else a, fast=fast))

"""Harmonic amplitudes of the eGeMAPS set: H1-H2, H1-A3 and F1..F3 amplitudes relative to F0.

openSMILE's cHarmonics on the Gaussian 60 ms magnitude spectrum |X_k| (bins f_k = k * 15.625 Hz).
For harmonic h = 1..100 the expected bin is the bin nearest h F0; the magnitude peak nearest to
it inside ((h - 1/2) F0, (h + 1/2) F0) is the harmonic, refined by a parabola through 3 bins
(giving its frequency and magnitude M_h). With H_1 = |X| at the first harmonic's peak bin:

    L_h      = 20 log10(M_h / H_1)     (dB relative to F0; L_1 = 0; -200 floor, -201 missing)
    H1-H2    = L_1 - L_2 = -L_2
    H1-A3    = L_1 - L_{A3},  A_i = the strongest harmonic within [0.8, 1.2] F_i of formant i
    F_i amplitude = L_{A_i}   (0 when no harmonic lies in the formant's range)

Unvoiced frames: H1-H2 = H1-A3 = 0 and the formant amplitudes are -201 (openSMILE's floor).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .pitch import N_FFT, SR, is_local_peak, quad_peak

N_HARM = 100
UNVOICED_FLOOR = -201.0


@njit(cache=True)
def _freq_to_bin(freq, start, df, n):
    """Bin nearest to freq searching upwards from start; 0 when freq lies past the last bin."""
    for b in range(start, n):
        if b * df > freq:
            if b * df - freq > freq - (b - 1) * df:
                return b - 1
            return b
    return 0


@njit(cache=True)
def _harmonic_frame(mag, f0, df, freq, amp, amp_i, rel):
    """Fill per-harmonic frequency, magnitude, interpolated magnitude and level L_h (dB)."""
    n = mag.shape[0]
    bins = np.zeros(N_HARM, dtype=np.int64)
    last = _freq_to_bin(0.5 * f0, 1, df, n)
    first = _freq_to_bin(0.5 * f0, last, df, n)
    for i in range(N_HARM):
        cand = _freq_to_bin((i + 1) * f0, last, df, n)
        if cand == 0:
            # (i+1) F0 is past the last bin, and so is every higher harmonic: all missing
            for j in range(i, N_HARM):
                bins[j] = 0
                amp[j] = 0.0
                amp_i[j] = 0.0
                freq[j] = 0.0
            break
        peak = -1
        if is_local_peak(mag, n, cand):
            peak = cand
        else:
            left = cand - 1
            right = cand + 1
            lower = _freq_to_bin((i + 0.5) * f0, last, df, n)
            upper = _freq_to_bin((i + 1.5) * f0, cand, df, n)
            while (left >= lower or right <= upper) and peak == -1:
                if right <= upper:
                    if is_local_peak(mag, n, right):
                        peak = right
                        break
                    right += 1
                if left >= lower:
                    if is_local_peak(mag, n, left):
                        peak = left
                        break
                    left -= 1
        if peak >= first and peak < n - 1:
            bins[i] = peak
            amp[i] = mag[peak]
            xv, yv = quad_peak((peak - 1) * df, mag[peak - 1], peak * df, mag[peak],
                               (peak + 1) * df, mag[peak + 1])
            freq[i] = xv
            amp_i[i] = yv
        else:
            bins[i] = cand
            amp[i] = 0.0
            amp_i[i] = 0.0
            freq[i] = 0.0
        last = cand
    have_h1 = amp[0] != 0.0
    ref = math.log10(amp[0]) if have_h1 else 0.0
    rel[0] = 0.0
    for i in range(1, N_HARM):
        if not have_h1:
            rel[i] = -201.0
        elif amp_i[i] > 0.0:
            rel[i] = max(20.0 * (math.log10(amp_i[i]) - ref), -200.0)
        else:
            rel[i] = -200.0
        if bins[i] == bins[i - 1]:  # the same peak twice: drop the duplicate
            bins[i] = 0
            freq[i] = 0.0
            amp[i] = 0.0
            amp_i[i] = 0.0
            rel[i] = -201.0


@njit(cache=True)
def _formant_harmonic(freq, amp, fc):
    """Index of the strongest harmonic whose frequency lies in [0.8 fc, 1.2 fc], or -1."""
    lo = np.float32(0.8) * np.float32(fc)
    hi = np.float32(1.2) * np.float32(fc)
    best = -1
    best_mag = 0.0
    for h in range(freq.shape[0]):
        if freq[h] >= lo and freq[h] <= hi and amp[h] > best_mag:
            best = h
            best_mag = amp[h]
    return best


@njit(cache=True)
def _harmonics(mag, f0, formants, df, out):
    freq = np.zeros(N_HARM)
    amp = np.zeros(N_HARM)
    amp_i = np.zeros(N_HARM)
    rel = np.zeros(N_HARM)
    n_f = formants.shape[1]
    for t in range(mag.shape[0]):
        if f0[t] <= 0.0:
            out[t, 0] = 0.0
            out[t, 1] = 0.0
            for k in range(n_f):
                out[t, 2 + k] = UNVOICED_FLOOR
            continue
        _harmonic_frame(mag[t], f0[t], df, freq, amp, amp_i, rel)
        # openSMILE parses "H1-H2" literally as harmonic indices 1 and 2 (0 = the F0 peak)
        out[t, 0] = min(max(rel[1] - rel[2], -201.0), 201.0)
        a3 = _formant_harmonic(freq, amp, formants[t, 2]) if n_f >= 3 else -1
        out[t, 1] = min(max(rel[1] - (rel[a3] if a3 >= 0 else 201.0), -201.0), 201.0)
        for k in range(n_f):
            a = _formant_harmonic(freq, amp, formants[t, k])
            out[t, 2 + k] = rel[a] if a >= 0 else 0.0


def harmonic_features(mag: np.ndarray, f0_hz: np.ndarray, formant_hz: np.ndarray) -> np.ndarray:
    """Columns [H1-H2, H1-A3, F1 amp, F2 amp, F3 amp] in dB per frame (see module doc).

    mag: (T, 513) Gaussian 60 ms magnitude spectra; f0_hz: (T,); formant_hz: (T, 3).

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> from ser_ref.egemaps.pitch import f0_track
    >>> f0, mag = f0_track(harmonic_tone())         # 0.5 s, F0 200 Hz
    >>> harmonic_features(mag, f0, np.zeros((len(f0), 3))).shape
    (46, 5)
    """
    t = mag.shape[0]
    out = np.zeros((t, 5))
    _harmonics(np.ascontiguousarray(mag, dtype=np.float64),
               np.ascontiguousarray(f0_hz, dtype=np.float64),
               np.ascontiguousarray(formant_hz[:, :3], dtype=np.float64), SR / N_FFT, out)
    return out

"""Voice quality of the eGeMAPS set: jitter (local), shimmer (local, dB), HNR from the ACF.

Jitter and shimmer follow openSMILE's cPitchJitter (searchRangeRel 0.1, minNumPeriods 2,
minCC 0.5): inside each voiced frame, periods are marked one after the other on the waveform.
For a period starting at s with expected length T0 = fs / F0, every candidate length
L in [floor(0.9 T0), ceil(1.1 T0)] is scored by the normalised cross-correlation of
x[s : s+L] with x[s+L : s+2L]; the best local maximum (parabolically refined) is the period
length P_i, accepted when its correlation exceeds 0.5. Then

    jitter_local  = mean_i |P_i - P_{i-1}| / mean_i P_i
    shimmer_local = mean_i |A_i - A_{i+1}| / mean_i (A_i + A_{i+1}) / 2
    shimmer (dB)  = 20 log10(1 + shimmer_local)

A_i = peak-to-peak amplitude of period i. The previous period (P_{i-1}) carries over from
frame to frame inside a voiced stretch; frames with no accepted period repeat the last value.

HNR (cHarmonics, computeAcfHnrLogdB): r = autocorrelation of the Gaussian-windowed 60 ms frame
(inverse FFT of |X_k|^2), tau = nearest ACF peak to floor(fs / F0),

    HNR = 10 log10( r[tau] / (r[0] - r[tau]) )   (clamped to -90 .. 110 dB; 0 if unvoiced)
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .pitch import HOP, N_FFT, PITCH_FRAME, SR, is_local_peak, quad_peak

SEARCH_RANGE_REL = 0.1
MIN_NUM_PERIODS = 2
MIN_CC = 0.5


def _cross_corr(x, a, b, n):
    """Pearson correlation of x[a:a+n] and x[b:b+n] (cPitchJitter::crossCorr)."""
    mx = 0.0
    my = 0.0
    for i in range(n):
        mx += x[a + i]
        my += x[b + i]
    mx /= n
    my /= n
    cc = 0.0
    nx = 0.0
    ny = 0.0
    for i in range(n):
        dx = x[a + i] - mx
        dy = x[b + i] - my
        cc += dx * dy
        nx += dx * dx
        ny += dy * dy
    den = math.sqrt(nx) * math.sqrt(ny)
    return cc / den if den > 0.0 else 0.0


cross_corr = njit(cache=True)(_cross_corr)


def _peak_to_peak(x, a, n):
    """max - min over x[a+1 : a+n-1] (cPitchJitter::amplitudeDiff skips the end samples)."""
    hi = x[a + 1]
    lo = x[a + 1]
    for i in range(1, n - 1):
        v = x[a + i]
        if v > hi:
            hi = v
        if v < lo:
            lo = v
    return hi - lo


peak_to_peak = njit(cache=True)(_peak_to_peak)


@njit(cache=True)
def keep_state(state, last_idx, last_mis, last_t0, last_jitter, last_shimmer):
    """The period marker's state, for the next block (``_jitter_shimmer``)."""
    state[0] = last_idx
    state[1] = last_mis
    state[2] = last_t0
    state[3] = last_jitter
    state[4] = last_shimmer


def _jitter_shimmer(x, offset, n_x, f0, t_begin, t_end, jitter, shimmer_db, state):
    """Period marking frame by frame, exactly as cPitchJitter streams it (see module doc).

    x: samples offset .. offset + len(x) - 1 of a signal of n_x samples; f0: F0 in Hz per 10 ms
    frame (0 = unvoiced). Writes jitter and shimmer (dB) of frames t_begin .. t_end - 1, carrying
    cPitchJitter's state (last index, missing samples, last period, jitter, shimmer) in ``state``
    from one call to the next. Returns the first frame not done: t_end, or a voiced frame whose
    samples x does not hold (``state`` is then that frame's, so a call with those samples resumes).
    Plain Python (``jitter_shimmer(fast=False)``); ``jitter_shimmer_numba`` is the same source compiled,
    so comparing the two checks the compilation (Numba typing), not the math; the math is checked
    against openSMILE's LLDs.
    """
    fs = float(SR)
    last_idx = int(state[0])
    last_mis = int(state[1])
    last_t0 = state[2]
    last_jitter = state[3]
    last_shimmer = state[4]
    cc = np.zeros(4096)
    for t in range(t_begin, t_end):
        f = f0[t]
        start_v = t * HOP
        to_read0 = HOP + last_mis
        to_read = to_read0
        t0f = 0
        t0min = 0
        t0max = 0
        if f > 0.0:
            tf = fs / f
            t0f = int(round(tf))
            t0min = int(math.floor((1.0 - SEARCH_RANGE_REL) * tf))
            t0max = int(math.ceil((1.0 + SEARCH_RANGE_REL) * tf))
            two_pp = MIN_NUM_PERIODS * t0max + MIN_NUM_PERIODS
            if to_read < two_pp:
                to_read = two_pp
        max_read = last_mis + PITCH_FRAME
        if to_read > max_read:
            to_read = max_read
        reset = start_v - last_mis != last_idx
        if reset and to_read > PITCH_FRAME:
            to_read = PITCH_FRAME
        a0 = start_v if reset else last_idx
        n_t = min(to_read, n_x - a0)
        if n_t < 0:
            n_t = 0
        if f > 0.0 and (a0 < offset or a0 + n_t > offset + x.shape[0]):
            keep_state(state, last_idx, last_mis, last_t0, last_jitter, last_shimmer)
            return t
        last_idx = a0
        a0 -= offset  # reads below index x from here on
        n_periods = 0
        n_local = 0
        sum_period = 0.0
        sum_jit = 0.0
        sum_amp = 0.0
        sum_amp_diff = 0.0
        start = 0
        last_period = 0
        if f > 0.0:
            while start < n_t - 2 * t0max - 1:
                for L in range(t0min, t0max + 1):
                    cc[L - t0min] = cross_corr(x, a0 + start, a0 + start + L, L)
                best_i = -1
                best = cc[t0f - t0min]
                for i in range(1, t0max - t0min - 1):
                    if cc[i - 1] < cc[i] and cc[i] > cc[i + 1]:
                        if best_i == -1 or cc[i] > best:
                            best_i = i
                            best = cc[i]
                if best_i >= 0:
                    pp = t0min + best_i
                    os = start
                    start += pp
                    amp0 = peak_to_peak(x, a0 + os, pp)
                    amp1 = peak_to_peak(x, a0 + start, pp)
                    xv, cci = quad_peak(best_i - 1.0, cc[best_i - 1], float(best_i), cc[best_i],
                                        best_i + 1.0, cc[best_i + 1])
                    period = abs(t0min + xv) / fs
                    if cci > MIN_CC:
                        sum_period += period
                        n_periods += 1
                        if last_t0 > 0.0:
                            sum_jit += abs(last_t0 - period)
                            n_local += 1
                        last_t0 = period
                        sum_amp += 0.5 * (amp0 + amp1)
                        sum_amp_diff += abs(amp0 - amp1)
                else:
                    start += t0f
                if start < to_read0 - 1:
                    last_period = start
            last_mis = to_read0 - last_period
        else:
            last_period = to_read0
            last_mis = 0
            last_t0 = 0.0
            last_jitter = 0.0
            last_shimmer = 0.0
        last_idx += last_period
        # outputs (cPitchJitter: repeat the last value when a voiced frame yields no period)
        if f > 0.0 and n_periods > 0 and n_local > 0:
            last_jitter = (sum_jit / n_local) / (sum_period / n_periods)
        if f > 0.0 and (n_local > 0 or n_periods == 0):
            last_jitter = min(last_jitter, 1.0)
            jitter[t] = last_jitter
        else:
            jitter[t] = 0.0
        if f > 0.0 and n_periods > 0:
            last_shimmer = sum_amp_diff / sum_amp if sum_amp > 0.0 else 0.0
        if f > 0.0:
            last_shimmer = min(last_shimmer, 1.0)
            shimmer_db[t] = 20.0 * math.log10(last_shimmer + 1.0)
        else:
            shimmer_db[t] = 0.0
    keep_state(state, last_idx, last_mis, last_t0, last_jitter, last_shimmer)
    return t_end


jitter_shimmer_python = _jitter_shimmer
jitter_shimmer_numba = njit(cache=True)(_jitter_shimmer)


def jitter_shimmer(x: np.ndarray, f0_hz: np.ndarray, fast: bool = True, block: int | None = None):
    """(jitter_local, shimmer_local_dB) per 10 ms frame; 0 on unvoiced frames.

    ``block``: frames per call of the period marker, each given only the samples it reads (as
    float64), so a long signal costs memory for a block, not for the signal; None: one call on all
    of it. The marker's state goes from block to block, so the bits are the same either way.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
    >>> jit, shim = jitter_shimmer(x, np.full(46, 200.0))   # a perfectly periodic voice
    >>> jit.shape, float(jit[10:30].max()) < 0.01, float(shim[10:30].max()) < 0.1
    ((46,), True, True)
    >>> blocked = jitter_shimmer(x, np.full(46, 200.0), block=7)
    >>> bool(np.array_equal(blocked[0], jit) and np.array_equal(blocked[1], shim))
    True
    """
    f0 = np.ascontiguousarray(f0_hz, dtype=np.float64)
    n_t, n_x = f0.shape[0], x.shape[0]
    jit, shim, state = np.zeros(n_t), np.zeros(n_t), np.zeros(5)
    run = jitter_shimmer_numba if fast else jitter_shimmer_python
    t = 0
    while t < n_t:
        t_end = n_t if block is None else min(n_t, t + block)
        # a frame reads from its start (or the marker's last index, if earlier) to 60 ms past its start
        lo = 0 if block is None else max(0, min(int(state[0]), t * HOP))
        hi = n_x if block is None else min(n_x, (t_end - 1) * HOP + PITCH_FRAME)
        done = run(np.ascontiguousarray(x[lo:hi], dtype=np.float64), lo, n_x, f0, t, t_end, jit, shim, state)
        if done == t:  # cannot happen by the bounds above; all of x settles it anyway
            done = run(np.ascontiguousarray(x, dtype=np.float64), 0, n_x, f0, t, n_t, jit, shim, state)
        t = done
    return jit, shim


@njit(cache=True)
def _closest_peak(a, idx):
    """Index of the local maximum of a nearest to idx (cHarmonics::getClosestPeak)."""
    n = a.shape[0]
    if is_local_peak(a, n, idx):
        return idx
    o = 1
    while idx - o > 0 or idx + o < n - 1:
        if idx - o > 0 and is_local_peak(a, n, idx - o):
            return idx - o
        if idx + o < n - 1 and is_local_peak(a, n, idx + o):
            return idx + o
        o += 1
    if a[0] > a[idx] and a[n - 1] <= a[idx]:
        return 0
    if a[0] <= a[idx] and a[n - 1] > a[idx]:
        return n - 1
    if a[0] > a[idx] and a[n - 1] > a[idx]:
        return 0 if idx < n // 2 else n - 1
    return idx


@njit(cache=True)
def _hnr_from_acf(acf, f0, out):
    for t in range(acf.shape[0]):
        if f0[t] <= 0.0:
            out[t] = 0.0
            continue
        lag = int(math.floor(SR / f0[t]))
        if lag <= 0:
            out[t] = 0.0
            continue
        tau = _closest_peak(acf[t], lag)
        if tau <= 0:
            out[t] = 0.0
            continue
        noise = acf[t, 0] - acf[t, tau]
        ratio = 1e11 if noise == 0.0 else acf[t, tau] / noise
        ratio = min(max(ratio, 1e-9), 1e11)
        out[t] = 10.0 * math.log10(ratio)


def hnr_acf_db(mag: np.ndarray, f0_hz: np.ndarray) -> np.ndarray:
    """HNR = 10 log10(r[tau] / (r[0] - r[tau])) per frame, r = |IFFT(|X|^2)| (see module doc).

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> from ser_ref.egemaps.pitch import f0_track
    >>> f0, mag = f0_track(harmonic_tone())         # 0.5 s, F0 200 Hz
    >>> hnr = hnr_acf_db(mag, f0)
    >>> hnr.shape, bool(np.median(hnr[10:30]) > 10)          # harmonic: far more periodic than noisy
    ((46,), True)
    """
    acf = np.abs(np.fft.irfft(mag * mag, n=N_FFT, axis=1))[:, : mag.shape[1]]
    out = np.zeros(mag.shape[0])
    _hnr_from_acf(np.ascontiguousarray(acf), np.ascontiguousarray(f0_hz, dtype=np.float64), out)
    return out

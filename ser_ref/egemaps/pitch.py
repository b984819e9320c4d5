"""F0 of the eGeMAPS set: subharmonic summation (SHS) + openSMILE's Viterbi pitch smoother.

The chain is openSMILE's GeMAPS v01b / eGeMAPS v02 pitch front end, step by step:

1. 60 ms frames every 10 ms (frame t = x[160 t : 160 t + 960], zero past the end), Gaussian
   window w[n] = exp(-1/2 ((n - (N-1)/2) / (sigma (N-1)/2))^2), sigma = 0.4, FFT size 1024,
   magnitude |X_k|, bin spacing df = 15.625 Hz.
2. cSpecScale to an octave (log2) axis: peak enhancement (zero every bin further than 2 bins
   from the nearest pair of local maxima), smoothing a_k <- (a_{k-1} + 2 a_k + a_{k+1}) / 4,
   natural cubic spline from the points (log2(k df), a_k) onto 513 equidistant points
   log2(25 Hz) .. log2(8000 Hz), then the auditory weighting
   a_j <- a_j * (1/2 + atan(3 (j + 1 - s) / P) / pi), P points per octave, s = P log2(65/50) - 1.
3. cPitchShs: SS_j = (1/H) sum_{h=1..H} c^{h-1} a_{j + floor(P log2 h)}, H = 15, c = 0.85;
   the 6 highest local maxima of SS are the candidates; each is refined by a parabola through
   3 points, F = 2^x_peak, score = SS(x_peak), voicing = 1 - mean(SS) / score.
   Candidates outside 55 .. 1000 Hz are dropped; the highest-score candidate goes first.
4. cPitchSmootherViterbi over 6 candidate states + 1 unvoiced state (costs in ``viterbi_path``).
5. F0 = 0 where the RMS of the windowed 60 ms frame is below 0.001 (cValbasedSelector).
6. F0 in semitones: 12 log2(F0 / 27.5 Hz) (1.0 for 0 < F0 <= 29.136 Hz, 0 when unvoiced).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..frontend.framing import frame_signal

SR = 16000
HOP = 160
PITCH_FRAME = 960
N_FFT = 1024
N_BINS = N_FFT // 2 + 1
GAUSS_SIGMA = 0.4
MIN_F, MAX_F = 25.0, 8000.0          # cSpecScale minF, maxF (= Nyquist)
MIN_PITCH, MAX_PITCH = 55.0, 1000.0
N_HARMONICS = 15
COMPRESSION = 0.85
N_CANDIDATES = 6
VOICING_CUTOFF = 0.7
ENERGY_GATE = 0.001
# Viterbi weights from the config (wTvv=10, wTvvd=5, ...). openSMILE's setWeights() stores
# wTvvd = wTvv, so the delta weight actually used is 10, not 5.
W_LOCAL, W_TVV, W_TVVD, W_TVUV, W_THR, W_RANGE = 2.0, 10.0, 10.0, 10.0, 4.0, 1.0
VITERBI_BUFFER = 40


def n_frames(n_samples: int) -> int:
    """Number of 10 ms frames openSMILE's eGeMAPS LLD output has: floor(n / 160) - 4.

    Examples
    --------
    >>> n_frames(16000)                    # 1 s at 16 kHz
    96
    """
    return max(n_samples // HOP - 4, 0)


def gaussian_window(n: int, sigma: float = GAUSS_SIGMA) -> np.ndarray:
    """w[k] = exp(-1/2 ((k - (n-1)/2) / (sigma (n-1)/2))^2)  (openSMILE winFunc=gauss).

    Examples
    --------
    >>> w = gaussian_window(5)
    >>> float(w[2]), bool(np.allclose(w, w[::-1]))
    (1.0, True)
    """
    k = np.arange(n, dtype=np.float64)
    h = (n - 1) / 2.0
    return np.exp(-0.5 * ((k - h) / (sigma * h)) ** 2)


def pitch_frames(x: np.ndarray) -> np.ndarray:
    """60 ms frames starting every 10 ms, zero-padded past the end: shape (n_frames(len(x)), 960).

    Examples
    --------
    >>> pitch_frames(np.zeros(16000)).shape
    (96, 960)
    """
    return pitch_frames_at(x, 0, n_frames(len(x)))


def pitch_frames_at(x: np.ndarray, t0: int, t1: int) -> np.ndarray:
    """Frames t0 .. t1 - 1 of ``pitch_frames(x)`` (float64), cut from those samples only: a block of
    a long signal costs memory for the block, not for the signal.

    Examples
    --------
    >>> x = np.arange(3000.0)
    >>> bool(np.array_equal(pitch_frames_at(x, 5, 9), pitch_frames(x)[5:9]))
    True
    """
    padded = np.zeros(max(t1 - t0, 0) * HOP + PITCH_FRAME - HOP, dtype=np.float64)
    seg = x[t0 * HOP:t0 * HOP + padded.size]
    padded[:len(seg)] = seg
    return np.ascontiguousarray(frame_signal(padded, PITCH_FRAME, HOP)[:max(t1 - t0, 0)])


def gauss_spectrum(frames: np.ndarray):
    """Gaussian-windowed frames and their magnitude spectra |X_t[k]|, k = 0 .. 512.

    Examples
    --------
    >>> wf, mag = gauss_spectrum(pitch_frames(np.ones(2000)))
    >>> wf.shape, mag.shape
    ((8, 960), (8, 513))
    """
    wf = frames * gaussian_window(frames.shape[1])
    return wf, np.abs(np.fft.rfft(wf, n=N_FFT, axis=1))


# ---------------------------------------------------------------- octave-scale spectrum

def _natural_spline_matrix(x: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Matrix M with (M @ y) = natural cubic spline through (x, y) evaluated at xq.

    The spline is linear in y, so interpolating the identity columns gives the operator once.
    """
    from scipy.interpolate import CubicSpline

    return CubicSpline(x, np.eye(x.size), bc_type="natural", axis=0)(xq)


_OCTAVE_CACHE: dict = {}


def _spline_tables(x: np.ndarray, xq: np.ndarray):
    """Per-knot and per-query constants of the natural spline (openSMILE's spline caches).

    Knot i: sigma_i = (x_i - x_{i-1}) / (x_{i+1} - x_{i-1}), d1_i = (x_{i+1} - x_i)(x_{i+1} - x_{i-1}),
    d2_i = (x_i - x_{i-1})(x_{i+1} - x_{i-1}). Query q in [x_k, x_{k+1}], h = x_{k+1} - x_k:
    A = (x_{k+1} - q) / h, C = (A^3 - A) h^2 / 6, D = (B^3 - B) h^2 / 6, B = 1 - A.
    """
    sigma = np.zeros(x.size)
    d1 = np.ones(x.size)
    d2 = np.ones(x.size)
    sigma[1:-1] = (x[1:-1] - x[:-2]) / (x[2:] - x[:-2])
    d1[1:-1] = (x[2:] - x[1:-1]) * (x[2:] - x[:-2])
    d2[1:-1] = (x[1:-1] - x[:-2]) * (x[2:] - x[:-2])
    k = np.clip(np.searchsorted(x, xq, side="left") - 1, 0, x.size - 2)
    h = x[k + 1] - x[k]
    a = (x[k + 1] - xq) / h
    b = 1.0 - a
    coef = np.stack([a, (a ** 3 - a) * h * h / 6.0, (b ** 3 - b) * h * h / 6.0], axis=1)
    return sigma, d1, d2, k.astype(np.int64), coef


@njit(cache=True)
def _spline_apply(y, sigma, d1, d2, k, coef, out):
    """Natural cubic spline of every row of y at the query points (tridiagonal sweep, O(n))."""
    n_t, n = y.shape
    y2 = np.zeros(n)
    u = np.zeros(n)
    for t in range(n_t):
        row = y[t]
        y2[0] = 0.0
        u[0] = 0.0
        for i in range(1, n - 1):
            p = 1.0 / (sigma[i] * y2[i - 1] + 2.0)
            y2[i] = (sigma[i] - 1.0) * p
            ut = (row[i + 1] - row[i]) / d1[i] - (row[i] - row[i - 1]) / d2[i]
            u[i] = p * (6.0 * ut - sigma[i] * u[i - 1])
        y2[n - 1] = 0.0
        for j in range(n - 2, -1, -1):
            y2[j] = y2[j] * y2[j + 1] + u[j]
        for q in range(k.shape[0]):
            kk = k[q]
            out[t, q] = (coef[q, 0] * row[kk] + (1.0 - coef[q, 0]) * row[kk + 1]
                         + coef[q, 1] * y2[kk] + coef[q, 2] * y2[kk + 1])
    return out


def octave_axis():
    """(spline tables, points per octave, log2 f of point 0, log2 step, auditory weights, knots, queries).

    Examples
    --------
    >>> tables, ppo, log2_f0, step, weights, knots, queries = octave_axis()
    >>> queries.shape, round(2 ** log2_f0, 6)               # 513 points from 25 Hz
    ((513,), 25.0)
    """
    if "axis" not in _OCTAVE_CACHE:
        df = SR / N_FFT
        f_t = np.empty(N_BINS)
        f_t[1:] = np.log2(np.arange(1, N_BINS) * df)
        f_t[0] = 2.0 * f_t[1] - f_t[2]  # openSMILE's heuristic position of the DC bin
        fmin_t, fmax_t = math.log2(MIN_F), math.log2(MAX_F)
        step = (fmax_t - fmin_t) / (N_BINS - 1)
        xq = fmin_t + step * np.arange(N_BINS)
        ppo = N_BINS / math.log2(MAX_F / MIN_F)
        s = ppo * math.log2(65.0 / 50.0) - 1.0
        audw = 0.5 + np.arctan(3.0 * (np.arange(N_BINS) + 1 - s) / ppo) / np.pi
        _OCTAVE_CACHE["axis"] = (_spline_tables(f_t, xq), ppo, fmin_t, step, audw, f_t, xq)
    return _OCTAVE_CACHE["axis"]


@njit(cache=True)
def _enhance_and_smooth(mag):
    """In place, per frame: openSMILE's smileDsp_specEnhanceSHS then smileDsp_specSmoothSHS."""
    n_t, n = mag.shape
    pos = np.empty(n, dtype=np.int64)
    for t in range(n_t):
        a = mag[t]
        nmax = 0
        if a[0] > a[1]:
            pos[nmax] = 0
            nmax += 1
        for i in range(1, n - 1):
            if a[i] > a[i - 1] and a[i] >= a[i + 1]:
                pos[nmax] = i
                nmax += 1
        if a[n - 1] > a[n - 2]:
            pos[nmax] = n - 1
            nmax += 1
        if nmax == 1:
            # openSMILE reads posmax[1] (a calloc'ed 0) here: everything from bin 3 on is zeroed
            for j in range(3, n):
                a[j] = 0.0
        else:
            for i in range(1, nmax):
                for j in range(pos[i - 1] + 3, pos[i] - 2):
                    a[j] = 0.0
        aim1 = 0.0
        for i in range(n - 1):
            ai = a[i]
            a[i] = (aim1 + 2.0 * ai + a[i + 1]) / 4.0
            aim1 = ai
    return mag


def octave_spectrum(mag: np.ndarray, fast: bool = True) -> np.ndarray:
    """Peak-enhanced, smoothed, octave-scaled, auditory-weighted spectrum (cSpecScale).

    fast=False evaluates the spline as the dense operator built by scipy's CubicSpline
    (the reference for the O(n) sweep in ``_spline_apply``).

    Examples
    --------
    >>> _, mag = gauss_spectrum(pitch_frames(np.random.default_rng(0).normal(size=2000)))
    >>> octave_spectrum(mag).shape
    (8, 513)
    """
    tables, _, _, _, audw, f_t, xq = octave_axis()
    y = _enhance_and_smooth(np.array(mag, dtype=np.float64, copy=True))
    if fast:
        out = _spline_apply(y, *tables, np.empty((y.shape[0], xq.size)))
    else:
        out = y @ _natural_spline_matrix(f_t, xq).T
    return np.where(out > 0.0, out * audw, 0.0)


# ---------------------------------------------------------------- subharmonic summation

def shs_spectrum(a: np.ndarray, ppo: float) -> np.ndarray:
    """SS_j = max(0, (1/H) sum_{h=1..H} c^{h-1} a_{j + floor(P log2 h)})  for every frame row.

    Examples
    --------
    >>> a = np.zeros(513); a[100] = 1.0          # one peak: it counts as harmonic 1 of itself
    >>> ss = shs_spectrum(a, 48.0)
    >>> int(np.argmax(ss)), round(float(ss[100]), 4)   # 1 / H with H = 15 harmonics
    (100, 0.0667)
    """
    n = a.shape[-1]
    ss = a.copy()
    scale = COMPRESSION
    for h in range(2, N_HARMONICS + 1):
        shift = int(math.floor(ppo * math.log2(h)))
        ss[..., : n - shift] += a[..., shift:] * scale
        scale *= COMPRESSION
    return np.maximum(ss / N_HARMONICS, 0.0)


def _quad_peak(x0, y0, x1, y1, x2, y2):
    """Vertex (x, y) of the parabola through three points (smileMath_quadFrom3pts)."""
    den = (x0 - x1) * (x0 - x2) * (x1 - x2)
    if den == 0.0:
        return x1, y1
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den
    c = (x1 * x2 * (x1 - x2) * y0 + x2 * x0 * (x2 - x0) * y1 + x0 * x1 * (x0 - x1) * y2) / den
    if a == 0.0:
        return x1, y1
    xv = -b / (2.0 * a)
    return xv, c - b * b / (4.0 * a)


quad_peak = njit(cache=True)(_quad_peak)


@njit(cache=True)
def is_local_peak(x, n, k):
    """x[k] is a strict local maximum of x[:n] (an edge bin needs only its one neighbour lower)."""
    if k >= n or k < 0:
        return False
    if k + 1 < n:
        if k > 0:
            return x[k] > x[k - 1] and x[k] > x[k + 1]
        return x[0] > x[1]
    return k > 0 and x[k] > x[k - 1]


def _shs_candidates(ss, fmin_t, step, f0c, vc, sc):
    """Per frame: up to 6 SHS peaks -> (F0 Hz, voicing, score), cPitchShs + cPitchBase rules.

    Plain Python (``shs_candidates(fast=False)``); ``shs_candidates_numba`` is the same source compiled,
    so comparing the two checks the compilation (Numba typing), not the math; the math is checked
    against openSMILE's LLDs.
    """
    n_t, n = ss.shape
    idx = np.zeros(N_CANDIDATES, dtype=np.int64)
    pk = np.zeros(N_CANDIDATES)
    for t in range(n_t):
        s = ss[t]
        for j in range(N_CANDIDATES):
            idx[j] = 0
            pk[j] = 0.0
            f0c[t, j] = 0.0
            vc[t, j] = 0.0
            sc[t, j] = 0.0
        n_cand = 0
        mean = 0.0
        for i in range(n):
            mean += s[i]
        mean /= n
        # greedy peak list: keep the 6 largest local maxima, sorted by height
        for i in range(1, n - 1):
            if s[i - 1] < s[i] and s[i] > s[i + 1]:
                for j in range(N_CANDIDATES):
                    if pk[j] == 0.0 or pk[j] < s[i]:
                        for jj in range(N_CANDIDATES - 1, j, -1):
                            pk[jj] = pk[jj - 1]
                            idx[jj] = idx[jj - 1]
                        idx[j] = i
                        pk[j] = s[i]
                        if n_cand < N_CANDIDATES:
                            n_cand += 1
                        break
        # refine on the log2 axis, convert to Hz, voicing = 1 - mean/score
        k = 0
        for j in range(n_cand):
            i = idx[j]
            xv, yv = quad_peak((i - 1) * step + fmin_t, s[i - 1], i * step + fmin_t, s[i],
                               (i + 1) * step + fmin_t, s[i + 1])
            f = 2.0 ** xv
            if f < MIN_PITCH or f > MAX_PITCH:
                continue  # cPitchBase drops out-of-range candidates, keeping the order
            f0c[t, k] = f
            sc[t, k] = yv
            vc[t, k] = 1.0 - mean / yv if (yv > 0.0 and yv > mean) else 0.0
            k += 1
        # the highest score candidate goes to slot 0 (swap, as cPitchBase does)
        best = 0
        for j in range(1, N_CANDIDATES):
            if sc[t, j] > sc[t, best]:
                best = j
        if best > 0:
            f0c[t, 0], f0c[t, best] = f0c[t, best], f0c[t, 0]
            vc[t, 0], vc[t, best] = vc[t, best], vc[t, 0]
            sc[t, 0], sc[t, best] = sc[t, best], sc[t, 0]


shs_candidates_python = _shs_candidates
shs_candidates_numba = njit(cache=True)(_shs_candidates)


def shs_candidates(ss: np.ndarray, fmin_t: float, step: float, fast: bool = True):
    """(F0 candidates Hz, voicing, score), each shape (T, 6); empty slots are 0.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
    >>> _, ppo, fmin_t, step, *_ = octave_axis()
    >>> _, mag = gauss_spectrum(pitch_frames(x))
    >>> f0c, voicing, score = shs_candidates(shs_spectrum(octave_spectrum(mag), ppo), fmin_t, step)
    >>> f0c.shape, round(float(np.median(f0c[10:30, 0])))     # best candidate: F0 = 200 Hz
    ((46, 6), 200)
    """
    ss = np.ascontiguousarray(ss, dtype=np.float64)
    out = [np.zeros((ss.shape[0], N_CANDIDATES)) for _ in range(3)]
    (shs_candidates_numba if fast else shs_candidates_python)(ss, fmin_t, step, *out)
    return tuple(out)


# ---------------------------------------------------------------- Viterbi smoother

def _range_weight(f):
    # built-in piecewise-linear preference for 100..350 Hz (cSmileViterbiPitchSmooth::getFweight)
    if 0.0 < f < 100.0:
        return 1.0 - f / 100.0
    if 100.0 <= f < 350.0:
        return 0.0
    if 350.0 <= f < 600.0:
        return (f - 350.0) / 250.0
    if f >= 600.0:
        return 1.2
    return 2.0


range_weight = njit(cache=True)(_range_weight)


def _viterbi_path(f0c, vc, state):
    """Best state per frame (0..5 = candidate, 6 = unvoiced), openSMILE's incremental Viterbi.

    local(i)  = (-ln clip(v_i, .01, 1) + wThr [v_i < 0.7]) wLocal + wRange w(F_i),  i < 6
    local(6)  = wLocal wThr  if any v_j >= 0.7 else 0
    trans(j -> i) = wTvv |r| + wTvvd |r - r_last|, r = ln(F_i / F_j)   (voiced -> voiced)
                  = 999 if either candidate is empty; wTvuv for voiced <-> unvoiced; 1 for u -> u
    r_last is one variable updated on every voiced->voiced evaluation (openSMILE's lastChange,
    a known quirk kept for agreement). Decisions are emitted when all paths agree on a frame,
    forced from the best path when 40 frames are pending, and flushed at the end.
    Plain Python (``viterbi_path(fast=False)``); ``viterbi_path_numba`` is the same source compiled, so
    comparing the two checks the compilation (Numba typing), not the math; the math is checked against
    openSMILE's LLDs.
    """
    n_t, n_c = f0c.shape
    n_s = n_c + 1
    uv = n_s - 1
    paths = np.zeros((2, n_s, n_t), dtype=np.int8)  # states 0..6: 7 bytes per frame kept, not 56
    cost = np.zeros(n_s)
    new_cost = np.zeros(n_s)
    local = np.zeros(n_s)
    last_change = 1.0
    buf = 0
    conv = -1
    for t in range(n_t):
        any_voiced = False
        for j in range(n_c):
            if vc[t, j] >= VOICING_CUTOFF:
                any_voiced = True
        for i in range(n_c):
            pv = min(max(vc[t, i], 0.01), 1.0)
            thr = W_THR if pv < VOICING_CUTOFF else 0.0
            local[i] = (-math.log(pv) + thr) * W_LOCAL + range_weight(f0c[t, i]) * W_RANGE
        local[uv] = W_LOCAL * W_THR if any_voiced else 0.0
        if t == 0:
            for i in range(n_s):
                cost[i] = local[i]
                paths[buf, i, 0] = i
        else:
            nb = 1 - buf
            lo = max(conv + 1, 0)
            for i in range(n_s):
                best_j = 0
                best = 0.0
                for j in range(n_s):
                    if i < uv and j < uv:
                        fp = f0c[t - 1, j]
                        fc = f0c[t, i]
                        if fp == 0.0 or fc == 0.0:
                            tc = 999.0
                        else:
                            r = math.log(fc / fp)
                            tc = W_TVV * abs(r) + W_TVVD * abs(r - last_change)
                            last_change = r
                    elif i == uv and j == uv:
                        tc = 1.0
                    else:
                        last_change = 0.0
                        tc = W_TVUV
                    c = tc + cost[j]
                    if j == 0 or c < best:
                        best = c
                        best_j = j
                new_cost[i] = best + local[i]
                for k in range(lo, t):
                    paths[nb, i, k] = paths[buf, best_j, k]
                paths[nb, i, t] = i
            for i in range(n_s):
                cost[i] = new_cost[i]
            buf = nb
        if t + 1 - conv > VITERBI_BUFFER:
            best_s = 0
            for i in range(1, n_s):
                if cost[i] < cost[best_s]:
                    best_s = i
            conv += 1
            state[conv] = paths[buf, best_s, conv]
        else:
            for k in range(conv + 1, t + 1):
                x = paths[buf, 0, k]
                match = True
                for i in range(1, n_s):
                    if paths[buf, i, k] != x:
                        match = False
                        break
                if not match:
                    break
                conv += 1
                state[conv] = x
    if n_t > 0:
        best_s = 0
        for i in range(1, n_s):
            if cost[i] < cost[best_s]:
                best_s = i
        for k in range(conv + 1, n_t):
            state[k] = paths[buf, best_s, k]


viterbi_path_python = _viterbi_path
viterbi_path_numba = njit(cache=True)(_viterbi_path)


def viterbi_path(f0c: np.ndarray, vc: np.ndarray, fast: bool = True) -> np.ndarray:
    """Chosen state per frame (0..5 candidate index, 6 unvoiced); see ``_viterbi_path``.

    Examples
    --------
    >>> f0c = np.tile([200.0, 400.0, 0, 0, 0, 0], (5, 1)); vc = np.tile([0.9, 0.6, 0, 0, 0, 0], (5, 1))
    >>> viterbi_path(f0c, vc)           # the confident 200 Hz candidate every frame
    array([0, 0, 0, 0, 0])
    """
    state = np.zeros(f0c.shape[0], dtype=np.int64)
    fn = viterbi_path_numba if fast else viterbi_path_python
    fn(np.ascontiguousarray(f0c, dtype=np.float64), np.ascontiguousarray(vc, dtype=np.float64), state)
    return state


# ---------------------------------------------------------------- public

def semitones(f0_hz: np.ndarray) -> np.ndarray:
    """st = 12 log2(F0 / 27.5 Hz) for F0 > 29.136 Hz; 1.0 for 0 < F0 <= 29.136; 0 if unvoiced.

    Examples
    --------
    >>> semitones(np.array([55.0, 110.0, 0.0]))          # one and two octaves above 27.5 Hz
    array([12., 24.,  0.])
    """
    f = np.asarray(f0_hz, dtype=np.float64)
    safe = np.where(f > 29.136, f, 27.5)
    return np.where(f > 29.136, 12.0 * np.log2(safe / 27.5), np.where(f > 0.0, 1.0, 0.0))


def f0_track(x: np.ndarray, fast: bool = True):
    """F0 in Hz per 10 ms frame (0 = unvoiced) plus the Gaussian 60 ms magnitude spectra.

    Returns (f0_hz (T,), mag (T, 513)) so the harmonic descriptors reuse the same spectra.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> f0, mag = f0_track(harmonic_tone())         # 0.5 s, F0 200 Hz
    >>> f0.shape, mag.shape, round(float(np.median(f0[f0 > 0])))
    ((46,), (46, 513), 200)
    """
    f0c, vc, rms, mag = candidates(x, 0, n_frames(len(x)), fast=fast)
    return choose_f0(f0c, vc, rms, fast=fast), mag


def candidates(x: np.ndarray, t0: int, t1: int, fast: bool = True):
    """Steps 1-3 on frames t0 .. t1 - 1 of x: (F0 candidates, voicing, windowed RMS, magnitude spectra).

    Each frame's numbers depend on that frame only, so a long signal may go through in blocks of
    frames with the same bits as in one piece; a block's frames are freed as soon as its spectra are made.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> f0c, vc, rms, mag = candidates(harmonic_tone(), 0, 46)
    >>> f0c.shape, vc.shape, rms.shape, mag.shape
    ((46, 6), (46, 6), (46,), (46, 513))
    """
    wf, mag = gauss_spectrum(pitch_frames_at(x, t0, t1))
    rms = np.sqrt(np.mean(wf * wf, axis=1))
    del wf  # a block's largest array: gone before the octave spectra are made
    if mag.shape[0] == 0:
        return np.zeros((0, N_CANDIDATES)), np.zeros((0, N_CANDIDATES)), rms, mag
    _, ppo, fmin_t, step, *_ = octave_axis()
    ss = shs_spectrum(octave_spectrum(mag, fast=fast), ppo)
    f0c, vc, _ = shs_candidates(ss, fmin_t, step, fast=fast)
    return f0c, vc, rms, mag


def choose_f0(f0c: np.ndarray, vc: np.ndarray, rms: np.ndarray, fast: bool = True) -> np.ndarray:
    """Steps 4-5 over the whole utterance: the Viterbi path through the candidates, then the RMS gate.

    Examples
    --------
    >>> f0c = np.tile([200.0, 400.0, 0, 0, 0, 0], (3, 1)); vc = np.tile([0.9, 0.6, 0, 0, 0, 0], (3, 1))
    >>> choose_f0(f0c, vc, np.array([0.1, 0.1, 0.0]))          # the last frame is below the gate
    array([200., 200.,   0.])
    """
    if f0c.shape[0] == 0:
        return np.zeros(0)
    state = viterbi_path(f0c, vc, fast=fast)
    t = np.arange(f0c.shape[0])
    f0 = np.where(state < N_CANDIDATES, f0c[t, np.minimum(state, N_CANDIDATES - 1)], 0.0)
    return np.where(rms < ENERGY_GATE, 0.0, f0)

"""The functionals of eGeMAPS v02, as openSMILE's cFunctionals components define them.

All operate on one contour x[0..N-1] (float64). Where the set says "nonZeroFuncts", the
caller passes only the non-zero (voiced) values.

* amean            mu = (1/N) sum x
* stddevNorm       sigma / mu, sigma = sqrt((1/N) sum (x - mu)^2)   (coefficient of variation)
* percentile p     linear interpolation in the sorted values at position p (N - 1)
* pctlrange0-2     percentile80 - percentile20
* Peaks2           local extrema, pruned by a 10 % of range threshold; rising slope =
                   (max - preceding min) / (dt seconds), falling slope = (max - following min) / dt;
                   mean/std of both, and peaks per second (numba hot loop + plain reference).
* Segments         voiced (non-zero) / unvoiced (zero) runs: count per second, mean/std length (s).
"""
from __future__ import annotations

import numpy as np
from numba import njit

FRAME_PERIOD = 0.01  # seconds per LLD frame


def amean(x: np.ndarray) -> float:
    """mu = (1/N) sum_i x_i (0 for an empty contour).

    Examples
    --------
    >>> amean(np.array([1.0, 2.0, 6.0])), amean(np.array([]))
    (3.0, 0.0)
    """
    return float(np.mean(x)) if len(x) else 0.0


def stddev_norm(x: np.ndarray) -> float:
    """sigma / mu with sigma the population standard deviation; 0 if sigma = 0 or N = 0.

    Signed mu and no soft ratio limit (doRatioLimit = 0): measured against opensmile 2.6, whose
    v02 output exceeds the +-10 limit region unchanged; mu = 0 divides by 1 as openSMILE does.

    Examples
    --------
    >>> stddev_norm(np.array([1.0, 3.0]))           # sigma 1, mu 2
    0.5
    """
    if len(x) == 0:
        return 0.0
    mu = float(np.mean(x))
    var = float(np.mean((x - mu) ** 2))
    if var <= 0.0:
        return 0.0
    return float(np.sqrt(var) / (mu if mu != 0.0 else 1.0))


def percentiles(x: np.ndarray, ps=(0.2, 0.5, 0.8)) -> np.ndarray:
    """P(p) = s[floor(q)] + (q - floor(q)) (s[floor(q)+1] - s[floor(q)]), q = p (N - 1), s sorted.

    Examples
    --------
    >>> percentiles(np.arange(11.0))
    array([2., 5., 8.])
    """
    if len(x) == 0:
        return np.zeros(len(ps))
    s = np.sort(x)
    q = np.asarray(ps) * (len(s) - 1)
    lo = np.floor(q).astype(int)
    hi = np.minimum(lo + 1, len(s) - 1)
    return s[lo] + (q - lo) * (s[hi] - s[lo])


# ---------------------------------------------------------------- Peaks2 (slopes, peak count)

def _extrema_reference(x: np.ndarray):
    """Plain-Python Peaks2 pruning; returns the surviving extrema as [(is_max, pos, value)]."""
    n = len(x)
    thr = 0.1 * (float(np.max(x)) - float(np.min(x)))
    ext = []
    for i in range(2, n - 2):
        if x[i] > x[i - 1] and x[i] > x[i + 1]:
            ext.append([1, i, float(x[i]), True])
        elif x[i] < x[i - 1] and x[i] < x[i + 1]:
            ext.append([0, i, float(x[i]), True])
    # step 2a: a maximum must rise above its surroundings by the threshold
    last_val = last_min = last_max = float(x[0])
    min_flag = 0
    last_max_el = None
    for el in ext:
        kind, _, y, _ = el
        if kind == 1:
            if abs(y - last_val) < thr:
                if y - last_min < thr:
                    el[3] = False
                else:
                    if y > last_max * 1.05:
                        if last_max_el is not None:
                            last_max_el[3] = False
                        last_max, last_max_el = y, el
                    elif min_flag:
                        last_max, last_max_el = y, el
                    else:
                        el[3] = False
                    min_flag = 0
            else:
                min_flag = 0
                last_max, last_max_el = y, el
        else:
            if not abs(y - last_val) < thr:
                min_flag = 1
                last_min = y
        last_val = y
    ext = [e for e in ext if e[3]]
    # step 2b: a minimum must lie the threshold below the preceding maximum
    last_max = float(x[0])
    for el in ext:
        if el[0] == 0:
            if last_max - el[2] < thr:
                el[3] = False
        else:
            last_max = el[2]
    ext = [e for e in ext if e[3]]
    # step 3: of consecutive extrema of one kind keep the most extreme
    min_flag, init = 0, True
    last_min_el = last_max_el = None
    for el in ext:
        if el[0] == 0:
            if not min_flag or init:
                last_min_el, min_flag, init = el, 1, False
            elif el[2] >= last_min_el[2]:
                el[3] = False
            else:
                last_min_el[3] = False
                last_min_el = el
        else:
            if min_flag or init:
                last_max_el, min_flag, init = el, 0, False
            elif el[2] <= last_max_el[2]:
                el[3] = False
            else:
                last_max_el[3] = False
                last_max_el = el
    return [(e[0], e[1], e[2]) for e in ext if e[3]]


def _slope_stats(x: np.ndarray, ext, T: float):
    """(n_peaks, mean rising, std rising, mean falling, std falling) from surviving extrema."""
    n = len(x)
    rising, falling = [], []
    last_max = last_min = float(x[0])
    last_max_pos = last_min_pos = 0
    last_is_max = -1
    for kind, pos, y in ext:
        if kind == 0:
            last_min, last_min_pos = y, pos
            if last_min_pos - last_max_pos > 0:
                falling.append((last_max - last_min) / ((last_min_pos - last_max_pos) * T))
                last_is_max = 0
        else:
            last_max, last_max_pos = y, pos
            if last_max_pos - last_min_pos > 0:
                rising.append((last_max - last_min) / ((last_max_pos - last_min_pos) * T))
                last_is_max = 1
    n_rise_inner, n_fall_inner = len(rising), len(falling)
    # openSMILE closes the contour with one more slope to its last value (counted in the mean
    # and the divisor of the variance, but not in the variance sum)
    if last_is_max == 1 and n - 1 - last_max_pos > 0:
        falling.append((x[n - 1] - last_max) / ((n - 1 - last_max_pos) * T))
    elif last_is_max == 0 and n - 1 - last_min_pos > 0:
        rising.append((x[n - 1] - last_min) / ((n - 1 - last_min_pos) * T))
    elif last_is_max == -1:
        s = (x[n - 1] - x[0]) / n
        if s > 0:
            rising.append(s)
        elif s < 0:
            falling.append(s)
    out = [float(sum(1 for e in ext if e[0] == 1))]
    for vals, n_inner in ((rising, n_rise_inner), (falling, n_fall_inner)):
        if not vals:
            out += [0.0, 0.0]
            continue
        mu = sum(vals) / len(vals)
        ss = sum((v - mu) ** 2 for v in vals[:n_inner])
        var = ss / len(vals) if len(vals) > 1 else ss
        out += [mu, float(np.sqrt(var)) if var > 0 else 0.0]
    return out


def peaks2_reference(x: np.ndarray, T: float = FRAME_PERIOD) -> np.ndarray:
    """Plain-Python Peaks2: [peaks per second, meanRising, stddevRising, meanFalling, stddevFalling].

    Examples
    --------
    >>> x = np.sin(2 * np.pi * np.arange(100) / 20)           # 1 s of a 5 Hz oscillation
    >>> float(peaks2_reference(x)[0]), bool(np.allclose(peaks2_reference(x), peaks2(x)))
    (5.0, True)
    """
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return np.zeros(5)
    st = _slope_stats(x, _extrema_reference(x), T)
    st[0] = st[0] / (len(x) * T)
    return np.array(st)


@njit(cache=True)
def _peaks2_numba(x, T):
    n = x.shape[0]
    kind = np.empty(n, np.int8)
    pos = np.empty(n, np.int64)
    val = np.empty(n, np.float64)
    alive = np.ones(n, np.bool_)
    m = 0
    for i in range(2, n - 2):
        if x[i] > x[i - 1] and x[i] > x[i + 1]:
            kind[m] = 1; pos[m] = i; val[m] = x[i]; m += 1
        elif x[i] < x[i - 1] and x[i] < x[i + 1]:
            kind[m] = 0; pos[m] = i; val[m] = x[i]; m += 1
    thr = 0.1 * (np.max(x) - np.min(x))
    last_val = x[0]; last_min = x[0]; last_max = x[0]
    min_flag = 0; last_max_el = -1
    for j in range(m):
        y = val[j]
        if kind[j] == 1:
            if abs(y - last_val) < thr:
                if y - last_min < thr:
                    alive[j] = False
                else:
                    if y > last_max * 1.05:
                        if last_max_el >= 0:
                            alive[last_max_el] = False
                        last_max = y; last_max_el = j
                    elif min_flag:
                        last_max = y; last_max_el = j
                    else:
                        alive[j] = False
                    min_flag = 0
            else:
                min_flag = 0; last_max = y; last_max_el = j
        else:
            if not abs(y - last_val) < thr:
                min_flag = 1; last_min = y
        last_val = y
    last_max = x[0]
    for j in range(m):
        if not alive[j]:
            continue
        if kind[j] == 0:
            if last_max - val[j] < thr:
                alive[j] = False
        else:
            last_max = val[j]
    min_flag = 0; init = True; last_min_el = -1; last_max_el = -1
    for j in range(m):
        if not alive[j]:
            continue
        if kind[j] == 0:
            if min_flag == 0 or init:
                last_min_el = j; min_flag = 1; init = False
            elif val[j] >= val[last_min_el]:
                alive[j] = False
            else:
                alive[last_min_el] = False; last_min_el = j
        else:
            if min_flag == 1 or init:
                last_max_el = j; min_flag = 0; init = False
            elif val[j] <= val[last_max_el]:
                alive[j] = False
            else:
                alive[last_max_el] = False; last_max_el = j
    # slopes
    rise = np.empty(m + 1); fall = np.empty(m + 1)
    nr = 0; nf = 0; n_peaks = 0
    last_max = x[0]; last_min = x[0]; lmp = 0; lnp = 0; last_is_max = -1
    for j in range(m):
        if not alive[j]:
            continue
        if kind[j] == 0:
            last_min = val[j]; lnp = pos[j]
            if lnp - lmp > 0:
                fall[nf] = (last_max - last_min) / ((lnp - lmp) * T); nf += 1; last_is_max = 0
        else:
            n_peaks += 1
            last_max = val[j]; lmp = pos[j]
            if lmp - lnp > 0:
                rise[nr] = (last_max - last_min) / ((lmp - lnp) * T); nr += 1; last_is_max = 1
    nr_in = nr; nf_in = nf
    if last_is_max == 1:
        if n - 1 - lmp > 0:
            fall[nf] = (x[n - 1] - last_max) / ((n - 1 - lmp) * T); nf += 1
    elif last_is_max == 0:
        if n - 1 - lnp > 0:
            rise[nr] = (x[n - 1] - last_min) / ((n - 1 - lnp) * T); nr += 1
    else:
        s = (x[n - 1] - x[0]) / n
        if s > 0:
            rise[nr] = s; nr += 1
        elif s < 0:
            fall[nf] = s; nf += 1
    out = np.zeros(5)
    out[0] = n_peaks / (n * T)
    for k in range(2):
        arr = rise if k == 0 else fall
        cnt = nr if k == 0 else nf
        cnt_in = nr_in if k == 0 else nf_in
        if cnt == 0:
            continue
        mu = 0.0
        for j in range(cnt):
            mu += arr[j]
        mu /= cnt
        ss = 0.0
        for j in range(cnt_in):
            ss += (arr[j] - mu) ** 2
        if cnt > 1:
            ss /= cnt
        out[1 + 2 * k] = mu
        out[2 + 2 * k] = np.sqrt(ss) if ss > 0 else 0.0
    return out


def peaks2(x: np.ndarray, T: float = FRAME_PERIOD) -> np.ndarray:
    """[peaks per second, mean rising slope, std rising, mean falling slope, std falling] (numba).

    Examples
    --------
    >>> p = peaks2(np.sin(2 * np.pi * np.arange(100) / 20))   # 1 s of a 5 Hz oscillation
    >>> float(p[0])                                          # peaks per second
    5.0
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    if len(x) == 0:
        return np.zeros(5)
    return _peaks2_numba(x, float(T))


# ---------------------------------------------------------------- Segments (voiced / unvoiced runs)

@njit(cache=True)
def _segment_lengths(inside, seg_min, pause_min):
    """openSMILE's nonX/eqX state machine over a boolean 'in segment' mask; returns run lengths.

    A run opens after seg_min + 1 consecutive inside frames and closes after pause_min outside
    frames; its recorded length is (last inside index - first inside index), i.e. frames - 1.
    """
    n = inside.shape[0]
    lens = np.empty(n + 1, np.int64)
    k = 0
    state = 0; seg_start = 0; seg_end = 0; start_idx = 0
    for i in range(n):
        if inside[i]:
            if state == 1:
                seg_end = 0; seg_start += 1
                if seg_start >= seg_min:
                    seg_start = 0; state = 2
            elif state == 0:
                seg_start += 1; start_idx = i; state = 1
            elif state == 2:
                seg_end = 0
        else:
            if state == 2:
                seg_start = 0; seg_end += 1
                if seg_end >= pause_min:
                    state = 0
                    lens[k] = (i - seg_end) - start_idx; k += 1
                    seg_end = 0
            elif state == 1:
                seg_end += 1
                if seg_end >= pause_min:
                    state = 0; seg_end = 0; seg_start = 0
    if state == 2:
        seg_end += 1
        lens[k] = (n - seg_end) - start_idx; k += 1
    return lens[:k]


def segment_lengths_reference(inside: np.ndarray, seg_min: int = 3, pause_min: int = 2) -> np.ndarray:
    """Plain run-length statement of the same rule as ``_segment_lengths``.

    Bridge every gap of fewer than ``pause_min`` outside frames between inside frames; each
    bridged run holding at least max(seg_min, 2) inside frames (openSMILE confirms a run on its
    second frame at the earliest) is a segment whose length is
    (last inside index - first inside index).

    Examples
    --------
    >>> segment_lengths_reference(np.array([1, 1, 1, 0, 0, 1, 1, 1, 1]), seg_min=3, pause_min=2)
    array([2, 3])
    """
    idx = np.flatnonzero(np.asarray(inside, dtype=bool))
    lens = []
    if len(idx):
        # a new run starts where the gap to the previous inside frame is >= pause_min frames
        breaks = np.flatnonzero(np.diff(idx) - 1 >= pause_min) + 1
        for run in np.split(idx, breaks):
            if len(run) >= max(seg_min, 2):
                lens.append(run[-1] - run[0])
    return np.asarray(lens, dtype=np.int64)


def segment_stats(inside: np.ndarray, T: float = FRAME_PERIOD, seg_min: int = 1, pause_min: int = 1):
    """(segments per second, mean length s, std length s) of the runs where ``inside`` holds.

    Segments per second divides by the whole contour's duration N T.

    Examples
    --------
    >>> rate, mean_s, std_s = segment_stats(np.array([1, 1, 1, 0, 0, 1, 1, 1, 1], bool), seg_min=3, pause_min=2)
    >>> round(float(rate), 3), round(float(mean_s), 3), round(float(std_s), 3)    # 2 runs in 0.09 s; lengths 2 and 3 frames
    (22.222, 0.025, 0.005)
    """
    inside = np.ascontiguousarray(inside, dtype=np.bool_)
    n = len(inside)
    if n == 0:
        return 0.0, 0.0, 0.0
    lens = _segment_lengths(inside, seg_min, pause_min).astype(np.float64)
    if len(lens) == 0:
        return 0.0, 0.0, 0.0
    mu = lens.mean()
    sd = np.sqrt(np.mean((lens - mu) ** 2)) if len(lens) > 1 else 0.0
    return len(lens) / (n * T), mu * T, sd * T

"""openSMILE's triangular Mel filterbank (cMelspec, bwMethod=lr) as a weight matrix.

Centres are equidistant on mel(f) = 1127 ln(1 + f/700) between mel(lofreq) and mel(hifreq)
(M + 2 points, M bands). Bin k (frequency k*df) contributes to the two bands whose centres
surround mel(k*df): weight w = (c[m+1] - mel(k df)) / (c[m+1] - c[m]) to the band centred at
c[m] and 1 - w to the band centred at c[m+1]. Only bins with round(lofreq/df) < k <
round(hifreq/df) are used. band_m = sum_k W[k, m] P_k, P_k = |X_k|^2.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


def opensmile_hz_to_mel(f):
    """mel = 1127 ln(1 + f / 700), computed as openSMILE does, log(1 + f / 700) (TensorFlow's
    ``ser_ref.frontend.tf_mfcc.tf_hz_to_mel`` is the same scale through log1p: other rounding, so each stays its own).

    Examples
    --------
    >>> round(float(opensmile_hz_to_mel(1000.0)), 2)
    999.99
    """
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def opensmile_mel_to_hz(m):
    """f = 700 (exp(mel / 1127) - 1).

    Examples
    --------
    >>> round(float(opensmile_mel_to_hz(opensmile_hz_to_mel(440.0))), 9)
    440.0
    """
    return 700.0 * (np.exp(np.asarray(m, dtype=np.float64) / 1127.0) - 1.0)


@lru_cache(maxsize=8)
def opensmile_mel_filterbank(n_bins: int, df: float, n_bands: int = 26, lo_hz: float = 20.0,
                   hi_hz: float = 8000.0) -> tuple[np.ndarray, np.ndarray]:
    """(W (n_bins, n_bands), centre frequencies in Hz (n_bands,)) exactly as cMelspec builds them.

    Examples
    --------
    >>> W, centres = opensmile_mel_filterbank(257, 31.25)
    >>> W.shape, centres.shape, bool(20 < centres[0] < centres[-1] < 8000)
    ((257, 26), (26,), True)
    """
    lo_mel, hi_mel = opensmile_hz_to_mel(lo_hz), opensmile_hz_to_mel(hi_hz)
    cfs = lo_mel + np.arange(n_bands + 2) * (hi_mel - lo_mel) / (n_bands + 1)
    k_lo = min(int(round(lo_hz / df)), n_bins)
    k_hi = min(int(round(hi_hz / df)), n_bins)
    W = np.zeros((n_bins, n_bands))
    for k in range(k_lo + 1, k_hi):
        mk = opensmile_hz_to_mel(k * df)
        m = int(np.searchsorted(cfs, mk, side="left"))  # first centre >= mel(k df)
        lower = m - 2                                     # band whose falling slope holds k
        w = (cfs[m] - mk) / (cfs[m] - cfs[m - 1])
        if lower >= 0:
            W[k, lower] += w
        if lower + 1 < n_bands:
            W[k, lower + 1] += 1.0 - w
    W.setflags(write=False)
    centres = opensmile_mel_to_hz(cfs[1:n_bands + 1])
    centres.setflags(write=False)
    return W, centres


def mel_power(mag: np.ndarray, df: float, n_bands: int = 26) -> np.ndarray:
    """band_m = sum_k W[k, m] |X_k|^2 (usePower = 1).

    Examples
    --------
    >>> mel_power(np.ones((2, 257)), 31.25).shape
    (2, 26)
    """
    W, _ = opensmile_mel_filterbank(mag.shape[1], float(df), n_bands)
    # einsum, not @: on a busy 2-core machine the threaded BLAS call was 8x slower here
    return np.einsum("tk,km->tm", mag * mag, W, optimize=False)

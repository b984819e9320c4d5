"""Spectral-shape descriptors of the eGeMAPS set, from the 20 ms Hamming magnitude spectrum.

openSMILE's cSpectral with useLogSpectrum=1, squareInput=1, freqRange 0-5000 Hz. With
P_k = |X_k|^2 the power of bin k at frequency f_k = k * df:

* alpha ratio      = 10 log10( sum_{1000 <= f_k <= 5000} P_k / sum_{f_k < 1000} P_k )
* Hammarberg index = 10 log10( max_{f_k < 2000} P_k / max_{2000 <= f_k <= 5000} P_k )
* slope a..b       = least-squares slope of L_k = 10 log10 P_k against f_k over bins
                     floor(a/df) .. floor(b/df) (openSMILE's normal-equation form, below)
* spectral flux    = sqrt( sum_{f_k < 5000} (|X_k|_t - |X_k|_{t-1})^2 / n_bins ), 0 at t = 0
"""
from __future__ import annotations

import numpy as np

SPEC_FLOOR = 1e-7 ** 2                      # openSMILE squares its specFloor option (1e-7)
LOG_SPEC_FLOOR = 10.0 * np.log10(SPEC_FLOOR)  # -140 dB


def _db_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # openSMILE: 0 when the denominator is empty, the floor stands in for an empty numerator
    num_f = np.maximum(num, SPEC_FLOOR)
    out = 10.0 * np.log10(num_f / np.where(den > 0, den, 1.0))
    return np.where(den > 0, out, 0.0)


def _split_power(mag: np.ndarray, df: float, split_hz: float):
    """Bin powers below split_hz and in [split_hz, 5000 Hz]."""
    p = mag * mag
    f = np.arange(mag.shape[1]) * df
    return p[:, f < split_hz], p[:, (f >= split_hz) & (f <= 5000.0)]


def alpha_ratio(mag: np.ndarray, df: float) -> np.ndarray:
    """alpha = 10 log10( E[1-5 kHz] / E[0-1 kHz] ), E = sum of bin powers |X_k|^2.

    Examples
    --------
    >>> mag = np.zeros((1, 257)); mag[0, 16] = 1.0; mag[0, 64] = 0.1     # 500 Hz and 2 kHz
    >>> np.round(alpha_ratio(mag, 31.25), 6)                             # 10 log10(0.01 / 1)
    array([-20.])
    """
    lo, hi = _split_power(mag, df, 1000.0)
    return _db_ratio(hi.sum(axis=1), lo.sum(axis=1))


def hammarberg_index(mag: np.ndarray, df: float) -> np.ndarray:
    """eta = 10 log10( max_{0-2 kHz} |X_k|^2 / max_{2-5 kHz} |X_k|^2 ).

    Examples
    --------
    >>> mag = np.zeros((1, 257)); mag[0, 16] = 1.0; mag[0, 96] = 0.1     # 500 Hz and 3 kHz
    >>> np.round(hammarberg_index(mag, 31.25), 6)
    array([20.])
    """
    lo, hi = _split_power(mag, df, 2000.0)
    return _db_ratio(lo.max(axis=1), hi.max(axis=1))


def log_power_db(mag: np.ndarray) -> np.ndarray:
    """L_k = 10 log10 |X_k|^2, floored at -140 dB like openSMILE.

    Examples
    --------
    >>> log_power_db(np.array([1.0, 0.1, 0.0]))
    array([   0.,  -20., -140.])
    """
    p = mag * mag
    return np.where(p <= SPEC_FLOOR, LOG_SPEC_FLOOR, 10.0 * np.log10(np.maximum(p, SPEC_FLOOR)))


def spectral_slope(mag: np.ndarray, df: float, lo_hz: float, hi_hz: float,
                   log_db: np.ndarray | None = None) -> np.ndarray:
    """Slope (dB/Hz) of the log power spectrum between lo_hz and hi_hz (``log_db``: L if computed).

    openSMILE's form, reproduced with its quirk: the sums run over bins iL..iR (iR - iL + 1
    points) but the count in the normal equations is N = iR - iL:
        slope = (N sum f L - sum f sum L) / (N sum f^2 - (sum f)^2)

    Examples
    --------
    >>> f = np.arange(257) * 31.25
    >>> mag = np.sqrt(10 ** (-0.01 * f / 10))[None]        # L_k = -0.01 f_k dB
    >>> spectral_slope(mag, 31.25, 0.0, 500.0).round(6)
    array([-0.01])
    """
    i_lo = int(np.floor(lo_hz / df))
    i_hi = min(int(np.floor(hi_hz / df)), mag.shape[1] - 1)
    n = float(hi_hz / df - lo_hz / df)
    f = np.arange(i_lo, i_hi + 1) * df
    L = log_power_db(mag[:, i_lo:i_hi + 1]) if log_db is None else log_db[:, i_lo:i_hi + 1]
    sf, s2f = f.sum(), (f * f).sum()
    sum_a = np.einsum("tk,k->t", L, f, optimize=False)
    sum_b = L.sum(axis=1)
    den = n * s2f - sf * sf
    return (n * sum_a - sf * sum_b) / den if den != 0 else np.zeros(mag.shape[0])


def spectral_flux(mag: np.ndarray, df: float, hi_hz: float = 5000.0) -> np.ndarray:
    """flux_t = sqrt( mean_{f_k < hi} (|X_k|_t - |X_k|_{t-1})^2 ), flux_0 = 0.

    Examples
    --------
    >>> mag = np.zeros((2, 257)); mag[1, :160] = 1.0        # 160 bins below 5 kHz change by 1
    >>> spectral_flux(mag, 31.25)
    array([0., 1.])
    """
    n_bins = int(np.sum(np.arange(mag.shape[1]) * df < hi_hz))
    m = mag[:, :n_bins]
    out = np.zeros(mag.shape[0])
    if mag.shape[0] > 1:
        d = np.diff(m, axis=0)
        out[1:] = np.sqrt((d * d).sum(axis=1) / n_bins)
    return out

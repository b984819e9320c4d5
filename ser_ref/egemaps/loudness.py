"""Loudness: the sum of Hermansky's auditory spectrum (openSMILE cPlp doAud=1 + sum).

    E(w) = 1e32 (w^2 + 56.8e6) w^4 / ((w^2 + 6.3e6)^2 (w^2 + 0.38e9) (w^7 + 1.7e31)),  w = 2 pi f
    loudness_t = (1/M) sum_m ( max(B_{t,m}, 9.3e-10) * E(f_m) ) ^ 0.33

with B the 26-band Mel power spectrum (20-8000 Hz) of the 20 ms Hamming frame and f_m the
band centre frequencies (equal-loudness pre-emphasis, then the cube-root power law of hearing).
"""
from __future__ import annotations

import numpy as np

from .mel import mel_power, opensmile_mel_filterbank

MEL_FLOOR = 0.00000000093
COMPRESSION = 0.33


def equal_loudness_weight(f_hz) -> np.ndarray:
    """E(f) of Hermansky (1990) with openSMILE's factor 1e32 (formula in module doc), which puts it
    near 1 at 1 kHz (1.004); it is not normalised to a maximum of 1: it peaks at 3.14 near 3.4 kHz.

    Examples
    --------
    >>> w = equal_loudness_weight(np.array([100.0, 1000.0, 3000.0, 8000.0]))
    >>> bool(w[0] < w[1] < w[2]), bool(w[3] < w[1])     # hearing gains sensitivity up to about 3 kHz
    (True, True)
    >>> np.round(w[1:3], 2), round(float(equal_loudness_weight(np.arange(1.0, 8000.0)).max()), 2)
    (array([1.  , 3.03]), 3.14)
    """
    w = 2.0 * np.pi * np.asarray(f_hz, dtype=np.float64)
    w2 = w * w
    c = w2 + 6300000.0
    return 1e32 * ((w2 + 56.8e6) * w2 * w2) / (c * c * (w2 + 0.38e9) * (w2 * w2 * w2 * w + 1.7e31))


def loudness(mag: np.ndarray, df: float, mel: np.ndarray | None = None) -> np.ndarray:
    """loudness_t = (1/26) sum_m (max(B_tm, floor) E(f_m))^0.33 over the 26 Mel bands.

    ``mel``: the (T, 26) Mel power spectrum of ``mag`` if already computed.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone, spectrum20ms
    >>> mag, _, df = spectrum20ms(harmonic_tone())  # 0.5 s, F0 200 Hz
    >>> quiet = loudness(mag * 0.1, df)
    >>> bool(np.all(loudness(mag, df)[2:-2] > quiet[2:-2]))
    True
    """
    _, centres = opensmile_mel_filterbank(mag.shape[1], float(df), 26)
    B = mel_power(mag, df) if mel is None else mel
    bands = np.maximum(B, MEL_FLOOR) * equal_loudness_weight(centres)
    return np.power(bands, COMPRESSION).mean(axis=1)

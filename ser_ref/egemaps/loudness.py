"""Loudness: the sum of Hermansky's auditory spectrum (openSMILE cPlp doAud=1 + sum).

    E(w) = 1e32 (w^2 + 56.8e6) w^4 / ((w^2 + 6.3e6)^2 (w^2 + 0.38e9) (w^7 + 1.7e31)),  w = 2 pi f
    loudness_t = (1/M) sum_m ( max(B_{t,m}, 9.3e-10) * E(f_m) ) ^ 0.33

with B the 26-band Mel power spectrum (20-8000 Hz) of the 20 ms Hamming frame and f_m the
band centre frequencies (equal-loudness pre-emphasis, then the cube-root power law of hearing).
"""
from __future__ import annotations

import numpy as np

from .mel import mel_filterbank, mel_power

MEL_FLOOR = 0.00000000093
COMPRESSION = 0.33


def equal_loudness_weight(f_hz) -> np.ndarray:
    """E(f) of Hermansky (1990), scaled to max 1 as openSMILE does (formula in module doc).

    Examples
    --------
    >>> w = equal_loudness_weight(np.array([100.0, 1000.0, 3000.0]))
    >>> bool(w[0] < w[1] < w[2])                        # hearing gains sensitivity up to about 3 kHz
    True
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
    >>> t = np.arange(8000) / 16000
    >>> x = sum(np.sin(2 * np.pi * 200 * k * t) / k for k in range(1, 6)) * 0.3   # 0.5 s, F0 200 Hz

    >>> from ser_ref.egemaps.frames import spectrum20ms
    >>> mag, _, df = spectrum20ms(x)
    >>> quiet = loudness(mag * 0.1, df)
    >>> bool(np.all(loudness(mag, df)[2:-2] > quiet[2:-2]))
    True
    """
    _, centres = mel_filterbank(mag.shape[1], float(df), 26)
    B = mel_power(mag, df) if mel is None else mel
    bands = np.maximum(B, MEL_FLOOR) * equal_loudness_weight(centres)
    return np.power(bands, COMPRESSION).mean(axis=1)

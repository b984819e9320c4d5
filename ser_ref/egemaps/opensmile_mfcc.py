"""openSMILE's MFCC 1-4 (cMelspec + cMfcc, htkcompatible = 1) - not the DeepSpeech MFCC.

    B_m   = 32767^2 * sum_k W[k, m] |X_k|^2        (HTK sample scale, 26 Mel bands 20-8000 Hz)
    c_i   = sqrt(2/M) (1 + L/2 sin(pi i / L)) sum_{m<M} ln(max(B_m, 1)) cos(pi i (m + 1/2) / M)
with M = 26 bands and cepstral lifter L = 22, i = 1..4.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .mel import mel_power

HTK_SCALE = 32767.0 * 32767.0


@lru_cache(maxsize=4)
def _dct_lifter(n_bands: int, first: int, last: int, lifter: float) -> np.ndarray:
    i = np.arange(first, last + 1)[None, :]
    m = np.arange(n_bands)[:, None]
    D = np.cos(np.pi * i / n_bands * (m + 0.5))
    lift = 1.0 + lifter / 2.0 * np.sin(np.pi * i / lifter)
    out = D * lift * np.sqrt(2.0 / n_bands)
    out.setflags(write=False)
    return out


def opensmile_mfcc(mag: np.ndarray, df: float, first: int = 1, last: int = 4, n_bands: int = 26,
         lifter: float = 22.0, mel: np.ndarray | None = None) -> np.ndarray:
    """(T, last - first + 1) liftered MFCCs c_first..c_last (formula in the module doc).

    ``mel``: the (T, n_bands) Mel power spectrum of ``mag`` (openSMILE -1..1 scale) if already computed.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone, spectrum20ms
    >>> mag, _, df = spectrum20ms(harmonic_tone())  # 0.5 s, F0 200 Hz
    >>> opensmile_mfcc(mag, df).shape               # mfcc1..mfcc4 per frame
    (49, 4)
    """
    B = mel_power(mag, df, n_bands) if mel is None else mel
    logmel = np.log(np.maximum(B * HTK_SCALE, 1.0))
    return np.einsum("tm,mi->ti", logmel, _dct_lifter(n_bands, first, last, lifter), optimize=False)

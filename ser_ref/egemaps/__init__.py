"""Hand-written eGeMAPS v02: the 88 openSMILE functionals, auditable, no openSMILE needed.

    egemaps(signal, sample_rate=16000) -> float32 (88,)
    egemaps_files(paths, *, executor=None) -> float32 (n, 88)
    EGEMAPS_NAMES: the 88 names in openSMILE's order

One module per piece: frames (window/FFT), mel + loudness, spectral (alpha ratio, Hammarberg,
slopes, flux), opensmile_mfcc (MFCC 1-4), energy (Leq), smoothing (sma3 / sma3nz), functionals,
voice (F0, jitter, shimmer, HNR, harmonics, formants), extract (assembly).
"""
from .extract import egemaps, egemaps_files, egemaps_from_llds, spectral_llds
from .names import EGEMAPS_NAMES

__all__ = ["EGEMAPS_NAMES", "egemaps", "egemaps_files", "egemaps_from_llds", "spectral_llds"]

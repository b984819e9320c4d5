"""Equivalent sound level: the dB power of the mean frame energy.

    e_t  = (1/N) sum_n x_t[n]^2           (unwindowed 20 ms frames, openSMILE cEnergy energy2)
    Leq  = 10 log10( (1/T) sum_t e_t )     (cFunctionals amean, then cVectorOperation dBp)
"""
from __future__ import annotations

import numpy as np

FLOOR = 1e-12  # keeps Leq finite (-120 dB) for frames of digital silence


def frame_energy(frames: np.ndarray) -> np.ndarray:
    """e_t = mean_n x_t[n]^2."""
    return np.mean(frames * frames, axis=1)


def equivalent_sound_level(e: np.ndarray) -> float:
    """Leq = 10 log10(mean_t e_t) from the frame energies e_t (floored at -120 dB)."""
    return float(10.0 * np.log10(max(float(np.mean(e)), FLOOR)))

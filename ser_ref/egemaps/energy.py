"""Equivalent sound level: the dB power of the mean frame energy.

    e_t  = (1/N) sum_n x_t[n]^2           (unwindowed 20 ms frames, openSMILE cEnergy energy2)
    Leq  = 10 log10( (1/T) sum_t e_t )     (cFunctionals amean, then cVectorOperation dBp)
"""
from __future__ import annotations

import numpy as np

FLOOR = 1e-12  # keeps Leq finite (-120 dB) for frames of digital silence


def frame_energy(frames: np.ndarray) -> np.ndarray:
    """e_t = mean_n x_t[n]^2.

    Examples
    --------
    >>> frame_energy(np.array([[1.0, -1.0], [0.5, 0.5]]))
    array([1.  , 0.25])
    """
    return np.mean(frames * frames, axis=1)


def equivalent_sound_level(e: np.ndarray) -> float:
    """Leq = 10 log10(mean_t e_t) from the frame energies e_t (floored at -120 dB).

    Examples
    --------
    >>> equivalent_sound_level(np.array([0.01, 0.01]))      # 10 log10(0.01)
    -20.0
    >>> equivalent_sound_level(np.zeros(3))                 # digital silence: the floor
    -120.0
    """
    return float(10.0 * np.log10(max(float(np.mean(e)), FLOOR)))

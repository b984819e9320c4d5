"""openSMILE's cContourSmoother with smaWin = 3: the ``_sma3`` and ``_sma3nz`` suffixes."""
from __future__ import annotations

import numpy as np


def sma3(x: np.ndarray) -> np.ndarray:
    """y[t] = (x[t-1] + x[t] + x[t+1]) / 3, with the edge frames repeated (x[-1] = x[0]).

    Examples
    --------
    >>> sma3(np.array([0.0, 3.0, 0.0, 3.0]))
    array([1., 1., 2., 1.])
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] < 2:
        return x.copy()
    xp = np.concatenate([x[:1], x, x[-1:]])
    return (xp[:-2] + xp[1:-1] + xp[2:]) / 3.0


def sma3nz(x: np.ndarray) -> np.ndarray:
    """Moving average over the non-zero values of the 3-frame window; y[t] = 0 where x[t] = 0.

    Zero marks 'not defined here' (unvoiced), so zeros never pull a voiced value down.

    Examples
    --------
    >>> sma3nz(np.array([2.0, 4.0, 0.0, 6.0]))   # zeros stay zero and never pull a mean down; x[-1] = x[0]
    array([2.66666667, 3.        , 0.        , 6.        ])
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] < 2:
        return x.copy()
    xp = np.concatenate([x[:1], x, x[-1:]])
    nz = (xp != 0).astype(np.float64)
    s = xp[:-2] + xp[1:-1] + xp[2:]
    c = nz[:-2] + nz[1:-1] + nz[2:]
    out = np.where(c > 0, s / np.maximum(c, 1.0), 0.0)
    return np.where(x != 0, out, 0.0)

"""Context windows: DeepSpeech sees each MFCC frame with 9 past and 9 future frames.

    window_t = [mfcc_{t-9}, ..., mfcc_t, ..., mfcc_{t+9}]  flattened row-major  (19 * 26 = 494)
    index(context_frame j, coefficient c) = j * 26 + c,   mfcc_s = 0 for s < 0 or s >= T

After zero-padding the (T, 26) frames with 9 rows at each end, window t is the contiguous slice
padded.ravel()[t * 26 : t * 26 + 494], so all T windows are one strided view of the padded copy.
"""
from __future__ import annotations

from ..runtime.backend import array_module
from ..errors import AudioError


def context_windows(mfcc, n_context: int = 9):
    """(T, n_feat) frames -> (T, (2 n_context + 1) n_feat) windows, zero-padded, a strided view.

    The result is read-only (it shares memory between rows); copy it before writing into it.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.arange(12.0).reshape(4, 3)          # 4 frames of 3 coefficients
    >>> w = context_windows(m, n_context=1)         # frame t with t-1 and t+1: 9 inputs
    >>> w[0]                                        # zeros before the first frame
    array([0., 0., 0., 0., 1., 2., 3., 4., 5.])
    >>> context_windows(np.zeros((200, 26))).shape
    (200, 494)
    """
    xp = array_module(mfcc)
    x = xp.asarray(mfcc)
    if x.ndim != 2 or x.shape[0] < 1:
        raise AudioError(f"context_windows: expected (frames, coefficients) with frames >= 1, got {x.shape}")
    if int(n_context) != n_context or n_context < 0:
        raise AudioError(f"context_windows: n_context must be a non-negative integer, got {n_context!r}")
    T, F = x.shape
    padded = xp.zeros((T + 2 * n_context, F), dtype=x.dtype)
    padded[n_context:n_context + T] = x
    s = padded.itemsize
    width = (2 * n_context + 1) * F
    view = xp.lib.stride_tricks.as_strided(padded, shape=(T, width), strides=(F * s, s))
    if xp.__name__ == "numpy":
        view.flags.writeable = False
    return view

"""Framing: the cut into overlapping frames that TensorFlow's AudioSpectrogram (the DeepSpeech MFCC) and
openSMILE's cFramer (``frameCenterSpecial = left``, the eGeMAPS front end) both make.

    x_t[n] = x[t*step + n],  n < win,  t < 1 + (N - win) // step        (no padding)

Frame t covers samples [t*step, t*step + win); a signal shorter than one frame has none. The frames are
a read-only strided view of the signal (no copy); a CuPy signal gives a CuPy view.
"""
from __future__ import annotations

import numpy as np

from ..runtime.backend import array_module


def frame_signal(x, win: int, step: int):
    """x_t[n] = x[t*step + n] as a (frames, win) strided view: max(0, 1 + (N - win) // step) frames.

    Examples
    --------
    >>> frame_signal(np.arange(10.0), 4, 3)
    array([[0., 1., 2., 3.],
           [3., 4., 5., 6.],
           [6., 7., 8., 9.]])
    >>> frame_signal(np.arange(3.0), 4, 3).shape      # shorter than one frame
    (0, 4)
    """
    xp = array_module(x)
    n_frames = max(0, 1 + (x.shape[0] - win) // step)
    s = x.strides[0]
    if xp is np:  # read-only: a write through one frame would change its neighbours
        return np.lib.stride_tricks.as_strided(x, shape=(n_frames, win), strides=(step * s, s), writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape=(n_frames, win), strides=(step * s, s))

"""Framing, windowing and FFT magnitude exactly as openSMILE's eGeMAPS front end does it.

openSMILE cuts frames with ``frameCenterSpecial = left``: frame t covers samples
[t*hop, t*hop + size). The 20 ms frames (320 samples at 16 kHz) are Hamming-windowed and
zero-padded to the next power of two (512) before the FFT, so the bin spacing is
sr / 512 = 31.25 Hz. Samples are the float values in [-1, 1] (openSMILE's wave reader scale).
"""
from __future__ import annotations

import numpy as np

from ..audio import check_signal

HOP_SEC = 0.010
FRAME_SEC = 0.020


def frame_signal(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    """Frames F[t, n] = x[t*hop + n], n < size, for every t with t*hop + size <= len(x).

    Examples
    --------
    >>> frame_signal(np.arange(7.0), 4, 2)
    array([[0., 1., 2., 3.],
           [2., 3., 4., 5.]])
    """
    n_frames = 1 + (len(x) - size) // hop
    if n_frames < 1:
        return np.zeros((0, size), dtype=x.dtype)
    return np.lib.stride_tricks.sliding_window_view(x, size)[::hop][:n_frames]


def hamming(n: int) -> np.ndarray:
    """w[k] = 0.54 - 0.46 cos(2 pi k / (n - 1))  (openSMILE winFunc=ham).

    Examples
    --------
    >>> hamming(3)
    array([0.08, 1.  , 0.08])
    """
    k = np.arange(n)
    return 0.54 - 0.46 * np.cos(2.0 * np.pi * k / (n - 1))


def next_pow2(n: int) -> int:
    return 1 << int(np.ceil(np.log2(n)))


def fft_magnitude(frames: np.ndarray, window: np.ndarray) -> np.ndarray:
    """|X_t[k]| = |sum_n w[n] F[t, n] e^{-2 pi i k n / N}|, N = next power of two >= frame size.

    Returns shape (T, N/2 + 1): bins 0 .. Nyquist, spacing sr / N.

    Examples
    --------
    >>> mag = fft_magnitude(np.ones((1, 320)), np.ones(320))    # padded to N = 512
    >>> mag.shape, float(mag[0, 0])
    ((1, 257), 320.0)
    """
    n_fft = next_pow2(frames.shape[1])
    return np.abs(np.fft.rfft(frames * window, n=n_fft, axis=1))


def spectrum20ms(signal, sample_rate: int = 16000):
    """Hamming-windowed 20 ms / 10 ms-hop magnitude spectra and the raw frames.

    Returns (mag (T, 257), frames (T, 320), bin_hz) for 16 kHz input.

    Examples
    --------
    >>> t = np.arange(8000) / 16000
    >>> x = sum(np.sin(2 * np.pi * 200 * k * t) / k for k in range(1, 6)) * 0.3   # 0.5 s, F0 200 Hz

    >>> mag, frames, df = spectrum20ms(x)
    >>> mag.shape, frames.shape, df, int(np.argmax(mag[10]) * df)    # the strongest bin: F0
    ((49, 257), (49, 320), 31.25, 187)
    """
    x = check_signal(signal, sample_rate, name="signal").astype(np.float64)
    size = int(round(FRAME_SEC * sample_rate))
    hop = int(round(HOP_SEC * sample_rate))
    frames = frame_signal(x, size, hop)
    mag = fft_magnitude(frames, hamming(size))
    bin_hz = sample_rate / next_pow2(size)
    return mag, frames, bin_hz

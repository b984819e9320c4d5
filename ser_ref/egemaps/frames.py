"""Framing, windowing and FFT magnitude exactly as openSMILE's eGeMAPS front end does it.

openSMILE cuts frames with ``frameCenterSpecial = left``: frame t covers samples
[t*hop, t*hop + size), the same cut as TensorFlow's (``ser_ref.frontend.framing.frame_signal``). The 20 ms
frames (320 samples at 16 kHz) are Hamming-windowed and zero-padded to the next power of two (512)
before the FFT, so the bin spacing is sr / 512 = 31.25 Hz. Samples are the float values in
[-1, 1] (openSMILE's wave reader scale).
"""
from __future__ import annotations

import numpy as np

from ..frontend.audio import check_signal
from ..frontend.framing import frame_signal

HOP_SEC = 0.010
FRAME_SEC = 0.020
# frames per block of a long signal (10 s of 10 ms frames): what one block's spectra cost in memory
# is what a 10 s utterance's cost; only the per-frame contours grow with the length
BLOCK_FRAMES = 1000


def frame_blocks(n_frames: int, block: int = BLOCK_FRAMES) -> list[tuple[int, int]]:
    """[t0, t1) ranges of ``block`` frames covering 0 .. n_frames - 1.

    >>> frame_blocks(25, 10), frame_blocks(0, 10)
    ([(0, 10), (10, 20), (20, 25)], [])
    """
    return [(t0, min(t0 + block, n_frames)) for t0 in range(0, n_frames, block)]


def harmonic_tone(f0: float = 200.0, seconds: float = 0.5, sample_rate: int = 16000) -> np.ndarray:
    """x[n] = 0.3 sum_{k=1..5} sin(2 pi k f0 n / sr) / k: five harmonics falling as 1/k, the voiced
    signal of the eGeMAPS examples (float64, peak below 1).

    Examples
    --------
    >>> x = harmonic_tone()                          # 0.5 s, F0 200 Hz
    >>> x.shape, bool(np.abs(x).max() < 1)
    ((8000,), True)
    """
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * 0.3


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
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
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

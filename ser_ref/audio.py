"""Audio in: read any file soundfile reads, mix to mono, resample to 16 kHz, validate.

The result is float32 in [-1, 1] exactly as DeepSpeech's clients feed the model: for 16-bit
input that is ``int16 / 32768`` (soundfile's own int-to-float conversion does exactly this).
Resampling uses a polyphase filter (``scipy.signal.resample_poly`` with up/down = the reduced
ratio of the two rates).
"""
from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np

from .errors import AudioError

SAMPLE_RATE = 16000
MIN_SAMPLES = 512  # one 32 ms analysis window at 16 kHz


def check_signal(signal, sample_rate: int = SAMPLE_RATE, *, name: str = "signal",
                 min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """Validate an in-memory mono signal and return it as a float32 1-D array.

    Raises AudioError naming ``name`` when the signal is not 1-D, empty, shorter than
    ``min_samples``, contains NaN/inf, is all zeros, or ``sample_rate`` is not positive.

    Examples
    --------
    >>> check_signal(np.ones(600)).dtype
    dtype('float32')
    >>> check_signal(np.zeros(600), name="quiet.wav")
    Traceback (most recent call last):
    ...
    ser_ref.errors.AudioError: quiet.wav: all samples are zero (silent file)
    """
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise AudioError(f"{name}: sample rate must be a positive integer, got {sample_rate!r}")
    x = np.asarray(signal)
    if x.ndim != 1:
        raise AudioError(f"{name}: expected a 1-D mono signal, got shape {x.shape}")
    if x.size == 0:
        raise AudioError(f"{name}: zero-length audio")
    if not np.issubdtype(x.dtype, np.number):
        raise AudioError(f"{name}: samples are not numbers (dtype {x.dtype})")
    x = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise AudioError(f"{name}: {bad} NaN/inf samples")
    if x.size < min_samples:
        raise AudioError(
            f"{name}: {x.size} samples at {sample_rate} Hz is shorter than one analysis window "
            f"({min_samples} samples)"
        )
    if not np.any(x):
        raise AudioError(f"{name}: all samples are zero (silent file)")
    return x


def resample(x: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling by the reduced ratio up/down = target_sr/g : orig_sr/g, g = gcd.

    Examples
    --------
    >>> x = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100).astype(np.float32)
    >>> y = resample(x, 44100)          # 1 s at 44.1 kHz -> 1 s at 16 kHz (up 160, down 441)
    >>> y.shape, round(float(np.abs(y[100:-100]).max()), 2)
    ((16000,), 1.0)
    """
    if orig_sr == target_sr:
        return x
    g = gcd(int(orig_sr), int(target_sr))
    from scipy.signal import resample_poly

    return resample_poly(x, target_sr // g, orig_sr // g).astype(np.float32)


def load_audio(path, target_sr: int = SAMPLE_RATE, *, min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """Read ``path`` as float32 mono at ``target_sr`` Hz, validated (see ``check_signal``).

    Multi-channel audio is averaged to mono; other rates are resampled with a polyphase filter.
    Every problem raises AudioError with the file's path in the message.

    Examples
    --------
    >>> import os, tempfile, soundfile as sf
    >>> p = os.path.join(tempfile.mkdtemp(), "stereo8k.wav")
    >>> sf.write(p, np.full((8000, 2), 0.25, np.float32), 8000)   # 1 s, stereo, 8 kHz
    >>> x = load_audio(p)
    >>> x.shape, x.dtype, round(float(x[4000]), 3)
    ((16000,), dtype('float32'), 0.25)
    >>> load_audio(p + ".missing")
    Traceback (most recent call last):
    ...
    ser_ref.errors.AudioError: ...stereo8k.wav.missing: file not found
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"{path}: unreadable or not audio ({exc})") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path}: zero-length audio")
    x = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{path}: {int(np.count_nonzero(~np.isfinite(x)))} NaN/inf samples")
    x = resample(x, sr, target_sr)
    return check_signal(x, target_sr, name=str(path), min_samples=min_samples)

"""Is a recording like the speech the models were trained on? Four checks, one warning line each.

``predict`` and ``explain`` still give their answer; these say when it rests on input unlike the
training corpora (docs/reliability.md, "Input unlike the training data"). The thresholds were set
on the shared RAVDESS (672 files) and Urdu (400 files) copies, so that none of their files is flagged,
and each is far from what it catches:

- **too short**: fewer MFCC frames than one context window of the DeepSpeech features
  (9 + 1 + 9 = 19 frames: 0.39 s at the model's 20 ms step); the windows are then mostly padding.
- **near-silent**: the level of the loudest 5 % of 32 ms frames (their 95th percentile RMS) below
  ``SILENT_DBFS`` = -70 dBFS. The saved models do not record their training corpus's level, so the
  rule is absolute: the quietest RAVDESS file is at -56 dBFS by this measure, the quietest Urdu file
  at -36 dBFS, and a file of zeros with one 1-bit sample at minus infinity.
- **narrow-band**: a native sample rate below 16 kHz, or less than ``HIGH_BAND_MIN`` = 1e-5 (-50 dB)
  of the spectral energy above ``HIGH_BAND_HZ`` = 4.5 kHz (telephone audio stored at 16 kHz).
  4.5 kHz, not 4: a resampler's transition band leaves up to 1e-3 of the energy just above 4 kHz in
  8 kHz audio brought back to 16 kHz. Measured: RAVDESS files >= 1.9e-4, Urdu files >= 1.2e-5;
  the same files through 8 kHz and back: median 6.3e-7 and 3e-7, 1068 of 1072 caught
  (``bench/input_check_levels.py``).
- **clipped**: at least ``CLIPPED_MIN`` = 1 % of the samples (of the native signal, in any channel)
  at full scale, |x| >= 32767/32768. The most in a training file: 0.38 % (Urdu), 0.01 % (RAVDESS).
"""
from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
WIN = 512                 # 32 ms at 16 kHz: the MFCC's analysis window
CONTEXT_FRAMES = 19       # 9 past + the frame + 9 future: one input of DeepSpeech's layer 1
SILENT_DBFS = -70.0
HIGH_BAND_HZ = 4500.0
HIGH_BAND_MIN = 1e-5
FULL_SCALE = 32767 / 32768
CLIPPED_MIN = 0.01


def n_frames(n_samples: int, step_ms: int = 20) -> int:
    """MFCC frames of a 16 kHz signal: 32 ms windows every ``step_ms`` (none shorter than a window).

    >>> n_frames(16000), n_frames(511), n_frames(16000, 10)
    (49, 0, 97)
    """
    step = SAMPLE_RATE * step_ms // 1000
    return 0 if n_samples < WIN else 1 + (n_samples - WIN) // step


def too_short(x16k, step_ms: int = 20) -> str | None:
    """A warning when the 16 kHz signal has fewer frames than one context window.

    >>> too_short(np.ones(1600))          # 0.1 s: 4 frames
    'too short: 0.10 s is 4 MFCC frames, less than one context window (19 frames, 0.39 s)'
    >>> too_short(np.ones(16000)) is None
    True
    """
    have = n_frames(len(x16k), step_ms)
    if have >= CONTEXT_FRAMES:
        return None
    need_s = (WIN + (CONTEXT_FRAMES - 1) * SAMPLE_RATE * step_ms // 1000) / SAMPLE_RATE
    return (f"too short: {len(x16k) / SAMPLE_RATE:.2f} s is {have} MFCC frames, less than one context window "
            f"({CONTEXT_FRAMES} frames, {need_s:.2f} s)")


def active_level_dbfs(x16k) -> float:
    """The 95th percentile of the RMS of 32 ms frames, in dB relative to full scale (-inf: silence).

    >>> round(active_level_dbfs(np.full(16000, 0.1)), 1)
    -20.0
    """
    x = np.asarray(x16k, dtype=np.float64)
    n = len(x) // WIN
    frames = x[:n * WIN].reshape(n, WIN) if n else x[None]
    level = float(np.percentile(np.sqrt(np.mean(frames ** 2, axis=1)), 95))
    return float(20 * np.log10(level)) if level > 0 else float("-inf")


def near_silent(x16k) -> str | None:
    """A warning when the loudest 5 % of frames lie below ``SILENT_DBFS``.

    >>> x = np.zeros(16000); x[100] = 1 / 32768    # zeros with one 1-bit sample
    >>> near_silent(x)
    'near-silent: its loudest frames are at -inf dBFS, below -70 dBFS (the training speech is above -57)'
    >>> near_silent(np.full(16000, 0.01)) is None
    True
    """
    level = active_level_dbfs(x16k)
    if level >= SILENT_DBFS:
        return None
    return (f"near-silent: its loudest frames are at {level:.0f} dBFS, below {SILENT_DBFS:.0f} dBFS "
            "(the training speech is above -57)")


def high_band_fraction(x16k, cutoff_hz: float = HIGH_BAND_HZ) -> float:
    """The fraction of the spectral energy (Hann-windowed 32 ms frames) above ``cutoff_hz``.

    >>> t = np.arange(16000) / 16000
    >>> round(high_band_fraction(np.sin(2 * np.pi * 6000 * t) + np.sin(2 * np.pi * 1000 * t)), 2)
    0.5
    """
    x = np.asarray(x16k, dtype=np.float64)
    n = len(x) // WIN
    if n == 0:
        x, n = np.pad(x, (0, WIN - len(x))), 1
    spectra = np.abs(np.fft.rfft(x[:n * WIN].reshape(n, WIN) * np.hanning(WIN), axis=1)) ** 2
    total = spectra.sum()
    high = spectra[:, np.fft.rfftfreq(WIN, 1 / SAMPLE_RATE) >= cutoff_hz].sum()
    return float(high / total) if total > 0 else 0.0


def narrow_band(x16k, native_rate: int) -> str | None:
    """A warning when the file's own rate is below 16 kHz, or it has (almost) no energy above 4.5 kHz.

    >>> narrow_band(np.random.default_rng(0).normal(size=16000), 8000)
    'narrow-band: recorded at 8000 Hz, below the 16000 Hz the model was trained on (no sound above 4000 Hz)'
    >>> t = np.arange(16000) / 16000
    >>> narrow_band(np.sin(2 * np.pi * 300 * t), 16000)[:43]   # a 300 Hz tone
    'narrow-band: almost no energy above 4500 Hz'
    >>> narrow_band(np.random.default_rng(0).normal(size=16000), 16000) is None
    True
    """
    if native_rate < SAMPLE_RATE:
        return (f"narrow-band: recorded at {native_rate} Hz, below the {SAMPLE_RATE} Hz the model was trained on "
                f"(no sound above {native_rate // 2} Hz)")
    fraction = high_band_fraction(x16k)
    if fraction >= HIGH_BAND_MIN:
        return None
    return (f"narrow-band: almost no energy above {HIGH_BAND_HZ:.0f} Hz ({fraction:.2g} of the total, under "
            f"{HIGH_BAND_MIN:g}): telephone-band audio stored at a higher rate?")


def clipped(native) -> str | None:
    """A warning when ``CLIPPED_MIN`` or more of the samples of a channel of the file's own signal
    (float, full scale 1) sit at full scale.

    >>> x = np.clip(3 * np.sin(np.arange(16000) / 10), -1, 1)   # driven far into the rails
    >>> clipped(x)
    'clipped: 78 % of the samples are at full scale (a recording level set too high)'
    >>> clipped(0.5 * np.sin(np.arange(16000) / 10)) is None
    True
    """
    x = np.asarray(native, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    fraction = float(np.max(np.mean(np.abs(x) >= FULL_SCALE, axis=0))) if x.size else 0.0
    if fraction < CLIPPED_MIN:
        return None
    return f"clipped: {100 * fraction:.0f} % of the samples are at full scale (a recording level set too high)"


def input_warnings(native, native_rate: int, x16k, step_ms: int = 20) -> list[str]:
    """Every warning for one recording: its own samples (frames x channels) and rate, and the 16 kHz
    mono signal the features are computed from.

    >>> t = np.arange(32000) / 16000
    >>> speech = 0.1 * np.sign(np.sin(2 * np.pi * 120 * t)) * (1 + np.sin(2 * np.pi * 3 * t))
    >>> input_warnings(speech, 16000, speech)
    []
    """
    found = [too_short(x16k, step_ms), near_silent(x16k), narrow_band(x16k, native_rate), clipped(native)]
    return [w for w in found if w]


def file_warnings(path, step_ms: int = 20) -> list[str]:
    """``input_warnings`` of an audio file (read and decoded as the features read it).

    >>> import os, tempfile, soundfile as sf
    >>> p = os.path.join(tempfile.mkdtemp(), "short.wav")
    >>> sf.write(p, 0.1 * np.random.default_rng(0).normal(size=1600), 16000)
    >>> file_warnings(p)
    ['too short: 0.10 s is 4 MFCC frames, less than one context window (19 frames, 0.39 s)']
    """
    import io

    import soundfile as sf

    from .audio import decode_audio, read_file

    data = read_file(path)
    x16k = decode_audio(data, str(path))
    native, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return input_warnings(native, rate, x16k, step_ms)

"""Audio in: read any file soundfile reads, mix to mono, resample to 16 kHz, validate.

The result is float32 in [-1, 1] exactly as DeepSpeech's clients feed the model: for 16-bit
input that is ``int16 / 32768`` (soundfile's own int-to-float conversion does exactly this).
Resampling uses a polyphase filter (``scipy.signal.resample_poly`` with up/down = the reduced
ratio of the two rates).
"""
from __future__ import annotations

import io
import os  # noqa: F401  (the examples use it)
import struct
from math import gcd
from pathlib import Path

import numpy as np

from ..errors import AudioError

SAMPLE_RATE = 16000
MIN_SAMPLES = 512  # one 32 ms analysis window at 16 kHz
# Float files may overshoot full scale a little (resampling, mastering); far beyond it the samples
# are not audio in [-1, 1] and would overflow the MFCC's power spectrum.
MAX_PEAK = 2.0
# Every input is read whole, so its size is bounded: beyond these limits a file is left out (split it)
MAX_FILE_BYTES = 1 << 30      # 1 GiB of file
MAX_SECONDS = 2 * 3600        # two hours of audio at the file's own rate
MAX_DECODED_SAMPLES = 1 << 28  # frames x channels: 1 GiB as float32


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
    if np.issubdtype(x.dtype, np.integer):
        raise AudioError(f"{name}: integer samples ({x.dtype}) would be used unscaled; pass float audio "
                         f"in [-1, 1] (for int16: divide by 32768) or read files with ser_ref.frontend.audio.load_audio")
    if x.ndim != 1:
        raise AudioError(f"{name}: expected a 1-D mono signal, got shape {x.shape}")
    if x.size == 0:
        raise AudioError(f"{name}: zero-length audio")
    if not np.issubdtype(x.dtype, np.number):
        raise AudioError(f"{name}: samples are not numbers (dtype {x.dtype})")
    x = x.astype(np.float32, copy=False)
    if not all_finite(x):
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


def all_finite(x: np.ndarray) -> bool:
    """Whether every sample is finite, without a boolean copy of the signal: the float64 sum of float32
    (or float16) samples cannot overflow, so it is NaN or inf exactly when a sample is.

    >>> all_finite(np.float32([1, -3e38, 3e38])), all_finite(np.float32([1, np.inf])), all_finite(np.float32([np.nan]))
    (True, False, False)
    """
    if x.dtype.itemsize <= 4:
        return bool(np.isfinite(np.sum(x, dtype=np.float64)))
    return bool(np.all(np.isfinite(x)))


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


def wav_truncation(data: bytes) -> str | None:
    """None, or how a RIFF/WAVE file's data chunk falls short of what its header promises.

    libsndfile quietly reads what is there; a file cut off in a copy would then pass as a short one.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, rate, align = 12, 0, 0
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"fmt " and pos + 22 <= len(data):
            rate, align = struct.unpack("<I", data[pos + 12:pos + 16])[0], struct.unpack("<H", data[pos + 20:pos + 22])[0]
        if cid == b"data":
            have = len(data) - pos - 8
            if size in (0, 0xFFFFFFFF) or have >= size:  # 0 / -1: a stream writer's placeholder
                return None
            if rate and align:
                return f"truncated: the header promises {size / align / rate:.2f} s, {have / align / rate:.2f} s are there"
            return f"truncated: the header promises {size} bytes of samples, {have} are there"
        pos += 8 + size + (size & 1)
    return None


def decode_audio(data: bytes, name: str, target_sr: int = SAMPLE_RATE, *,
                 min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """The bytes of an audio file -> float32 mono at ``target_sr`` Hz, validated; errors name ``name``.

    Examples
    --------
    >>> import soundfile as sf
    >>> buf = io.BytesIO(); sf.write(buf, np.full(800, 0.25, np.float32), 16000, format="WAV")
    >>> decode_audio(buf.getvalue(), "x.wav").shape
    (800,)
    """
    import soundfile as sf

    truncated = wav_truncation(data)
    if truncated:
        raise AudioError(f"{name}: {truncated}")
    buf = io.BytesIO(data)
    try:
        with sf.SoundFile(buf) as f:
            promised, sr = f.frames, f.samplerate
            check_decoded_size(promised, f.channels, sr, name)
            x = f.read(dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"{name}: unreadable or not audio ({soundfile_cause(exc, buf)})") from exc
    if 0 < x.shape[0] < promised:  # other formats: fewer frames decoded than the header says
        raise AudioError(f"{name}: truncated: the header promises {promised / sr:.2f} s, "
                         f"{x.shape[0] / sr:.2f} s are there")
    if x.shape[0] == 0:
        raise AudioError(f"{name}: zero-length audio")
    x = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
    if not all_finite(x):
        raise AudioError(f"{name}: {int(np.count_nonzero(~np.isfinite(x)))} NaN/inf samples")
    peak = max(float(np.max(x)), -float(np.min(x)))  # max |x| without an |x| copy of the signal
    if peak > MAX_PEAK:
        raise AudioError(f"{name}: samples reach {peak:.3g}, far outside [-1, 1] (a float file written "
                         f"unscaled?)")
    x = resample(x, sr, target_sr)
    return check_signal(x, target_sr, name=name, min_samples=min_samples)


def soundfile_cause(exc: Exception, buf=None) -> str:
    """The cause of a soundfile error in words (libsndfile's own sentence), not its class name.

    >>> import soundfile as sf
    >>> try:
    ...     sf.info(io.BytesIO(b"plain text, not audio"))
    ... except Exception as exc:
    ...     print(soundfile_cause(exc))
    Format not recognised.
    """
    why = getattr(exc, "error_string", None) or str(exc)
    return why.replace(repr(buf), "the file") if buf is not None else why


def check_decoded_size(frames: int, channels: int, sample_rate: int, name: str) -> None:
    """AudioError unless the samples a header promises are within MAX_SECONDS and MAX_DECODED_SAMPLES,
    said before they are decoded (a header can promise far more than memory holds).

    >>> check_decoded_size(3 * 3600 * 16000, 1, 16000, "long.wav")
    Traceback (most recent call last):
    ...
    ser_ref.errors.AudioError: long.wav: 3.0 hours of audio, longer than the 2-hour limit of one input file (split it)
    """
    if sample_rate > 0 and frames / sample_rate > MAX_SECONDS:
        raise AudioError(f"{name}: {frames / sample_rate / 3600:.1f} hours of audio, longer than the "
                         f"{MAX_SECONDS // 3600}-hour limit of one input file (split it)")
    if frames * channels > MAX_DECODED_SAMPLES:
        raise AudioError(f"{name}: {frames} frames x {channels} channels is more than the {MAX_DECODED_SAMPLES} "
                         f"samples one input file may decode to (split it or mix it down)")


def read_file(path) -> bytes:
    """The bytes of an input file, at most MAX_FILE_BYTES; a missing, unreadable or too large file, or
    one that is not a regular file (a FIFO, a device: never opened, so nothing blocks), is an
    AudioError (its own fault).

    >>> import tempfile
    >>> pipe = os.path.join(tempfile.mkdtemp(), "03-01-05-01-01-01-01.wav"); os.mkfifo(pipe)
    >>> read_file(pipe)
    Traceback (most recent call last):
    ...
    ser_ref.errors.AudioError: ...03-01-05-01-01-01-01.wav: not a regular file but a FIFO (named pipe); not opened
    """
    from ..files.regular import NotRegularFile, TooLarge, read_regular

    path = Path(path)
    try:
        return read_regular(path, MAX_FILE_BYTES, "audio file")
    except FileNotFoundError:
        raise AudioError(f"{path}: file not found") from None
    except (NotRegularFile, TooLarge) as exc:
        raise AudioError(str(exc)) from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def load_audio(path, target_sr: int = SAMPLE_RATE, *, min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """Read ``path`` as float32 mono at ``target_sr`` Hz, validated (see ``decode_audio``).

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
    return decode_audio(read_file(path), str(path), target_sr, min_samples=min_samples)

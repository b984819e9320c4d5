"""Assembly of the 88 eGeMAPS v02 functionals from the low-level descriptors.

Two families of LLDs meet here:
* energy/spectral LLDs on every 20 ms frame (this package: loudness, alpha ratio, Hammarberg
  index, spectral slopes, spectral flux, MFCC 1-4, frame energy), smoothed with ``sma3``;
* voice-source LLDs on the pitch frames (``voice.voice_llds``: F0, jitter, shimmer, HNR,
  H1-H2, H1-A3, formants), already ``sma3nz``-smoothed, 0 where unvoiced.

The functional each name asks for is in ``names.py`` and ``functionals.py``; the voiced /
unvoiced spectral variants zero the raw spectral LLD where F0 says the opposite voicing and
then apply ``sma3nz``, as openSMILE's cValbasedSelector + cContourSmoother chain does.
"""
from __future__ import annotations

import numpy as np

from ..frontend.audio import SAMPLE_RATE, check_signal, load_audio, resample
from ..errors import AudioError, SerRefError
from . import functionals as fn
from .energy import equivalent_sound_level, frame_energy
from ..frontend.framing import frame_signal
from .frames import BLOCK_FRAMES, FRAME_SEC, HOP_SEC, fft_magnitude, frame_blocks, hamming, next_pow2
from .loudness import loudness
from .mel import mel_power
from .names import ALL_FRAMES, CONTOUR, EGEMAPS_NAMES, SPECTRAL_UV, SPECTRAL_V, VOICED
from .opensmile_mfcc import opensmile_mfcc
from .smoothing import sma3, sma3nz
from .spectral import alpha_ratio, hammarberg_index, log_power_db, spectral_flux, spectral_slope

MIN_SAMPLES = 1600  # 100 ms: the 60 ms pitch window plus a few hops
F0_KEY = "F0semitoneFrom27.5Hz"
# the raw spectral LLD behind each voiced / unvoiced functional
_SPECTRAL_SOURCE = {
    "alphaRatioV": "alphaRatio", "hammarbergIndexV": "hammarbergIndex", "slopeV0-500": "slope0-500",
    "slopeV500-1500": "slope500-1500", "spectralFluxV": "spectralFlux", "mfcc1V": "mfcc1",
    "mfcc2V": "mfcc2", "mfcc3V": "mfcc3", "mfcc4V": "mfcc4",
    "alphaRatioUV": "alphaRatio", "hammarbergIndexUV": "hammarbergIndex", "slopeUV0-500": "slope0-500",
    "slopeUV500-1500": "slope500-1500", "spectralFluxUV": "spectralFlux",
}


def _validated(signal, sample_rate: int, name: str = "signal") -> np.ndarray:
    x = check_signal(signal, sample_rate, name=name, min_samples=1)
    if sample_rate != SAMPLE_RATE:
        x = resample(x, sample_rate, SAMPLE_RATE)
    if x.size < MIN_SAMPLES:
        raise AudioError(f"{name}: {x.size} samples at {SAMPLE_RATE} Hz is shorter than the "
                         f"{MIN_SAMPLES}-sample minimum eGeMAPS needs (100 ms)")
    return x


def spectral_llds(signal, sample_rate: int = SAMPLE_RATE, block: int = BLOCK_FRAMES) -> dict[str, np.ndarray]:
    """Unsmoothed energy/spectral LLDs, one value per 20 ms frame (hop 10 ms), float64.

    Keys: Loudness, alphaRatio, hammarbergIndex, slope0-500, slope500-1500, spectralFlux,
    mfcc1..mfcc4, energy (mean square of the raw frame, for Leq). The frames go through in blocks
    of ``block`` (each LLD is per frame; the flux's previous frame is computed again at a block's
    start), so a long signal costs memory for a block, not for its spectra, with the same bits.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
    >>> llds = spectral_llds(x.astype(np.float32))
    >>> len(llds["Loudness"]), sorted(llds)[:3]
    (49, ['Loudness', 'alphaRatio', 'energy'])
    >>> blocked = spectral_llds(x.astype(np.float32), block=5)
    >>> all(np.array_equal(blocked[k], llds[k]) for k in llds)
    True
    """
    x = _validated(signal, sample_rate)
    size, hop = int(round(FRAME_SEC * SAMPLE_RATE)), int(round(HOP_SEC * SAMPLE_RATE))
    n = max(0, 1 + (len(x) - size) // hop)
    out = {}
    for t0, t1 in frame_blocks(n, block):
        first = max(t0 - 1, 0)  # the flux of frame t0 needs frame t0 - 1's spectrum
        part = _spectral_block(x[first * hop:(t1 - 1) * hop + size].astype(np.float64))
        for k, v in part.items():
            if k not in out:
                out[k] = np.empty(n)
            out[k][t0:t1] = v[t0 - first:]
    return out


def _spectral_block(seg: np.ndarray) -> dict[str, np.ndarray]:
    """The spectral LLDs of every 20 ms frame of ``seg`` (float64, 16 kHz); the flux of its first
    frame is 0 (no frame before it here)."""
    frames = frame_signal(seg, int(round(FRAME_SEC * SAMPLE_RATE)), int(round(HOP_SEC * SAMPLE_RATE)))
    mag = fft_magnitude(frames, hamming(frames.shape[1]))
    df = SAMPLE_RATE / next_pow2(frames.shape[1])
    mel = mel_power(mag, df)
    c = opensmile_mfcc(mag, df, mel=mel)
    L = log_power_db(mag)
    out = {
        "Loudness": loudness(mag, df, mel=mel),
        "alphaRatio": alpha_ratio(mag, df),
        "hammarbergIndex": hammarberg_index(mag, df),
        "slope0-500": spectral_slope(mag, df, 0.0, 500.0, log_db=L),
        "slope500-1500": spectral_slope(mag, df, 500.0, 1500.0, log_db=L),
        "spectralFlux": spectral_flux(mag, df),
    }
    for i in range(4):
        out[f"mfcc{i + 1}"] = c[:, i]
    out["energy"] = frame_energy(frames.astype(np.float64))
    return out


def _voice_llds(x: np.ndarray) -> dict[str, np.ndarray]:
    from .voice import voice_llds

    return voice_llds(x, SAMPLE_RATE)


def egemaps_from_llds(spec: dict[str, np.ndarray], voice: dict[str, np.ndarray]) -> np.ndarray:
    """The 88 functionals (float64, EGEMAPS_NAMES order) from raw spectral and smoothed voice LLDs.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
    >>> from ser_ref.egemaps.voice import voice_llds
    >>> x = x.astype(np.float32)
    >>> f = egemaps_from_llds(spectral_llds(x), voice_llds(x))
    >>> f.shape, bool(np.allclose(f.astype(np.float32), egemaps(x)))
    ((88,), True)
    """
    out: dict[str, float] = {}
    f0 = np.asarray(voice[F0_KEY], dtype=np.float64)
    voiced = f0 != 0
    n_v = len(f0)

    def contour(prefix: str, c: np.ndarray):
        p = fn.percentiles(c)
        pk = fn.peaks2(c)
        vals = (fn.amean(c), fn.stddev_norm(c), p[0], p[1], p[2], p[2] - p[0], pk[1], pk[2], pk[3], pk[4])
        out.update({f"{prefix}_{k}": v for k, v in zip(CONTOUR, vals)})
        return pk

    contour(f"{F0_KEY}_sma3nz", f0[voiced])
    loud = sma3(spec["Loudness"])
    loud_pk = contour("loudness_sma3", loud)

    for name in ALL_FRAMES:
        c = sma3(spec[name])
        out[f"{name}_sma3_amean"] = fn.amean(c)
        out[f"{name}_sma3_stddevNorm"] = fn.stddev_norm(c)
    for name in VOICED:
        c = np.asarray(voice[name], dtype=np.float64)
        c = c[c != 0]
        out[f"{name}_sma3nz_amean"] = fn.amean(c)
        out[f"{name}_sma3nz_stddevNorm"] = fn.stddev_norm(c)

    # openSMILE joins F0 and the spectral frames on the shorter (pitch) frame grid; its
    # unvoiced level (like the segment functionals below) ends 2 frames earlier - measured
    # against opensmile 2.6: this makes spectralFluxUV agree to 1e-4 instead of 4e-3
    for vname in SPECTRAL_V + SPECTRAL_UV:
        is_v = vname in SPECTRAL_V
        n = min(n_v if is_v else n_v - 2, len(spec["Loudness"]))
        raw = spec[_SPECTRAL_SOURCE[vname]][:n]
        keep = voiced[:n] if is_v else ~voiced[:n]
        c = sma3nz(np.where(keep, raw, 0.0))
        c = c[c != 0]
        out[f"{vname}_sma3nz_amean"] = fn.amean(c)
        if is_v:
            out[f"{vname}_sma3nz_stddevNorm"] = fn.stddev_norm(c)

    # temporal set: openSMILE's segment functionals see the F0 contour minus its last 2 frames
    f0_seg = f0[:max(n_v - 2, 0)]
    v_rate, v_mean, v_std = fn.segment_stats(f0_seg != 0, seg_min=3, pause_min=2)
    _, u_mean, u_std = fn.segment_stats(f0_seg == 0, seg_min=3, pause_min=2)
    out.update({
        "loudnessPeaksPerSec": loud_pk[0],
        "VoicedSegmentsPerSec": v_rate, "MeanVoicedSegmentLengthSec": v_mean,
        "StddevVoicedSegmentLengthSec": v_std, "MeanUnvoicedSegmentLength": u_mean,
        "StddevUnvoicedSegmentLength": u_std,
        "equivalentSoundLevel_dBp": equivalent_sound_level(spec["energy"]),
    })
    return np.array([out[k] for k in EGEMAPS_NAMES], dtype=np.float64)


def egemaps(signal, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The 88 eGeMAPS v02 functionals of one mono signal, float32, in EGEMAPS_NAMES order.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
    >>> from ser_ref.egemaps import EGEMAPS_NAMES
    >>> f = egemaps(x.astype(np.float32))
    >>> f.shape, EGEMAPS_NAMES[0], round(float(f[0]), 1)       # F0 mean: 12 log2(200 / 27.5) = 34.4
    ((88,), 'F0semitoneFrom27.5Hz_sma3nz_amean', 34.4)
    """
    x = _validated(signal, sample_rate)
    voice = _voice_llds(x)  # first: its pitch blocks are the largest, and no other contour is held yet
    feats = egemaps_from_llds(spectral_llds(x), voice)
    if not np.all(np.isfinite(feats)):
        bad = [EGEMAPS_NAMES[i] for i in np.flatnonzero(~np.isfinite(feats))]
        raise SerRefError(f"eGeMAPS produced non-finite values for {bad}")
    return feats.astype(np.float32)


def _file_features(path) -> np.ndarray:
    try:
        return egemaps(load_audio(path, min_samples=MIN_SAMPLES))
    except SerRefError as exc:
        if str(path) in str(exc):
            raise
        raise type(exc)(f"{path}: {exc}") from exc


def egemaps_files(paths, *, executor=None) -> np.ndarray:
    """float32 (n, 88): egemaps() of every file; ``executor`` is anything with ``.map`` (e.g. a
    concurrent.futures pool), None runs serially. Errors name the file.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
    >>> import os, tempfile, soundfile as sf
    >>> p = os.path.join(tempfile.mkdtemp(), "a.wav"); sf.write(p, x, 16000)
    >>> egemaps_files([p, p]).shape
    (2, 88)
    >>> egemaps_files([p + ".missing"])
    Traceback (most recent call last):
    ...
    ser_ref.errors.AudioError: ...a.wav.missing: file not found
    """
    paths = list(paths)
    if not paths:
        return np.zeros((0, len(EGEMAPS_NAMES)), dtype=np.float32)
    rows = list(executor.map(_file_features, paths)) if executor is not None else [_file_features(p) for p in paths]
    return np.stack(rows).astype(np.float32)

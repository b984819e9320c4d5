"""The 15 voice-source low-level descriptors of eGeMAPS v02, smoothed as openSMILE's ``_sma3nz``.

One call runs the whole chain on a 16 kHz signal:

    pitch.f0_track        F0 (Hz) + Gaussian 60 ms spectra       -> F0semitoneFrom27.5Hz
    voice_quality          jitter / shimmer by period marking,     -> jitterLocal, shimmerLocaldB,
                           HNR from the ACF                            HNRdBACF
    formants               LPC(11) roots at 11 kHz                  -> F1..F3 frequency, bandwidth
    harmonics              harmonic peaks of the 60 ms spectrum     -> H1-H2, H1-A3, F1..F3 amplitude

Frame t starts at sample 160 t; there are floor(n / 160) - 4 frames, as in openSMILE's output.
F0 = 0 marks an unvoiced frame; jitter, shimmer, HNR, H1-H2 and H1-A3 are 0 there, formant
frequencies and bandwidths are zeroed there too (openSMILE's formantsNz, the copy its
functionals read), and the formant amplitudes are -201 there (openSMILE's unvoiced floor,
which its functionals do include). Every contour is then smoothed with ``sma3nz``:
y[t] = mean of the non-zero values among x[t-1], x[t], x[t+1]; y[t] = 0 where x[t] = 0.
"""
from __future__ import annotations

import numpy as np

from ..frontend.audio import check_signal
from ..errors import AudioError
from . import formants as _formants
from . import harmonics as _harmonics
from . import pitch as _pitch
from . import voice_quality as _vq
from .frames import BLOCK_FRAMES, frame_blocks
from .smoothing import sma3nz

VOICE_NAMES = (
    "F0semitoneFrom27.5Hz", "jitterLocal", "shimmerLocaldB", "HNRdBACF",
    "logRelF0-H1-H2", "logRelF0-H1-A3",
    "F1frequency", "F1bandwidth", "F1amplitudeLogRelF0",
    "F2frequency", "F2bandwidth", "F2amplitudeLogRelF0",
    "F3frequency", "F3bandwidth", "F3amplitudeLogRelF0",
)
MIN_SAMPLES = _pitch.PITCH_FRAME  # one 60 ms pitch frame


def voice_llds_raw(signal, sample_rate: int = 16000, fast: bool = True,
                   block: int = BLOCK_FRAMES) -> dict[str, np.ndarray]:
    """The 15 voice LLDs before smoothing, plus 'F0Hz' (the voicing decision, F0 in Hz).

    A long signal goes through in blocks of ``block`` frames, twice: the F0 candidates of every
    block, the Viterbi path over all of them, then jitter, shimmer, HNR, formants and harmonics
    block by block (the spectra computed again). Only the per-frame contours grow with the length;
    every number is the same as in one piece (each step is per frame, or carries its state over).

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
    >>> raw = voice_llds_raw(x)
    >>> len(raw), round(float(np.median(raw["F0Hz"][raw["F0Hz"] > 0])))
    (16, 200)
    >>> blocked = voice_llds_raw(x, block=7)
    >>> all(np.array_equal(blocked[k], raw[k]) for k in raw)
    True
    """
    if sample_rate != _pitch.SR:
        raise AudioError(f"signal: voice LLDs need {_pitch.SR} Hz audio, got {sample_rate} Hz "
                         "(resample with ser_ref.frontend.audio.resample)")
    x = check_signal(signal, sample_rate, name="signal", min_samples=MIN_SAMPLES)  # float32; float64 per block
    t = _pitch.n_frames(len(x))
    f0c, vc, rms = np.zeros((t, _pitch.N_CANDIDATES)), np.zeros((t, _pitch.N_CANDIDATES)), np.zeros(t)
    for t0, t1 in frame_blocks(t, block):
        f0c[t0:t1], vc[t0:t1], rms[t0:t1] = _pitch.candidates(x, t0, t1, fast=fast)[:3]
    f0 = _pitch.choose_f0(f0c, vc, rms, fast=fast)
    del f0c, vc, rms
    voiced = f0 > 0
    jit, shim = _vq.jitter_shimmer(x, f0, fast=fast, block=block)
    # HNR, formants and harmonics are 0 / gated / floored on unvoiced frames: compute the
    # voiced frames only
    hnr = np.zeros(t)
    fc, bw = np.zeros((t, 3)), np.zeros((t, 3))
    harm = np.zeros((t, 5))
    for t0, t1 in frame_blocks(t, block):
        mag = _pitch.gauss_spectrum(_pitch.pitch_frames_at(x, t0, t1))[1]  # the windowed frames freed at once
        v = voiced[t0:t1]
        hnr[t0:t1][v] = _vq.hnr_acf_db(mag[v], f0[t0:t1][v])
        seg = x[t0 * _pitch.HOP:(t1 - 1) * _pitch.HOP + _formants.FRAME].astype(np.float64)
        fc[t0:t1][v], bw[t0:t1][v] = _formants.formants(seg, t1 - t0, fast=fast, frames=np.flatnonzero(v))
        harm[t0:t1] = _harmonics.harmonic_features(mag, f0[t0:t1], fc[t0:t1])
    out = {
        "F0Hz": f0,
        "F0semitoneFrom27.5Hz": _pitch.semitones(f0),
        "jitterLocal": jit,
        "shimmerLocaldB": shim,
        "HNRdBACF": hnr,
        "logRelF0-H1-H2": harm[:, 0],
        "logRelF0-H1-A3": harm[:, 1],
    }
    for i in range(3):
        out[f"F{i + 1}frequency"] = np.where(voiced, fc[:, i], 0.0)
        out[f"F{i + 1}bandwidth"] = np.where(voiced, bw[:, i], 0.0)
        out[f"F{i + 1}amplitudeLogRelF0"] = harm[:, 2 + i]
    return out


def voice_llds(signal, sample_rate: int = 16000) -> dict[str, np.ndarray]:
    """Voice-source LLDs of eGeMAPS v02, each float64 (floor(n/160) - 4,), smoothed by sma3nz.

    Keys (in this order): F0semitoneFrom27.5Hz, jitterLocal, shimmerLocaldB, HNRdBACF,
    logRelF0-H1-H2, logRelF0-H1-A3, F{1,2,3}frequency, F{1,2,3}bandwidth,
    F{1,2,3}amplitudeLogRelF0.  0.0 marks unvoiced frames (F0 semitone == 0).
    Raises AudioError for NaN/inf, silence, a wrong rate or fewer than 960 samples.

    Examples
    --------
    >>> from ser_ref.egemaps.frames import harmonic_tone
    >>> x = harmonic_tone()                         # 0.5 s, F0 200 Hz, five harmonics
    >>> v = voice_llds(x)
    >>> len(v), v["F0semitoneFrom27.5Hz"].shape
    (15, (46,))
    """
    raw = voice_llds_raw(signal, sample_rate)
    return {name: sma3nz(raw.pop(name)) for name in VOICE_NAMES}  # each raw contour freed once smoothed

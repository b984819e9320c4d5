"""Voice-source LLDs of eGeMAPS v02 (ser_ref.egemaps.voice and its helper modules).

Generated signals with known truth (tone F0, harmonic levels, jitter / shimmer of pulse trains,
HNR ordering, LPC poles, a resonator's formant), fast paths against their references, bad
input, and frame-by-frame agreement with openSMILE on real RAVDESS speech.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from conftest import needs
from ser_ref.errors import AudioError
from ser_ref.egemaps import formants as F
from ser_ref.egemaps import pitch, voice
from ser_ref.egemaps import voice_quality as vq

SR = 16000


def harmonic_complex(f0, amps, dur=1.0, phase=None):
    t = np.arange(int(dur * SR)) / SR
    ph = np.zeros(len(amps)) if phase is None else phase
    return sum(a * np.sin(2 * np.pi * (h + 1) * f0 * t + ph[h]) for h, a in enumerate(amps))


def pulse_train(periods, amps=None):
    """Smoothed impulses at the given integer periods through one fixed resonance."""
    x = np.zeros(int(np.sum(periods)) + 400)
    pos = 200
    for i, p in enumerate(periods):
        x[pos] = 1.0 if amps is None else amps[i]
        pos += int(p)
    x = np.convolve(x, np.hanning(21), "same")
    x = sps.lfilter([1.0], [1.0, -1.3, 0.8], x)
    return 0.3 * x / np.abs(x).max()


def local_jitter(periods):
    return np.mean(np.abs(np.diff(periods))) / np.mean(periods)


# ------------------------------------------------------------------ contract

def test_contract_keys_lengths_and_zeros(rng):
    x = 0.1 * harmonic_complex(180.0, [1, 0.6, 0.3, 0.2]) + 0.001 * rng.standard_normal(SR)
    out = voice.voice_llds(x, SR)
    assert tuple(out) == voice.VOICE_NAMES
    n = SR // 160 - 4
    for name, v in out.items():
        assert v.dtype == np.float64 and v.shape == (n,), name
        assert np.all(np.isfinite(v)), name
    unvoiced = out["F0semitoneFrom27.5Hz"] == 0
    for name in ("jitterLocal", "shimmerLocaldB", "HNRdBACF", "logRelF0-H1-H2", "logRelF0-H1-A3",
                 "F1frequency", "F2bandwidth"):
        assert np.all(out[name][unvoiced] == 0), name
    again = voice.voice_llds(x, SR)
    for name in out:
        np.testing.assert_array_equal(out[name], again[name])


def test_frame_count_matches_opensmile_rule():
    for n in (960, 3200, 3359, 3360, 16161, 52853):
        assert pitch.n_frames(n) == n // 160 - 4


# ------------------------------------------------------------------ F0

@pytest.mark.parametrize("f0", [110.0, 220.0, 330.0])
def test_pure_tone_semitones(f0):
    x = 0.3 * np.sin(2 * np.pi * f0 * np.arange(SR) / SR)
    st = voice.voice_llds(x, SR)["F0semitoneFrom27.5Hz"]
    voiced = st > 0
    assert voiced.mean() > 0.9
    assert np.median(st[voiced]) == pytest.approx(12 * np.log2(f0 / 27.5), abs=0.1)


def test_semitone_scale_definition():
    f = np.array([0.0, 10.0, 29.136, 27.5 * 2, 440.0])
    np.testing.assert_allclose(pitch.semitones(f), [0.0, 1.0, 1.0, 12.0, 12 * np.log2(16)])


def test_quiet_noise_is_unvoiced(rng):
    # RMS of the Gaussian-windowed frame below 0.001 -> openSMILE's energy gate zeroes F0
    out = voice.voice_llds(1e-4 * rng.standard_normal(SR), SR)
    assert np.all(out["F0semitoneFrom27.5Hz"] == 0)
    assert np.all(out["F1amplitudeLogRelF0"] == -201.0)


# ------------------------------------------------------------------ harmonics

def test_h1_h2_of_harmonic_complex(rng):
    # openSMILE parses "H1-H2" as harmonic indices 1 and 2 counted from 0 = the F0 peak,
    # i.e. 20 log10(a_2 / a_3) in the usual numbering of harmonic amplitudes a_1, a_2, ...
    amps = np.array([1.0, 0.5, 0.25, 0.2, 0.1])
    x = 0.1 * harmonic_complex(150.0, amps, phase=rng.uniform(0, 2 * np.pi, amps.size))
    raw = voice.voice_llds_raw(x, SR)
    v = raw["F0Hz"] > 0
    assert v.mean() > 0.9
    assert np.median(raw["logRelF0-H1-H2"][v]) == pytest.approx(20 * np.log10(0.5 / 0.25), abs=0.3)


def test_hnr_orders_clean_over_noisy(rng):
    x = 0.1 * harmonic_complex(150.0, [1, 0.5, 0.25, 0.125])
    med = []
    for snr_db in (40, 10, 3):
        n = rng.standard_normal(x.size)
        n *= np.std(x) / np.std(n) * 10 ** (-snr_db / 20)
        raw = voice.voice_llds_raw(x + n, SR)
        v = raw["F0Hz"] > 0
        med.append(np.median(raw["HNRdBACF"][v]))
    assert med[0] > med[1] > med[2]


def test_hnr_formula_on_a_known_acf():
    # r = ACF of a frame whose spectrum is known: |X_k|^2 = 1 + c cos(2 pi k tau / N) gives
    # r[0] = N, r[tau] = c N / 2, so HNR = 10 log10((c/2) / (1 - c/2))
    n_fft, tau, c = pitch.N_FFT, 100, 0.8
    k = np.arange(n_fft // 2 + 1)
    mag = np.sqrt(1.0 + c * np.cos(2 * np.pi * k * tau / n_fft))[None, :]
    hnr = vq.hnr_acf_db(mag, np.array([SR / tau]))
    assert hnr[0] == pytest.approx(10 * np.log10((c / 2) / (1 - c / 2)), abs=1e-6)


# ------------------------------------------------------------------ jitter / shimmer

def test_jitter_of_pulse_trains(rng):
    measured, truth = [], []
    for d in (0.0, 0.02, 0.04):
        per = np.round(100 * (1 + d * rng.choice([-1, 1], 200))).astype(int)
        raw = voice.voice_llds_raw(pulse_train(per), SR)
        v = raw["F0Hz"] > 0
        assert v.mean() > 0.9
        measured.append(raw["jitterLocal"][v].mean())
        truth.append(local_jitter(per))
    assert measured[0] < 0.002  # a strictly periodic train has (almost) no jitter
    assert measured[0] < measured[1] < measured[2]
    assert measured[2] == pytest.approx(truth[2], rel=0.25)


def test_shimmer_of_pulse_trains():
    measured, truth = [], []
    for s in (0.0, 0.05, 0.1):
        amps = 1 + s * np.tile([1.0, -1.0], 100)
        raw = voice.voice_llds_raw(pulse_train(np.full(200, 100), amps), SR)
        v = raw["F0Hz"] > 0
        measured.append(np.median(raw["shimmerLocaldB"][v]))
        truth.append(20 * np.log10(1 + np.mean(np.abs(np.diff(amps))) / np.mean(amps)))
    assert measured[0] == pytest.approx(0.0, abs=1e-6)
    assert measured[0] < measured[1] < measured[2]
    # peak-to-peak per period also sees the neighbouring pulse's decay: biased low, not wrong way
    assert 0.6 * truth[2] < measured[2] < 1.1 * truth[2]


# ------------------------------------------------------------------ LPC and formants

def _poles(f, b, fs):
    r = np.exp(-np.pi * b / fs)
    return [r * np.exp(2j * np.pi * f / fs), r * np.exp(-2j * np.pi * f / fs)]


def test_lpc_frames_follow_the_resampling_equation(rng):
    # y_t[i] = (1/256) sum_{k<110} Re(X_t[k] e^{2 pi j k i / 352}), X_t = FFT_512(pad96(w * frame_t))
    x = rng.standard_normal(2000)
    y = F.lpc_frames(x, 5)
    k = np.arange(110)[:, None]
    i = np.arange(220)[None, :]
    for t in range(5):
        buf = np.zeros(512)
        buf[96:416] = x[160 * t:160 * t + 320] * F.hamming(320)
        spec = np.fft.rfft(buf)[:110]
        direct = (spec[:, None] * np.exp(2j * np.pi * k * i / 352)).real.sum(axis=0) / 256
        np.testing.assert_allclose(y[t], direct, rtol=1e-9, atol=1e-12)


def test_levinson_solves_the_normal_equations(rng):
    r = F.autocorr(rng.standard_normal((5, 300)))
    a = F.levinson(r)
    p = a.shape[1]
    for t in range(r.shape[0]):
        R = np.array([[r[t, abs(i - k)] for k in range(p)] for i in range(p)])
        np.testing.assert_allclose(R @ a[t], -r[t, 1:], rtol=1e-8, atol=1e-8)


def test_lpc_roots_recover_ar_poles(rng):
    poles = _poles(900.0, 60.0, 11000) + _poles(2500.0, 90.0, 11000)
    den = np.real(np.poly(poles))
    x = sps.lfilter([1.0], den, rng.standard_normal(200_000))
    a = F.levinson(F.autocorr(x[None, :], p=4))
    np.testing.assert_allclose(a[0], den[1:], atol=0.01)
    roots = F.lpc_roots(a)[0]
    for p in poles:
        assert np.min(np.abs(roots - p)) < 0.01


def test_polish_roots_compiled_matches_interpreted_and_numpy(rng):
    a = rng.normal(scale=0.3, size=(6, 11))
    fast = F.lpc_roots(a, fast=True)
    ref = F.lpc_roots(a, fast=False)
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-12)
    for t in range(a.shape[0]):
        expect = np.roots(np.concatenate([[1.0], a[t]]))
        for z in expect:
            assert np.min(np.abs(fast[t] - z)) < 1e-8


def test_resonator_formant(rng):
    den = np.real(np.poly(_poles(700.0, 80.0, SR) + _poles(1800.0, 120.0, SR)))
    x = sps.lfilter([1.0], den, rng.standard_normal(SR))
    x = 0.3 * x / np.abs(x).max()
    fc, _ = F.formants(x, pitch.n_frames(x.size), opensmile_sign=False)
    assert np.median(fc[:, 0]) == pytest.approx(700.0, rel=0.1)
    # order 11 for a 4-pole process leaves spare roots; the 1800 Hz one must still be found
    nearest = np.min(np.abs(fc - 1800.0), axis=1)
    assert np.median(nearest) < 0.1 * 1800.0


# ------------------------------------------------------------------ fast paths vs references

def _candidates(x):
    frames = pitch.pitch_frames(x)
    _, mag = pitch.gauss_spectrum(frames)
    _, ppo, fmin_t, step, *_ = pitch.octave_axis()
    return pitch.shs_spectrum(pitch.octave_spectrum(mag), ppo), fmin_t, step


def test_octave_spline_sweep_matches_dense_operator(rng):
    mag = np.abs(rng.standard_normal((7, pitch.N_BINS))) ** 2
    np.testing.assert_allclose(pitch.octave_spectrum(mag, fast=True), pitch.octave_spectrum(mag, fast=False),
                               rtol=1e-9, atol=1e-12)


def test_shs_and_viterbi_compiled_match_interpreted(rng):
    """Numba-compiled vs the same source interpreted (fast=False): catches compilation and typing
    differences, not math (that is test_agrees_with_opensmile_*); plus the SHS peak sanity checks."""
    x = 0.1 * harmonic_complex(140.0, [1, 0.7, 0.4, 0.2], dur=0.6)
    x = np.concatenate([x, 0.05 * rng.standard_normal(4000), 0.1 * harmonic_complex(230.0, [1, 0.3], dur=0.4)])
    ss, fmin_t, step = _candidates(x)
    fast = pitch.shs_candidates(ss, fmin_t, step, fast=True)
    ref = pitch.shs_candidates(ss, fmin_t, step, fast=False)
    for a, b in zip(fast, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    # independent check of the top candidate: the highest SHS peak in range, refined
    f0c, vc, sc = fast
    voiced = vc[:, 0] > pitch.VOICING_CUTOFF
    assert voiced.sum() > 20
    s_fast = pitch.viterbi_path(f0c, vc, fast=True)
    np.testing.assert_array_equal(s_fast, pitch.viterbi_path(f0c, vc, fast=False))
    assert np.all(s_fast < pitch.N_CANDIDATES + 1)


def test_viterbi_prefers_continuity():
    # two candidates per frame with equal voicing: one jumping 150 <-> 300 Hz (listed first),
    # one steady at 200 Hz; the smoother must follow the steady one everywhere
    t = 30
    f0c = np.zeros((t, pitch.N_CANDIDATES))
    vc = np.zeros((t, pitch.N_CANDIDATES))
    f0c[:, 0] = np.where(np.arange(t) % 2 == 0, 300.0, 150.0)
    f0c[:, 1] = 200.0
    vc[:, :2] = 0.9
    state = pitch.viterbi_path(f0c, vc)
    chosen = f0c[np.arange(t), state]
    assert np.all(chosen == 200.0)


def test_jitter_compiled_matches_interpreted(rng):
    """Numba-compiled vs the same source interpreted: checks the compilation, not the math."""
    per = np.round(100 * (1 + 0.03 * rng.choice([-1, 1], 60))).astype(int)
    x = pulse_train(per)
    f0, _ = pitch.f0_track(x)
    np.testing.assert_allclose(vq.jitter_shimmer(x, f0, fast=True), vq.jitter_shimmer(x, f0, fast=False),
                               rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("bad, msg", [
    (np.full(SR, np.nan), "NaN"),
    (np.zeros(SR), "zero"),
    (np.ones(500) * 0.1, "shorter"),
])
def test_bad_input_raises(bad, msg):
    with pytest.raises(AudioError, match=msg):
        voice.voice_llds(bad, SR)


def test_wrong_rate_raises():
    with pytest.raises(AudioError, match="16000"):
        voice.voice_llds(np.ones(SR), 8000)


# ------------------------------------------------------------------ openSMILE agreement

def _opensmile_llds(opensmile, x):
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
    return smile.process_signal(x, SR)


def test_agrees_with_opensmile_on_real_speech(ravdess_files):
    from ser_ref.frontend.audio import load_audio

    for path in ravdess_files[:: max(1, len(ravdess_files) // 2)][:2]:
        _check_voice_llds(load_audio(path))


def test_agrees_with_opensmile_on_synthetic_voices(voices):
    for x in voices:
        _check_voice_llds(x)


def _check_voice_llds(x):
    """Pitch, jitter, shimmer, HNR, harmonic ratios frame by frame; formants correlated."""
    opensmile = needs("opensmile")
    ref = _opensmile_llds(opensmile, x)
    out = voice.voice_llds(x, SR)
    st_ref = ref["F0semitoneFrom27.5Hz_sma3nz"].to_numpy()
    assert len(st_ref) == len(out["F0semitoneFrom27.5Hz"])
    voiced = (st_ref > 0) & (out["F0semitoneFrom27.5Hz"] > 0)
    assert np.mean((st_ref > 0) == (out["F0semitoneFrom27.5Hz"] > 0)) > 0.98
    for name in ("F0semitoneFrom27.5Hz", "jitterLocal", "shimmerLocaldB", "HNRdBACF",
                 "logRelF0-H1-H2", "logRelF0-H1-A3"):
        r = ref[name + "_sma3nz"].to_numpy()
        close = np.isclose(out[name][voiced], r[voiced], rtol=1e-3, atol=1e-3)
        assert close.mean() > 0.95, name
    # formant frequencies: openSMILE's LLD csv smooths ungated values, so compare frames
    # whose neighbours are voiced too
    inner = voiced.copy()
    inner[1:] &= voiced[:-1]
    inner[:-1] &= voiced[1:]
    for name in ("F1frequency", "F2frequency", "F3frequency"):
        r = ref[name + "_sma3nz"].to_numpy()
        assert np.corrcoef(out[name][inner], r[inner])[0, 1] > 0.95, name


@pytest.mark.slow
def test_all_ravdess_files_agree_with_opensmile(ravdess_files):
    opensmile = needs("opensmile")
    from ser_ref.frontend.audio import load_audio

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
    agree = total = 0
    ours, theirs = {n: [] for n in voice.VOICE_NAMES[:6]}, {n: [] for n in voice.VOICE_NAMES[:6]}
    for path in ravdess_files:
        x = load_audio(path)
        ref = smile.process_signal(x, SR)
        out = voice.voice_llds(x, SR)
        ov = out["F0semitoneFrom27.5Hz"] > 0
        rv = ref["F0semitoneFrom27.5Hz_sma3nz"].to_numpy() > 0
        assert ov.size == rv.size, path
        agree += int(np.sum(ov == rv))
        total += ov.size
        both = ov & rv
        for name in ours:
            ours[name].append(out[name][both])
            theirs[name].append(ref[name + "_sma3nz"].to_numpy()[both])
    assert agree / total > 0.999
    for name in ours:
        r = np.corrcoef(np.concatenate(ours[name]), np.concatenate(theirs[name]))[0, 1]
        assert r > 0.999, (name, r)

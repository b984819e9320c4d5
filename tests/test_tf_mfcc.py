"""MFCC: against the model file's own MFCC sub-graph (the oracle), a loop transcription of
TensorFlow's C++ (the reference), and closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ser_ref.frontend.audio import load_audio
from ser_ref.runtime.backend import gpu_available
from ser_ref.errors import AudioError
from ser_ref.frontend.framing import frame_signal
from ser_ref.frontend.tf_mfcc import dct_matrix, hann_window, mel_bands, mfcc, mfcc_reference, tf_hz_to_mel, tf_mel_filterbank

TOL = 1e-4  # max |ours - model's mfccs|: float32 rounding of the log-mel, far below any feature's scale (measured: 0)


# ---------- a plain, loop-by-loop transcription of TF's MfccMelFilterbank / MfccDct (reference) ----------

def tf_filterbank_loop(power, sample_rate=16000, n_ch=40, lo=20.0, hi=8000.0):
    n = len(power)
    mel = lambda f: 1127.0 * math.log1p(f / 700.0)  # noqa: E731
    mel_lo, mel_hi = mel(lo), mel(hi)
    spacing = (mel_hi - mel_lo) / (n_ch + 1)
    centres = [mel_lo + spacing * (i + 1) for i in range(n_ch + 1)]
    hz = 0.5 * sample_rate / (n - 1)
    start, end = int(1.5 + lo / hz), int(hi / hz)
    band, channel = [-2] * n, 0
    for i in range(n):
        if start <= i <= end:
            while channel < n_ch and centres[channel] < mel(i * hz):
                channel += 1
            band[i] = channel - 1
    out = [0.0] * n_ch
    for i in range(start, end + 1):
        c = band[i]
        w = ((centres[c + 1] - mel(i * hz)) / (centres[c + 1] - centres[c]) if c >= 0
             else (centres[0] - mel(i * hz)) / (centres[0] - mel_lo))
        v = math.sqrt(power[i])
        if c >= 0:
            out[c] += v * w
        if c + 1 < n_ch:
            out[c + 1] += v - v * w
    return out


def tf_mfcc_loop(frame):
    w = [0.5 - 0.5 * math.cos(2 * math.pi * n / 512) for n in range(512)]
    X = np.fft.rfft(np.asarray(frame, np.float64) * w, 512)
    power = (X.real ** 2 + X.imag ** 2).astype(np.float32).astype(np.float64)
    logs = [math.log(max(e, 1e-12)) for e in tf_filterbank_loop(power)]
    return [math.sqrt(2 / 40) * sum(logs[j] * math.cos(math.pi / 40 * i * (j + 0.5)) for j in range(40))
            for i in range(26)]


def test_vectorised_matches_loop_reference(rng):
    x = rng.normal(0, 0.1, 16000).astype(np.float32)
    ours = mfcc(x)
    for t in (0, 7, ours.shape[0] - 1):
        ref = np.array(tf_mfcc_loop(x[t * 320:t * 320 + 512]))
        np.testing.assert_allclose(ours[t], ref, atol=2e-5, rtol=0)


@pytest.mark.parametrize("kwargs", [{}, dict(step_ms=10), dict(win_ms=25, step_ms=10),
                                    dict(n_mfcc=13, n_mels=26, fmin=100.0, fmax=4000.0)])
def test_numba_path_matches_numpy_reference(kwargs, rng):
    # the fast path windows in the frequency domain (3-tap Hann) unless win < FFT length
    x = (rng.normal(0, 0.2, 20000) * np.linspace(0, 1, 20000) ** 3).astype(np.float32)
    np.testing.assert_allclose(mfcc(x, **kwargs), mfcc_reference(x, **kwargs), atol=2e-5, rtol=0)


def test_blocks_and_threads_change_nothing(rng, monkeypatch):
    import ser_ref.frontend.tf_mfcc as m

    x = rng.normal(0, 0.2, 40000).astype(np.float32)
    whole = mfcc(x)
    for block, workers in ((7, 2), (7, 1), (1, 2)):  # many blocks, a remainder, threads or not
        monkeypatch.setattr(m, "_BLOCK", block)
        monkeypatch.setattr(m, "_WORKERS", workers)
        np.testing.assert_array_equal(mfcc(x), whole)
    np.testing.assert_allclose(whole, mfcc_reference(x), atol=2e-5, rtol=0)


def test_sparse_bands_are_the_matrix():
    k, band, w = mel_bands(257, 16000)
    H = tf_mel_filterbank(257, 16000)
    for kk, b, ww in zip(k, band, w):
        if b >= 0:
            assert H[kk, b] == ww
        if b + 1 < 40:
            assert H[kk, b + 1] == 1 - ww


# ---------- closed forms ----------

def test_frame_count_and_steps(rng):
    x = rng.normal(size=16000 + 123).astype(np.float32)
    for step_ms, step in ((20, 320), (10, 160)):
        assert mfcc(x, step_ms=step_ms).shape == (1 + (x.size - 512) // step, 26)
    # every other 10 ms frame is a 20 ms frame
    np.testing.assert_array_equal(mfcc(x, step_ms=10)[::2][: mfcc(x).shape[0]], mfcc(x))
    assert mfcc(x[:512]).shape == (1, 26)


def test_window_is_periodic_hann():
    w = hann_window(512)
    assert w[0] == 0 and abs(w[256] - 1) < 1e-15
    np.testing.assert_allclose(w[1:], w[1:][::-1], atol=1e-15)  # periodic: symmetric about n = L/2
    np.testing.assert_allclose(w, np.hanning(513)[:512], atol=1e-12)


def test_filterbank_partition_of_unity():
    H = tf_mel_filterbank(257, 16000, 40, 20.0, 8000.0)
    hz = 8000 / 256
    centres_hz = 700 * np.expm1((tf_hz_to_mel(20) + np.arange(1, 41) * (tf_hz_to_mel(8000) - tf_hz_to_mel(20)) / 41) / 1127)
    inner = np.arange(257)[(np.arange(257) * hz > centres_hz[0]) & (np.arange(257) * hz < centres_hz[-1])]
    # between the first and last centre every bin splits its weight between two channels: sum 1
    np.testing.assert_allclose(H[inner].sum(axis=1), 1.0, atol=1e-12)
    assert np.all(H >= 0) and np.all(H <= 1)
    assert not H[0].any() and not H[: int(1.5 + 20 / hz)].any()  # DC (and below fmin) excluded
    # each channel peaks at the bin nearest its centre
    assert np.all(np.abs(H.argmax(axis=0) * hz - centres_hz) <= hz)


def test_dct_is_scipy_dct2():
    from scipy.fft import dct

    x = np.random.default_rng(0).normal(size=(5, 40))
    np.testing.assert_allclose(x @ dct_matrix(40, 26), np.sqrt(2 / 40) / 2 * dct(x, type=2)[:, :26], atol=1e-12)


def test_sine_peaks_in_its_channel():
    f0 = 1000.0
    x = (0.5 * np.sin(2 * np.pi * f0 * np.arange(8000) / 16000)).astype(np.float32)
    frames = frame_signal(x, 512, 320) * hann_window(512)
    energies = np.sqrt(np.abs(np.fft.rfft(frames, 512)) ** 2) @ tf_mel_filterbank(257, 16000)
    centres = tf_hz_to_mel(20) + np.arange(1, 41) * (tf_hz_to_mel(8000) - tf_hz_to_mel(20)) / 41
    assert abs(energies[0].argmax() - np.abs(centres - tf_hz_to_mel(f0)).argmin()) <= 1


def test_log_floor_on_silence_channels():
    # a signal with energy only in one bin leaves channels far away at the 1e-12 floor
    x = np.zeros(512, np.float32)
    x[0] = 1.0  # impulse at the window's zero: Hann kills it -> all energies 0 -> all logs at the floor
    x[1] = 1e-30
    out = mfcc(x.astype(np.float32) + np.float32(0))
    assert out[0, 0] == pytest.approx(np.sqrt(2 / 40) * 40 * np.log(1e-12), rel=1e-6)
    np.testing.assert_allclose(out[0, 1:], 0, atol=1e-4)


def test_deterministic(rng):
    x = rng.normal(size=5000).astype(np.float32)
    np.testing.assert_array_equal(mfcc(x), mfcc(x.copy()))


# ---------- bad input ----------

@pytest.mark.parametrize("signal, match", [
    (np.zeros(1000, np.float32), "all samples are zero"),
    (np.array([0.1, np.nan] * 400, np.float32), "NaN"),
    (np.ones((2, 600), np.float32), "1-D"),
    (np.ones(511, np.float32), "shorter than one window"),
    (np.array([], np.float32), "zero-length"),
])
def test_bad_signal(signal, match):
    with pytest.raises(AudioError, match=match):
        mfcc(signal)


@pytest.mark.parametrize("kwargs, match", [
    (dict(step_ms=0), "step_ms"),
    (dict(step_ms=10.01), "whole number of samples"),
    (dict(win_ms=-32), "win_ms"),
    (dict(n_mfcc=41), "n_mfcc"),
    (dict(fmax=9000.0), "fmax"),
    (dict(fmin=8000.0), "fmin"),
])
def test_bad_parameters(kwargs, match, rng):
    with pytest.raises(AudioError, match=match):
        mfcc(rng.normal(size=2000).astype(np.float32), **kwargs)


# ---------- the oracle: the model file's own MFCC sub-graph ----------

def _check_against_model(interpreter, x, frames):
    from ser_ref.audit.oracles import model_mfcc

    ours = mfcc(x)
    ref = model_mfcc(interpreter, x, [t * 320 for t in frames])
    err = np.abs(ours[frames] - ref).max()
    assert err <= TOL, f"max |mfcc - model mfccs| = {err}"
    return err


def test_matches_model_on_generated_signals(interpreter, rng):
    n = 16000
    t = np.arange(n) / 16000
    signals = {
        "white": rng.normal(0, 0.3, n),
        "quiet": rng.normal(0, 1e-4, n),  # near the int16 floor: exercises the log of small energies
        "chirp": 0.8 * np.sin(2 * np.pi * (50 * t + 3000 * t ** 2)),
        "int16": np.round(rng.normal(0, 3000, n)).clip(-32768, 32767) / 32768,  # as DeepSpeech's clients feed it
    }
    for name, x in signals.items():
        _check_against_model(interpreter, x.astype(np.float32), [0, 11, 23, 48])


def test_matches_model_on_real_speech(interpreter, ravdess_files):
    x = load_audio(ravdess_files[0])
    n = 1 + (x.size - 512) // 320
    _check_against_model(interpreter, x, list(range(0, n, max(1, n // 20))))


def test_matches_model_on_synthetic_voices(interpreter, voices):
    for x in voices:
        n = 1 + (x.size - 512) // 320
        _check_against_model(interpreter, x, list(range(0, n, max(1, n // 20))))


@pytest.mark.slow
def test_matches_model_on_real_speech_every_frame(interpreter, ravdess_files):
    for f in ravdess_files[:: max(1, len(ravdess_files) // 6)]:
        x = load_audio(f)
        _check_against_model(interpreter, x, list(range(1 + (x.size - 512) // 320)))


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="no CUDA device (needs CuPy and a GPU)")
def test_gpu_matches_cpu(rng):
    import cupy

    from ser_ref import dispatch

    x = rng.normal(0, 0.2, 48000).astype(np.float32)
    np.testing.assert_allclose(cupy.asnumpy(dispatch.mfcc(cupy.asarray(x))), mfcc(x), atol=1e-4)

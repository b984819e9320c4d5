"""A cheap, librosa-free utterance descriptor for tests: mean and std over frames of 13 MFCCs,
log energy and zero-crossing rate (25 ms Hann frames, 10 ms hop, 26 mel bands), 30 values."""
from __future__ import annotations

import numpy as np
from scipy.fft import dct


def _mel(f):
    return 2595 * np.log10(1 + f / 700)


def mel_filterbank(n_fft=512, sr=16000, n_mels=26):
    pts = 700 * (10 ** (np.linspace(_mel(0), _mel(sr / 2), n_mels + 2) / 2595) - 1)
    bins = np.fft.rfftfreq(n_fft, 1 / sr)
    fb = np.zeros((n_mels, len(bins)))
    for m in range(n_mels):
        lo, c, hi = pts[m : m + 3]
        fb[m] = np.clip(np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)), 0, None)
    return fb


def mfcc_stats(x, sr=16000):
    frame, hop = int(0.025 * sr), int(0.010 * sr)
    n = 1 + max(0, len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(frame)
    power = np.abs(np.fft.rfft(frames, 512)) ** 2
    logmel = np.log(power @ mel_filterbank().T + 1e-10)
    mfcc = dct(logmel, type=2, norm="ortho", axis=1)[:, :13]
    energy = np.log(np.sum(frames**2, axis=1) + 1e-10)
    zcr = np.mean(np.abs(np.diff(np.sign(x[idx]), axis=1)) > 0, axis=1)
    feats = np.column_stack([mfcc, energy, zcr])
    return np.concatenate([feats.mean(0), feats.std(0)])


def corpus_matrix(items):
    from ser_ref.frontend.audio import load_audio
    from ser_ref.corpora import LABELS

    X = np.stack([mfcc_stats(load_audio(it.path)) for it in items])
    y = np.array([LABELS.index(it.label) for it in items])
    speakers = np.array([it.speaker for it in items])
    return X, y, speakers

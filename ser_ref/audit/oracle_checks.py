"""The audit's checks: one function per stage, each returning ``Result`` rows or raising ``Skip``.

Each check compares ser_ref's own computation with an independent reference on data drawn fresh
from a seeded generator and, where the shared corpus is present, on real speech.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..files import locations
from ..errors import CorpusError, WeightsError
from ..nn.activations import CELL_ACTIVATIONS
from .oracles import (Skip, model_layers, model_mfcc, numeric_grad, opensmile_egemaps, rel_err, require,
                      tflite_interpreter, torch_lstm)

CHECKS = []


@dataclass
class Result:
    stage: str
    reference: str
    measure: str
    value: float | None
    tolerance: str
    passed: bool | None  # None: skipped
    note: str = ""


def check(fn):
    CHECKS.append(fn)
    return fn


def _le(stage, reference, measure, value, tol):
    return Result(stage, reference, measure, float(value), f"<= {tol:g}", bool(value <= tol))


def _ge(stage, reference, measure, value, tol):
    return Result(stage, reference, measure, float(value), f">= {tol:g}", bool(value >= tol))


def _model():
    """The .tflite the main job uses ($SER_REF_MODEL, ../shared, else the registry download)."""
    import sys

    from ..deepspeech.load import model_tflite

    return model_tflite(log=lambda msg: print(msg, file=sys.stderr))


def _interpreter(path):
    """The interpreter on ``path``; a file it cannot load is a WeightsError naming the file."""
    try:
        return tflite_interpreter(path)
    except Skip:
        raise
    except Exception as exc:  # the interpreter raises bare ValueError/RuntimeError on foreign bytes
        raise WeightsError(f"{path}: the TFLite interpreter cannot load it ({str(exc).splitlines()[0]})") from exc


@dataclass
class Speech:
    """The speech the audit runs on: the user's (or the shared RAVDESS) files, else none; the
    synthetic corpus' voices are always added, so every machine checks generated speech."""

    name: str = ""                              # e.g. "RAVDESS", "emodb"; "" when there is no real speech
    files: list = field(default_factory=list)

    @classmethod
    def find(cls, corpus=None, root=None) -> "Speech":
        """``--corpus NAME --root DIR`` if given, else the shared RAVDESS if present, else none."""
        from .. import corpora

        if corpus is not None and corpus != "synthetic":
            if root is None:
                raise CorpusError(f"--corpus {corpus} needs --root DIR pointing at your copy of the corpus")
            return cls(corpus, [it.path for it in corpora.load(corpus, root)])
        if root is not None:
            raise CorpusError("--root needs --corpus NAME (which corpus the folder holds)")
        ravdess = locations.ravdess_root() if corpus is None else None
        if ravdess is not None:
            return cls("RAVDESS", sorted(ravdess.glob("Actor_*/*.wav")))
        return cls()

    def sample(self, n: int) -> list:
        """n files spread evenly over the corpus (all if fewer)."""
        step = max(1, len(self.files) // max(n, 1))
        return self.files[::step][:n]


def synthetic_voices(n_speakers: int):
    """(name, signal) for every emotion of the synthetic corpus' first ``n_speakers`` speakers."""
    from ..corpora import LABELS
    from ..corpora.synthetic import utterance

    return [(f"synthetic syn{s + 1:02d} {label}", utterance(s, label)) for s in range(n_speakers) for label in LABELS]


def _speech_signals(speech: Speech, n_files: int):
    """A seeded chirp + noise, two synthetic voices, and up to n_files of the real speech."""
    from ..frontend.audio import load_audio

    speech = speech or Speech()

    rng = np.random.default_rng(20200)
    t = np.arange(24000) / 16000
    x = 0.3 * np.sin(2 * np.pi * (150 * t + 400 * t**2)) + 0.02 * rng.standard_normal(t.size)
    signals = [("generated chirp+noise", np.round(x * 32767).astype(np.float32) / 32768)]
    signals += synthetic_voices(1)[::2]  # anger and sadness
    return signals + [(f.name, load_audio(f)) for f in speech.sample(n_files)]


def _signals_label(speech: Speech, signals) -> str:
    n_real = len(signals) - 3
    return f"{len(signals)} signals ({n_real} {speech.name})" if n_real else f"{len(signals)} generated signals"


@check
def mfcc_vs_model(full=False, speech=None):
    from ..frontend.tf_mfcc import mfcc

    ip = _interpreter(_model())
    worst = 0.0
    signals = _speech_signals(speech, 8 if full else 2)
    for _, x in signals:
        ours = mfcc(x)
        # one interpreter call per frame: every frame with --full, else 24 spread over the signal
        frames = np.arange(ours.shape[0])[:: 1 if full else max(1, ours.shape[0] // 24)]
        worst = max(worst, float(np.max(np.abs(ours[frames] - model_mfcc(ip, x, frames * 320)))))
    which = "every frame" if full else "24 frames each"
    return [_le("MFCC", "model's AudioSpectrogram+Mfcc (ai-edge-litert)",
                f"max abs diff, {_signals_label(speech, signals)}, {which}", worst, 1e-4)]


@check
def layer1_vs_model(full=False, speech=None):
    from ..deepspeech import Layer1, context_windows
    from ..frontend.tf_mfcc import mfcc

    model = _model()
    ip = _interpreter(model)
    layer = Layer1.from_model(model)
    signals = _speech_signals(speech, 4 if full else 1)
    worst_int8 = worst_float = 0.0
    W64, b64 = layer.W.astype(np.float64), layer.b.astype(np.float64)
    for _, x in signals:
        win = np.ascontiguousarray(context_windows(mfcc(x)))
        win = win[: len(win) // 16 * 16]
        ref = model_layers(ip, win)["Minimum"]
        worst_int8 = max(worst_int8, float(np.max(np.abs(layer(win, mode="tflite-int8") - ref))))
        exact = np.minimum(np.maximum(win.astype(np.float64) @ W64 + b64, 0.0), 20.0)
        err = np.max(np.abs(layer(win, mode="float") - exact)) / max(np.max(np.abs(exact)), 1e-12)
        worst_float = max(worst_float, float(err))
    label = _signals_label(speech, signals)
    return [
        _le("layer 1 (tflite-int8)", "interpreter's Minimum tensor", f"max abs diff, {label}", worst_int8, 1e-5),
        _le("layer 1 (float)", "float64 NumPy min(relu(xW+b),20)", f"max abs diff / max abs ref, {label}",
            worst_float, 1e-4),
    ]


@check
def egemaps_vs_opensmile(full=False, speech=None):
    """Per-feature Pearson r over files: real speech when there is some, else the synthetic
    corpus' voices (every emotion of 6 speakers; 10 with --full)."""
    from ..frontend.audio import load_audio
    from ..egemaps import EGEMAPS_NAMES, egemaps

    speech = speech or Speech()
    if speech.files:
        files = speech.sample(len(speech.files) if full else 48)
        signals, what = [load_audio(f) for f in files], f"{len(files)} {speech.name} files"
    else:
        signals = [x for _, x in synthetic_voices(10 if full else 6)]
        what = f"{len(signals)} synthetic-voice utterances"
    ref = opensmile_egemaps(signals)
    ours = np.stack([egemaps(x) for x in signals]).astype(np.float64)
    r = np.array([np.corrcoef(ours[:, j], ref[:, j])[0, 1] for j in range(len(EGEMAPS_NAMES))])
    r = np.nan_to_num(r, nan=0.0)
    worst = EGEMAPS_NAMES[int(np.argmin(r))]
    return [
        _ge("eGeMAPS (88)", f"opensmile eGeMAPSv02, {what}", "median Pearson r", np.median(r), 0.95),
        Result("eGeMAPS (88)", f"opensmile eGeMAPSv02, {what}", "features with r >= 0.90",
               float(np.sum(r >= 0.90)), ">= 75", bool(np.sum(r >= 0.90) >= 75), f"lowest: {worst} r={r.min():.3f}"),
    ]


@check
def nn_gradients(full=False, speech=None):
    from ..nn import (dense_backward, dense_forward, lstm_backward, lstm_forward,
                      softmax_cross_entropy_backward, softmax_cross_entropy_forward)

    rng = np.random.default_rng(5)
    out = []
    # dense: L = sum(R * y)
    x, W, b, R = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(5, 3))
    dx, dW, db = dense_backward(R, dense_forward(x, W, b)[1])
    f = lambda: float(np.sum(R * dense_forward(x, W, b)[0]))  # noqa: E731
    err = max(rel_err(dx, numeric_grad(f, x)), rel_err(dW, numeric_grad(f, W)), rel_err(db, numeric_grad(f, b)))
    out.append(_le("dense backward", "float64 finite differences", "max rel. error", err, 1e-6))
    # softmax cross-entropy with class weights
    z, y = rng.normal(size=(6, 4)) * 3, rng.integers(0, 4, 6)
    w = rng.uniform(0.5, 2, 4)[y]  # per-example weights, as class weights reach the loss
    dz = softmax_cross_entropy_backward(softmax_cross_entropy_forward(z, y, w)[1])
    fz = lambda: float(softmax_cross_entropy_forward(z, y, w)[0])  # noqa: E731
    out.append(_le("softmax-CE backward", "float64 finite differences", "rel. error",
                   rel_err(dz, numeric_grad(fz, z)), 1e-6))
    # LSTM, both activations, padded batch with a mask
    B, T, n, H = 3, 5, 4, 3
    lens = np.array([T, 3, 1])
    mask = (np.arange(T)[None] < lens[:, None]).astype(np.float64)
    for act in CELL_ACTIVATIONS:
        x = rng.normal(size=(B, T, n))
        W, U, b = rng.normal(size=(n, 4 * H)) * 0.5, rng.normal(size=(H, 4 * H)) * 0.5, rng.normal(size=4 * H) * 0.1
        R = rng.normal(size=(B, T, H))
        h, cache = lstm_forward(x, W, U, b, activation=act, mask=mask)
        grads = lstm_backward(R, cache)
        f = lambda: float(np.sum(R * lstm_forward(x, W, U, b, activation=act, mask=mask)[0]))  # noqa: E731
        err = max(rel_err(g, numeric_grad(f, a)) for g, a in zip(grads, (x, W, U, b)))
        out.append(_le(f"LSTM backward ({act}, masked)", "float64 finite differences", "max rel. error", err, 1e-6))
    return out


def lstm_torch_max_abs_diff(rng, B=4, T=30, n=16, H=20, scale=0.3) -> float:
    """Largest |ser_ref - torch.nn.LSTM| over h and every gradient (dx, dW, dU, db) of
    L = sum(R * h), tanh cell, float32, fresh random weights and inputs from ``rng``."""
    torch = require("torch")
    from ..nn import lstm_backward, lstm_forward

    x = rng.normal(size=(B, T, n)).astype(np.float32)
    W, U, b = ((rng.normal(size=s) * scale).astype(np.float32) for s in ((n, 4 * H), (H, 4 * H), (4 * H,)))
    R = rng.normal(size=(B, T, H)).astype(np.float32)
    h, cache = lstm_forward(x, W, U, b, activation="tanh")
    dx, dW, dU, db = lstm_backward(R, cache)
    m = torch_lstm(W, U, b)
    xt = torch.from_numpy(x).requires_grad_(True)
    ht, _ = m(xt)
    (ht * torch.from_numpy(R)).sum().backward()
    pairs = ((h, ht.detach()), (dx, xt.grad), (dW, m.weight_ih_l0.grad.T), (dU, m.weight_hh_l0.grad.T),
             (db, m.bias_ih_l0.grad))
    return max(float(np.max(np.abs(ours - theirs.numpy()))) for ours, theirs in pairs)


@check
def nn_vs_torch(full=False, speech=None):
    err = lstm_torch_max_abs_diff(np.random.default_rng(6))
    return [_le("LSTM forward+backward (tanh, float32)", "torch.nn.LSTM", "max abs diff, h and all grads", err, 1e-5)]


@check
def forest_vs_sklearn(full=False, speech=None):
    require("sklearn")
    from functools import partial

    from sklearn.ensemble import RandomForestClassifier

    from ..evaluation.metrics import run_loso

    rng = np.random.default_rng(7)
    n_spk, per = (10, 60) if full else (6, 40)
    n_trees = 1000 if full else 200
    speakers = np.repeat(np.arange(n_spk), per)
    y = rng.integers(0, 4, speakers.size)
    # class signal in a few features, speaker offsets in all of them, the rest noise
    X = rng.normal(size=(speakers.size, 30)) + rng.normal(size=(n_spk, 30))[speakers]
    X[:, :4] += 0.8 * np.eye(4)[y]
    ours = run_loso(partial(_ours, n_trees=n_trees), X, y, speakers, executor="serial").pooled["accuracy"]
    theirs = run_loso(partial(_sklearn, n_trees=n_trees, cls=RandomForestClassifier), X, y, speakers,
                      executor="serial").pooled["accuracy"]
    tol = 0.015 if full else 0.03
    return [_le(f"random forest ({n_trees} trees, depth 10)", "sklearn RandomForestClassifier, same LOSO folds",
                "abs accuracy difference", abs(ours - theirs), tol)]


def _ours(X_train, y_train, X_test, seed, n_trees):
    from ..evaluation.systems import Settings, fit_predict_labels

    return fit_predict_labels(X_train, y_train, X_test, seed, "rf-egemaps", Settings(rf_trees=n_trees))


def _sklearn(X_train, y_train, X_test, seed, n_trees, cls):
    return cls(n_estimators=n_trees, max_depth=10, random_state=seed).fit(X_train, y_train).predict(X_test)


def run_all(full: bool = False, only: str | None = None, speech: Speech | None = None):
    """Run every check (or those whose name contains ``only``) on ``speech`` (default
    ``Speech.find()``): a list of Result rows. A bad model or corpus raises its SerRefError."""
    speech = Speech.find() if speech is None else speech
    rows = []
    for fn in CHECKS:
        if only and only not in fn.__name__:
            continue
        try:
            rows += fn(full=full, speech=speech)
        except Skip as exc:
            rows.append(Result(fn.__name__, "-", "-", None, "-", None, f"skipped: {exc}"))
    return rows

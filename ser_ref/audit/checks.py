"""The audit's checks: one function per stage, each returning ``Result`` rows or raising ``Skip``.

Each check compares ser_ref's own computation with an independent reference on data drawn fresh
from a seeded generator and, where the shared corpus is present, on real speech.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import locations
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
    p = locations.shared_model_path()
    if p is None:
        raise Skip("no DeepSpeech .tflite (set SER_REF_MODEL or provide ../shared/models)")
    return p


def _speech_signals(n_files: int):
    """A seeded synthetic test signal (int16-quantised chirp + noise) and up to n_files real ones."""
    from ..audio import load_audio

    rng = np.random.default_rng(20200)
    t = np.arange(24000) / 16000
    x = 0.3 * np.sin(2 * np.pi * (150 * t + 400 * t**2)) + 0.02 * rng.standard_normal(t.size)
    signals = [("generated chirp+noise", np.round(x * 32767).astype(np.float32) / 32768)]
    root = locations.ravdess_root()
    if root is not None:
        files = sorted(root.glob("Actor_*/*.wav"))
        step = max(1, len(files) // max(n_files, 1))
        signals += [(f.name, load_audio(f)) for f in files[::step][:n_files]]
    return signals


@check
def mfcc_vs_model(full=False):
    from ..mfcc import mfcc

    ip = tflite_interpreter(_model())
    worst = 0.0
    signals = _speech_signals(8 if full else 2)
    for _, x in signals:
        ours = mfcc(x)
        starts = np.arange(ours.shape[0]) * 320
        worst = max(worst, float(np.max(np.abs(ours - model_mfcc(ip, x, starts)))))
    return [_le("MFCC", "model's AudioSpectrogram+Mfcc (ai-edge-litert)",
                f"max abs diff, {len(signals)} signals", worst, 1e-4)]


@check
def layer1_vs_model(full=False):
    from ..deepspeech import Layer1, context_windows
    from ..mfcc import mfcc

    model = _model()
    ip = tflite_interpreter(model)
    layer = Layer1.from_model(model)
    signals = _speech_signals(4 if full else 1)
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
    return [
        _le("layer 1 (tflite-int8)", "interpreter's Minimum tensor", "max abs diff", worst_int8, 1e-5),
        _le("layer 1 (float)", "float64 NumPy min(relu(xW+b),20)", "max abs diff / max abs ref", worst_float, 1e-4),
    ]


@check
def egemaps_vs_opensmile(full=False):
    from ..egemaps import EGEMAPS_NAMES, egemaps_files

    root = locations.ravdess_root()
    if root is None:
        raise Skip("needs real speech: no RAVDESS corpus (set SER_REF_RAVDESS)")
    files = sorted(root.glob("Actor_*/*.wav"))
    if not full:
        files = files[::14]  # 48 files, 2 per actor
    ref = opensmile_egemaps(files)
    ours = egemaps_files(files)
    r = np.array([np.corrcoef(ours[:, j], ref[:, j])[0, 1] for j in range(len(EGEMAPS_NAMES))])
    r = np.nan_to_num(r, nan=0.0)
    worst = EGEMAPS_NAMES[int(np.argmin(r))]
    n = len(files)
    return [
        _ge("eGeMAPS (88)", f"opensmile eGeMAPSv02, {n} RAVDESS files", "median Pearson r", np.median(r), 0.95),
        Result("eGeMAPS (88)", f"opensmile eGeMAPSv02, {n} RAVDESS files", "features with r >= 0.90",
               float(np.sum(r >= 0.90)), ">= 75", bool(np.sum(r >= 0.90) >= 75), f"lowest: {worst} r={r.min():.3f}"),
    ]


@check
def nn_gradients(full=False):
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
    for act in ("tanh", "relu"):
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
def nn_vs_torch(full=False):
    err = lstm_torch_max_abs_diff(np.random.default_rng(6))
    return [_le("LSTM forward+backward (tanh, float32)", "torch.nn.LSTM", "max abs diff, h and all grads", err, 1e-5)]


@check
def forest_vs_sklearn(full=False):
    require("sklearn")
    from functools import partial

    from sklearn.ensemble import RandomForestClassifier

    from ..evaluate import run_loso

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
    from ..systems import Settings, fit_predict_labels

    return fit_predict_labels(X_train, y_train, X_test, seed, "rf-egemaps", Settings(rf_trees=n_trees))


def _sklearn(X_train, y_train, X_test, seed, n_trees, cls):
    return cls(n_estimators=n_trees, max_depth=10, random_state=seed).fit(X_train, y_train).predict(X_test)


def run_all(full: bool = False, only: str | None = None):
    """Run every check (or those whose name contains ``only``): a list of Result rows."""
    rows = []
    for fn in CHECKS:
        if only and only not in fn.__name__:
            continue
        try:
            rows += fn(full=full)
        except Skip as exc:
            rows.append(Result(fn.__name__, "-", "-", None, "-", None, f"skipped: {exc}"))
    return rows

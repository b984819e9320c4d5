"""ser_ref.nn on real speech: DeepSpeech layer-1 features of RAVDESS files (slow: feature extraction)."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.nn import FrameDense, QUICK
from ser_ref.nn.nets import lstm_clf_init, lstm_clf_loss_grads, mlp_init, mlp_loss_grads
from test_nn_layers import TOL, numeric_grad, rel_err

EMOTION = {"01": 0, "03": 1, "04": 2, "05": 3}  # RAVDESS codes: neutral, happy, sad, angry


@pytest.fixture(scope="module")
def real_features(request):
    files = request.getfixturevalue("ravdess_files")
    model = request.getfixturevalue("model_path")
    from ser_ref.frontend.audio import load_audio
    from ser_ref.deepspeech import deepspeech_features, load_layer1

    layer = load_layer1(model, verbose=False)
    chosen = [f for f in files if int(f.parent.name.split("_")[1]) <= 8]  # actors 1..8
    feats = [deepspeech_features(load_audio(f), layer) for f in chosen]
    y = np.array([EMOTION[f.name.split("-")[2]] for f in chosen])
    actors = np.array([int(f.parent.name.split("_")[1]) for f in chosen])
    return feats, y, actors


@pytest.mark.slow
def test_gradients_on_real_speech(real_features, rng):
    """Finite differences in float64 on real layer-1 frames (a slice: 10 frames x 24 features)."""
    feats, y, _ = real_features
    idx = rng.choice(len(feats), 3, replace=False)
    cols = rng.choice(feats[0].shape[1], 24, replace=False)
    x = np.stack([feats[i][:10, cols] for i in idx]).astype(np.float64) / 10
    mask = np.ones((3, 10))
    mask[1, 6:] = 0
    p = lstm_clf_init(rng, 24, 5, 4, np.float64)
    f = lambda: lstm_clf_loss_grads(p, x, y[idx], mask=mask, activation="relu")[0]  # noqa: E731
    _, g = lstm_clf_loss_grads(p, x, y[idx], mask=mask, activation="relu")
    for k in p:
        assert rel_err(numeric_grad(f, p[k]), g[k]) < TOL, k
    q = mlp_init(rng, [24, 7, 4], np.float64)
    X, Y = x.reshape(30, 24), np.repeat(y[idx], 10)
    _, g = mlp_loss_grads(q, X, Y)
    for k in q:
        assert rel_err(numeric_grad(lambda: mlp_loss_grads(q, X, Y)[0], q[k]), g[k]) < TOL, k


@pytest.mark.slow
def test_frame_dense_learns_emotion_on_unseen_actors(real_features):
    """Trained on 6 actors, tested on 2 unseen ones: well above chance (majority class 2/7 = 0.29)."""
    feats, y, actors = real_features
    test = np.isin(actors, (7, 8))
    m = FrameDense(seed=0, config=QUICK).fit([f for f, t in zip(feats, test) if not t], y[~test], actors[~test])
    acc = (m.predict([f for f, t in zip(feats, test) if t]) == y[test]).mean()
    assert acc >= 0.4, f"accuracy {acc:.2f} on actors 7 and 8"

"""GPU random-forest prediction (ser_ref.gpu.random_forest) against the Numba path and the plain reference."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.frontend.audio import load_audio
from ser_ref.runtime.backend import gpu_available
from ser_ref.forest.cart import predict_proba_reference
from ser_ref.forest.random_forest import RandomForest
from ser_ref.frontend.tf_mfcc import mfcc as mfcc_ref

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not gpu_available(), reason="no CUDA device (needs CuPy and a GPU)")]


def test_matches_numba_exactly_random(rng):
    from ser_ref.gpu.random_forest import forest_predict_proba

    X = rng.standard_normal((400, 12)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 3] > 0).astype(int) + 2 * (X[:, 5] > 0.5)
    rf = RandomForest(n_trees=25, max_depth=8, seed=3).fit(X, y)
    Xt = rng.standard_normal((300, 12)).astype(np.float32)
    got = forest_predict_proba(rf, Xt).get()
    # same trees, same order of additions: bit-identical to the Numba path
    np.testing.assert_array_equal(got, rf.predict_proba(Xt))
    np.testing.assert_allclose(got, predict_proba_reference(Xt, *rf.trees_), rtol=1e-12)
    np.testing.assert_array_equal(got.argmax(1), rf.predict(Xt))
    # the public switch takes the same kernel and hands back NumPy
    np.testing.assert_array_equal(rf.set_params(device="gpu").predict_proba(Xt),
                                  rf.set_params(device="cpu").predict_proba(Xt))


def test_real_speech_features(ravdess_files):
    from ser_ref.gpu.random_forest import forest_predict_proba

    feats = []
    for p in ravdess_files[:24]:
        F = mfcc_ref(load_audio(p))
        feats.append(np.concatenate([F.mean(0), F.std(0)]))
    X = np.array(feats, np.float32)
    y = np.arange(len(X)) % 4
    rf = RandomForest(n_trees=50, max_depth=None, seed=0).fit(X, y)
    np.testing.assert_array_equal(forest_predict_proba(rf, X).get(), rf.predict_proba(X))

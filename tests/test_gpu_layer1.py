"""GPU context windows + layer 1 (ser_ref.gpu.layer1) against ser_ref.deepspeech (the reference)."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.frontend.audio import load_audio
from ser_ref.runtime.backend import gpu_available
from ser_ref.deepspeech import Layer1, context_windows
from ser_ref.frontend.tf_mfcc import mfcc as mfcc_ref

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not gpu_available(), reason="no CUDA device (needs CuPy and a GPU)")]

FLOAT_TOL = dict(rtol=1e-5, atol=2e-4)  # cuBLAS and the CPU BLAS sum the 494 products in different orders


def _random_layer(rng, hidden=96):
    W_q = rng.integers(-127, 128, size=(494, hidden)).astype(np.int8)
    return Layer1(W_q, 0.0129, rng.normal(0, 0.5, hidden).astype(np.float32))


def test_context_windows_match_reference(rng):
    from ser_ref.gpu.layer1 import context_windows as cw_gpu

    F = rng.standard_normal((40, 26)).astype(np.float32)
    np.testing.assert_array_equal(cw_gpu(F).get(), context_windows(F))
    np.testing.assert_array_equal(cw_gpu(F[:3]).get(), context_windows(F[:3]))  # shorter than a window


@pytest.mark.parametrize("mode", ["float", "tflite-int8"])
def test_batch_matches_reference_per_utterance(rng, mode):
    from ser_ref.gpu.layer1 import layer1_batch

    layer = _random_layer(rng)
    lens = [30, 7, 55]
    F = np.full((3, 55, 26), 1e3, np.float32)  # padding past n_frames must never be read
    for k, n in enumerate(lens):
        F[k, :n] = 4 * rng.standard_normal((n, 26))
    W = layer.W if mode == "float" else layer.W_q
    got = layer1_batch(F, W, layer.b, n_frames=lens, mode=mode, w_scale=layer.w_scale).get()
    ref = np.concatenate([layer(context_windows(F[k, :n]), mode=mode) for k, n in enumerate(lens)])
    if mode == "float":
        np.testing.assert_allclose(got, ref, **FLOAT_TOL)
    else:  # exact: int8 products sum exactly in float32 and the epilogue rounds like the reference
        np.testing.assert_array_equal(got, ref)


def test_windows_given_and_zero_row(rng):
    from ser_ref.gpu.layer1 import layer1_forward

    layer = _random_layer(rng)
    X = rng.standard_normal((20, 494)).astype(np.float32)
    X[5] = 0
    np.testing.assert_array_equal(layer1_forward(X, layer.W_q, layer.b, mode="tflite-int8",
                                                 w_scale=layer.w_scale).get(), layer(X, mode="tflite-int8"))
    np.testing.assert_allclose(layer1_forward(X, layer.W, layer.b).get(), layer(X), **FLOAT_TOL)


def test_real_speech_real_weights(model_path, ravdess_files):
    from ser_ref.gpu.layer1 import layer1_batch

    layer = Layer1.from_model(model_path)
    F = mfcc_ref(load_audio(ravdess_files[0]))
    for mode, W in (("float", layer.W), ("tflite-int8", layer.W_q)):
        got = layer1_batch(F, W, layer.b, mode=mode, w_scale=layer.w_scale).get()
        ref = layer(context_windows(F), mode=mode)
        if mode == "float":
            np.testing.assert_allclose(got, ref, **FLOAT_TOL)
        else:
            np.testing.assert_array_equal(got, ref)

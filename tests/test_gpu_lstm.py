"""Fused GPU LSTM (ser_ref.gpu.lstm) against the NumPy reference ser_ref.nn.lstm, forward and backward."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.frontend.audio import load_audio
from ser_ref.runtime.backend import gpu_available
from ser_ref.frontend.tf_mfcc import mfcc as mfcc_ref
from ser_ref.nn import lstm as ref

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not gpu_available(), reason="no CUDA device (needs CuPy and a GPU)")]

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-5)}


def _weights(rng, n_in, H, dtype):
    return (rng.normal(0, 0.4, (n_in, 4 * H)).astype(dtype), rng.normal(0, 0.4, (H, 4 * H)).astype(dtype),
            rng.normal(0, 0.2, 4 * H).astype(dtype))


def _compare(x, W, U, b, activation, mask, dh, tol, persistent=None):
    import cupy as cp

    from ser_ref.gpu import lstm as gpu

    h_ref, cache_ref = ref.lstm_forward_reference(x, W, U, b, activation, mask)
    grads_ref = ref.lstm_backward_reference(dh, cache_ref)
    d = [cp.asarray(a) for a in (x, W, U, b)]
    m = None if mask is None else cp.asarray(mask)
    h, cache = gpu.lstm_forward(*d, activation, m, persistent=persistent)
    np.testing.assert_allclose(h.get(), h_ref, **tol)
    for name, g, r in zip(("dx", "dW", "dU", "db"), gpu.lstm_backward(cp.asarray(dh), cache, persistent=persistent),
                          grads_ref):
        np.testing.assert_allclose(g.get(), r, err_msg=name, **tol)
    # any forward's cache with any backward. The reference backward on the fused forward's cache
    # (moved to the host: given CuPy arrays it would dispatch to the GPU backward again) ...
    host_cache = tuple(a.get() if isinstance(a, cp.ndarray) else a for a in cache)
    for g, r in zip(ref.lstm_backward(dh, host_cache), grads_ref):
        assert isinstance(g, np.ndarray)
        np.testing.assert_allclose(g, r, **tol)
    # ... the other fused backward on this forward's cache, and the fused backward on the reference's
    for c in (cache, cache_ref):
        for g, r in zip(gpu.lstm_backward(cp.asarray(dh), c, persistent=not persistent), grads_ref):
            np.testing.assert_allclose(g.get(), r, **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("persistent", [False, True])
def test_matches_reference_random(rng, dtype, activation, masked, persistent):
    B, T, n_in, H = 5, 9, 7, 6
    x = rng.standard_normal((B, T, n_in)).astype(dtype)
    mask = None
    if masked:
        lens = np.array([9, 3, 1, 6, 9])
        mask = (np.arange(T)[None, :] < lens[:, None]).astype(dtype)
    dh = rng.standard_normal((B, T, H)).astype(dtype)
    _compare(x, *_weights(rng, n_in, H, dtype), activation, mask, dh, TOL[dtype], persistent)


def test_need_dx_false(rng):
    import cupy as cp

    from ser_ref.gpu import lstm as gpu

    W, U, b = (cp.asarray(a) for a in _weights(rng, 3, 4, np.float64))
    h, cache = gpu.lstm_forward(cp.asarray(rng.standard_normal((2, 5, 3))), W, U, b)
    assert gpu.lstm_backward(cp.ones_like(h), cache, need_dx=False)[0] is None


def test_real_speech(rng, ravdess_files):
    """The paper's LSTM(20, relu) over a real utterance's MFCC frames, in float32."""
    F = mfcc_ref(load_audio(ravdess_files[0]))
    x = ((F - F.mean(0)) / F.std(0))[None].astype(np.float32)
    H = 20
    dh = np.zeros((1, x.shape[1], H), np.float32)
    dh[:, -1] = rng.standard_normal(H)  # only the last state feeds the classifier
    W, U, b = _weights(rng, 26, H, np.float32)
    # small weights keep the relu cell's state bounded over the ~175 steps, as a trained net's are
    _compare(x, W / 4, U / 4, b, "relu", None, dh, dict(rtol=1e-3, atol=1e-4))

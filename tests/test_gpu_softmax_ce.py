"""Fused GPU softmax cross-entropy (ser_ref.gpu.softmax_ce) against ser_ref.nn.softmax_ce."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.frontend.audio import load_audio
from ser_ref.runtime.backend import gpu_available
from ser_ref.frontend.tf_mfcc import mfcc as mfcc_ref
from ser_ref.nn import softmax_ce as ref

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not gpu_available(), reason="no CUDA device (needs CuPy and a GPU)")]


def _compare(z, y, w, tol):
    import cupy as cp

    from ser_ref.gpu import softmax_ce as gpu

    L_ref, cache_ref = ref.softmax_cross_entropy_forward(z, y, w)
    dz_ref = ref.softmax_cross_entropy_backward(cache_ref, 0.7)
    dz1_ref = ref.softmax_cross_entropy_backward(cache_ref)
    zd, yd, wd = cp.asarray(z), cp.asarray(y), None if w is None else cp.asarray(w)
    L, cache = gpu.softmax_cross_entropy_forward(zd, yd, wd)
    np.testing.assert_allclose(float(L), float(L_ref), **tol)
    np.testing.assert_allclose(cache[0].get(), cache_ref[0], **tol)
    np.testing.assert_allclose(gpu.softmax_cross_entropy_backward(cache, 0.7).get(), dz_ref, **tol)
    L2, dz = gpu.softmax_cross_entropy_fused(zd, yd, wd)
    np.testing.assert_allclose(float(L2), float(L_ref), **tol)
    np.testing.assert_allclose(dz.get(), dz1_ref, **tol)


@pytest.mark.parametrize("dtype,tol", [(np.float64, dict(rtol=1e-12, atol=1e-14)),
                                       (np.float32, dict(rtol=1e-5, atol=1e-7))])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_reference_random(rng, dtype, tol, weighted):
    z = (5 * rng.standard_normal((300, 4))).astype(dtype)
    z[0] = [800, -800, 0, 1]  # extreme logits: the max shift must keep exp finite
    y = rng.integers(0, 4, 300)
    w = rng.uniform(0.5, 2, 300).astype(dtype) if weighted else None
    _compare(z, y, w, tol)


def test_real_speech(rng, ravdess_files):
    F = mfcc_ref(load_audio(ravdess_files[0]))
    z = (F @ rng.normal(0, 0.1, (26, 4))).astype(np.float32)
    _compare(z, rng.integers(0, 4, len(z)), None, dict(rtol=1e-5, atol=1e-7))

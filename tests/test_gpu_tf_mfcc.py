"""GPU MFCC (ser_ref.gpu.tf_mfcc) against the NumPy reference ser_ref.frontend.tf_mfcc.mfcc_reference."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.frontend.audio import load_audio
from ser_ref.runtime.backend import gpu_available
from ser_ref.errors import AudioError
from ser_ref.frontend.tf_mfcc import mfcc_reference as mfcc_ref

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not gpu_available(), reason="no CUDA device (needs CuPy and a GPU)")]

# float64 throughout on both sides; cuFFT and pocketfft round differently (~1e-16), and the float32
# rounding of the power can amplify that to one float32 ulp of the output
TOL = dict(rtol=1e-5, atol=1e-4)


def test_batch_matches_reference_on_random_signals(rng):
    from ser_ref.gpu.tf_mfcc import mfcc_batch

    sigs = [(0.3 * rng.standard_normal(n)).astype(np.float32) for n in (512, 4000, 16000 + 123)]
    feats, n_frames = mfcc_batch(sigs)
    feats = feats.get()
    for k, s in enumerate(sigs):
        ref = mfcc_ref(s)
        assert n_frames[k] == len(ref)
        np.testing.assert_allclose(feats[k, : n_frames[k]], ref, **TOL)
        assert not feats[k, n_frames[k]:].any()  # padding rows are zero


@pytest.mark.parametrize("step_ms,n_mfcc", [(10, 13), (20, 40)])
def test_other_parameters_match_reference(rng, step_ms, n_mfcc):
    from ser_ref.gpu.tf_mfcc import mfcc

    s = (0.1 * rng.standard_normal(7000)).astype(np.float32)
    import cupy as cp

    ref = mfcc_ref(s, step_ms=step_ms, n_mfcc=n_mfcc)
    np.testing.assert_allclose(mfcc(s, step_ms=step_ms, n_mfcc=n_mfcc).get(), ref, **TOL)
    np.testing.assert_allclose(mfcc(cp.asarray(s), step_ms=step_ms, n_mfcc=n_mfcc).get(), ref, **TOL)


def test_padded_array_with_lengths(rng):
    import cupy as cp

    from ser_ref.gpu.tf_mfcc import mfcc_batch

    x = (0.2 * rng.standard_normal((2, 9000))).astype(np.float32)
    lengths = np.array([9000, 5000])
    feats, n_frames = mfcc_batch(cp.asarray(x), lengths=lengths)
    np.testing.assert_allclose(feats[1, : n_frames[1]].get(), mfcc_ref(x[1, :5000]), **TOL)


def test_real_speech(ravdess_files):
    from ser_ref.gpu.tf_mfcc import mfcc_batch

    sigs = [load_audio(p) for p in ravdess_files[:4]]
    feats, n_frames = mfcc_batch(sigs)
    for k, s in enumerate(sigs):
        np.testing.assert_allclose(feats[k, : n_frames[k]].get(), mfcc_ref(s), **TOL)


def test_bad_input_is_named(rng):
    from ser_ref.gpu.tf_mfcc import mfcc_batch

    with pytest.raises(AudioError, match="signal 1"):
        mfcc_batch([np.zeros(1000, np.float32), np.zeros(100, np.float32)])
    with pytest.raises(AudioError, match="signal 0"):
        mfcc_batch([np.full(1000, np.nan, np.float32)])

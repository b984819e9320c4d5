"""Without CuPy or a GPU, every ser_ref.gpu entry point fails with a clear BackendError, and the
package (and the CPU path) still imports and runs. Runs only where the GPU is NOT available."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.runtime.backend import gpu_available
from ser_ref.errors import BackendError

pytestmark = pytest.mark.skipif(gpu_available(),
                                reason="a CUDA device is present: the GPU tests cover this machine")


def test_gpu_entry_points_raise_backend_error(rng):
    from ser_ref.gpu import layer1, lstm, random_forest, softmax_ce, tf_mfcc

    x = rng.standard_normal(1600).astype(np.float32)
    calls = [
        lambda: tf_mfcc.mfcc(x),
        lambda: tf_mfcc.mfcc_batch([x, x]),
        lambda: layer1.context_windows(np.zeros((5, 26), np.float32)),
        lambda: layer1.layer1_batch(np.zeros((5, 26), np.float32), np.zeros((494, 4), np.float32), np.zeros(4)),
        lambda: lstm.lstm_forward(np.zeros((1, 2, 3)), np.zeros((3, 8)), np.zeros((2, 8)), np.zeros(8)),
        lambda: softmax_ce.softmax_cross_entropy_fused(np.zeros((2, 3)), np.zeros(2, int)),
        lambda: random_forest.predict_proba(np.zeros((1, 1)), *[np.zeros(1)] * 6),
    ]
    for call in calls:
        with pytest.raises(BackendError, match="gpu"):
            call()


def test_cpu_path_unaffected(rng):
    from ser_ref.frontend.tf_mfcc import mfcc

    assert mfcc(rng.standard_normal(1600).astype(np.float32) * 0.1).shape == (4, 26)

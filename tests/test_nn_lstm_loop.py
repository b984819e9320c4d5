"""The compiled LSTM time loop (nn/lstm_loop.py) against the plain NumPy reference (nn/lstm.py), on
fresh random inputs: every output and every cached array, both activations, masks, both dtypes, and
caches swapped between the two paths. The reference itself is checked against finite differences
and PyTorch in test_nn_layers.py."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.nn.lstm import lstm_backward, lstm_backward_reference, lstm_forward, lstm_forward_reference

# float64: both paths compute in float64; float32: the compiled loop computes each step in float64
# and rounds when it stores, the reference rounds after every operation
RTOL = {np.float64: 1e-12, np.float32: 2e-5}


def _problem(rng, dtype, masked, B=6, T=17, n=5, H=7, scale=0.6):
    x = rng.normal(size=(B, T, n)).astype(dtype)
    W, U, b = ((rng.normal(size=s) * scale).astype(dtype) for s in ((n, 4 * H), (H, 4 * H), (4 * H,)))
    mask = None
    if masked:
        lens = rng.integers(1, T + 1, size=B)
        lens[0] = T
        mask = (np.arange(T)[None] < lens[:, None]).astype(dtype)
    dh = rng.normal(size=(B, T, H)).astype(dtype)
    if masked:
        dh *= mask[:, :, None]
    return x, W, U, b, mask, dh


def _close(a, b, rtol):
    scale = max(float(np.max(np.abs(b))), 1e-30)
    assert float(np.max(np.abs(a.astype(np.float64) - b))) <= rtol * scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("masked", [False, True])
def test_compiled_loop_matches_reference(rng, dtype, activation, masked):
    x, W, U, b, mask, dh = _problem(rng, dtype, masked)
    h, cache = lstm_forward(x, W, U, b, activation, mask)
    h_ref, cache_ref = lstm_forward_reference(x, W, U, b, activation, mask)
    assert h.dtype == dtype
    for ours, ref in zip((h,) + cache[5:], (h_ref,) + cache_ref[5:]):  # h, gates, c', hs, cs
        _close(ours, ref, RTOL[dtype])
    grads = lstm_backward(dh, cache)
    grads_ref = lstm_backward_reference(dh, cache_ref)
    for ours, ref in zip(grads, grads_ref):
        assert ours.dtype == dtype
        _close(ours, ref, RTOL[dtype])


def test_caches_work_across_paths(rng):
    """Either forward's cache feeds either backward (the training loop may mix them)."""
    x, W, U, b, mask, dh = _problem(rng, np.float64, True)
    _, cache = lstm_forward(x, W, U, b, "relu", mask)
    _, cache_ref = lstm_forward_reference(x, W, U, b, "relu", mask)
    expect = lstm_backward_reference(dh, cache_ref)
    for got in (lstm_backward(dh, cache_ref), lstm_backward_reference(dh, cache)):
        for g, e in zip(got, expect):
            _close(g, e, 1e-12)


def test_need_dx_false_gives_the_same_weight_gradients(rng):
    x, W, U, b, mask, dh = _problem(rng, np.float32, True)
    _, cache = lstm_forward(x, W, U, b, "relu", mask)
    dx, dW, dU, db = lstm_backward(dh, cache, need_dx=False)
    assert dx is None
    for g, e in zip((dW, dU, db), lstm_backward(dh, cache)[1:]):
        np.testing.assert_array_equal(g, e)


def test_decaying_gradients_are_flushed_not_subnormal(rng):
    """Over a long sequence with saturated forget gates the carried gradient decays by ~1e-3 a step;
    neither path may leave subnormal numbers (they cost ~100x on a CPU), and both agree."""
    B, T, n, H = 2, 400, 3, 4
    x = rng.normal(size=(B, T, n)).astype(np.float32)
    W = rng.normal(size=(n, 4 * H)).astype(np.float32) * 0.1
    U = np.zeros((H, 4 * H), np.float32)
    b = np.zeros(4 * H, np.float32)
    b[H:2 * H] = -7.0  # f = sigmoid(-7) ~ 1e-3: dC shrinks 1000x a step
    dh = np.zeros((B, T, H), np.float32)
    dh[:, -1] = 1.0
    _, cache = lstm_forward(x, W, U, b, "tanh")
    dZ_fast = lstm_backward(dh, cache, need_dx=False)
    dZ_ref = lstm_backward_reference(dh, cache, need_dx=False)
    tiny = np.finfo(np.float32).tiny
    for grads in (dZ_fast, dZ_ref):
        for g in grads[1:]:
            assert not np.any((g != 0) & (np.abs(g) < tiny))
    for g, e in zip(dZ_fast[1:], dZ_ref[1:]):
        _close(g, e, RTOL[np.float32])


def test_relu_state_that_grows_stays_in_step_with_the_reference(rng):
    """The paper's relu LSTM has unbounded states: with large weights h grows step after step, and
    the two paths still agree relative to the size reached. The recurrence (|U| > 1) amplifies each
    step's rounding differences, so the bound is looser than one step's 1e-12."""
    x, W, U, b, _, _ = _problem(rng, np.float64, False, T=40, scale=1.5)
    h, _ = lstm_forward(x, W, U, b, "relu")
    h_ref, _ = lstm_forward_reference(x, W, U, b, "relu")
    assert np.max(np.abs(h_ref)) > 10  # the state really grew
    _close(h, h_ref, 1e-9)

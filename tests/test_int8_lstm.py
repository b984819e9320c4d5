"""The fused tflite-int8 LSTM step (deepspeech/int8_lstm.py) against its NumPy reference
(tflite_lstm._int8_step_reference) and the math: bit for bit, on random inputs."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.deepspeech.int8_lstm import int8_matmul, logistic_into, pack_blocks, tanh_into
from ser_ref.deepspeech.tflite_lstm import LSTMWeights, lstm_tflite_int8
from ser_ref.deepspeech.tflite_math import logistic_tflite, tanh_tflite


def _bits(a):
    return np.asarray(a, dtype=np.float32).view(np.int32)


def test_compiled_activations_are_the_interpreters_bit_for_bit(rng):
    x = np.concatenate([rng.normal(0, 4, 4000), rng.normal(0, 60, 1000), np.linspace(-120, 120, 2001),
                        [0.0, -0.0, -104, np.nextafter(-104, -200), 16.6355324, 7.90738964, -7.90738964,
                         1e30, -1e30]]).astype(np.float32)
    with np.errstate(all="ignore"):       # the reference computes the discarded x < -104 lanes too
        ref_l, ref_t = logistic_tflite(x), tanh_tflite(x)
    out = np.empty_like(x)
    logistic_into(x, out, np.empty(x.size, np.int32))
    np.testing.assert_array_equal(_bits(out), _bits(ref_l))
    tanh_into(x, out)
    np.testing.assert_array_equal(_bits(out), _bits(ref_t))


def test_int8_matmul_is_the_exact_integer_product(rng):
    q = rng.integers(-127, 128, (7, 4096), dtype=np.int8)
    q[0] = 127                             # the largest sums: 4096 * 127^2 > 2^24
    WT = rng.integers(-127, 128, (38, 4096), dtype=np.int8)
    WT[3] = 127
    np.testing.assert_array_equal(int8_matmul(q, WT), q.astype(np.int64) @ WT.astype(np.int64).T)


def test_pack_blocks_puts_each_cells_four_gates_together(rng):
    K, H, bw = 5, 8, 4
    W = rng.integers(-127, 128, (K, 4 * H), dtype=np.int8)
    P = pack_blocks(W, bw)
    for j in range(H // bw):
        for g in range(4):
            for i in range(bw):
                np.testing.assert_array_equal(P[j, g * bw + i], W[:, g * H + j * bw + i])


@pytest.mark.parametrize("gates", [["input", "candidate", "forget", "output"],
                                   ["forget", "output", "input", "candidate"]])
@pytest.mark.parametrize("H", [128, 24])                 # 24 cells: blocks of 8, not 64
def test_fast_int8_lstm_equals_the_reference_bit_for_bit(rng, gates, H):
    W_q = rng.integers(-127, 128, (2 * H, 4 * H), dtype=np.int8)
    w = LSTMWeights(W_q, 0.004, rng.normal(0, 0.5, 4 * H).astype(np.float32), gates)
    # longest first; large x (the x half's sum beyond 2^24 in float32), small x (h holds the row's
    # maximum: x quantised again at that step), a zero row, a single step
    seqs = [rng.uniform(0, 20, (37, H)), rng.uniform(0, 3, (33, H)), rng.uniform(0, 0.01, (20, H)),
            rng.uniform(0, 1, (1, H))]
    seqs = [s.astype(np.float32) for s in seqs]
    seqs[1][4] = 0
    state = (rng.normal(0, 1, (4, H)).astype(np.float32), rng.uniform(-1, 1, (4, H)).astype(np.float32))
    for st in (None, state):
        fast, (c_fast, h_fast) = lstm_tflite_int8(seqs, w, st, fast=True)
        ref, (c_ref, h_ref) = lstm_tflite_int8(seqs, w, st, fast=False)
        np.testing.assert_array_equal(_bits(fast), _bits(ref))
        np.testing.assert_array_equal(_bits(c_fast), _bits(c_ref))
        np.testing.assert_array_equal(_bits(h_fast), _bits(h_ref))

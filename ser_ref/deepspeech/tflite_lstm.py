"""Layer 4 of DeepSpeech: one LSTM layer, H = 2048 cells, over a batch of sequences.

Per step, with z = [x_t, h_{t-1}] @ W4 + b4 split into quarters in the graph's order
(``lstm_graph.GATES``: input i, candidate g, forget f, output o; no added forget bias):
    c_t = sigmoid(z_f) * c_{t-1} + sigmoid(z_i) * tanh(z_g)
    h_t = sigmoid(z_o) * tanh(c_t)
and h_t is the layer's output. Two arithmetics, as for layer 1:
    float        dequantised W4, float32 products, exact sigmoid / tanh (NumPy)
    tflite-int8  the hybrid kernel on the 4096-wide row [x_t, h_{t-1}] (quantised as one row) and
                 the interpreter's LOGISTIC / TANH (``tflite_math``), exact integer sums
Both split [x_t, h] @ W4 = x_t @ W4[:H] + h @ W4[H:]: the x half of 16 steps is one GEMM over all
their frames before those steps, which are then only (sequences, H) @ (H, 4 H) each. In int8 mode
that is exact because the row's scale m = max(max|x_t|, max|h|) is max|x_t| whenever
max|x_t| >= max|h_{t-1}| (|h| <= 1, x is a clipped ReLU output); the other rows take the full
4096-wide path at that step.
"""
from __future__ import annotations

import numpy as np

from ..runtime.blas_threads import single_threaded_blas
from ..runtime.core_pool import run_shares
from .int8_lstm import BW, fused_step, int8_matmul, pack_blocks, quantize_given_max, row_max_abs
from .layer1 import quantize_rows
from .tflite_math import (EXACT_F32_INT, exact_int_matmul, hybrid_epilogue, logistic_tflite, row_scales,
                          sum_abs_bound, tanh_tflite)

f32 = np.float32


def sigmoid(x):
    """1 / (1 + exp(-x)) in float32 (x clipped to +-88, where exp stays finite and s is 0 or 1 to
    float32 precision)."""
    return (f32(1) / (f32(1) + np.exp(-np.clip(x, f32(-88), f32(88))))).astype(f32)


def lstm_cell(z, c, gate_index: dict, act_sigmoid=sigmoid, act_tanh=np.tanh):
    """(h_t, c_t) from the pre-activations z (n, 4 H) and c_{t-1} (n, H), in the graph's op order.

    >>> z = np.zeros((1, 4), np.float32); c = np.ones((1, 1), np.float32)
    >>> h, c1 = lstm_cell(z, c, {"input": 0, "candidate": 1, "forget": 2, "output": 3})
    >>> float(c1[0, 0]), round(float(h[0, 0]), 6)       # c = 0.5 * 1 + 0.5 * tanh(0)
    (0.5, 0.231059)
    """
    H = c.shape[1]

    def gate(name):
        k = gate_index[name]
        return z[:, k * H:(k + 1) * H]

    c_new = act_sigmoid(gate("forget")) * c + act_sigmoid(gate("input")) * act_tanh(gate("candidate"))
    h_new = act_sigmoid(gate("output")) * act_tanh(c_new)
    return h_new.astype(f32), c_new.astype(f32)


COLUMN_BLOCK = 2048  # fixed, so that a float result never depends on the thread count


def det_matmul(A, B):
    """A @ B (float32) from fixed column blocks, each a single-threaded GEMM, the blocks shared out
    over the cores: the bits depend on A and B only, not on how many threads BLAS or we have."""
    out = np.empty((A.shape[0], B.shape[1]), dtype=f32)
    blocks = [(lo, min(lo + COLUMN_BLOCK, B.shape[1])) for lo in range(0, B.shape[1], COLUMN_BLOCK)]

    def run(share):
        for lo, hi in share:
            out[:, lo:hi] = A @ B[:, lo:hi]

    with single_threaded_blas() as before:
        k = min(before or 1, len(blocks))
        run_shares(run, [(blocks[i::k],) for i in range(k)])
    return out


def _quantize_given_max(v, m):
    """``quantize_rows`` of v with the row maxima m imposed (m > 0): the h half of [x_t, h]."""
    inv = f32(127) / m.astype(f32)
    w = (v * inv[:, None]).astype(np.float64)
    return np.clip(np.sign(w) * np.floor(np.abs(w) + 0.5), -127, 127).astype(f32)


class LSTMWeights:
    """W4 split into its x and h halves, float and int8-as-float32, with what the kernels need."""

    def __init__(self, W_q, w_scale, b, gates):
        W_q = np.asarray(W_q)
        self.H = W_q.shape[1] // 4
        self.w_scale = f32(w_scale)
        self.b = np.asarray(b, dtype=f32)
        Wq_f = W_q.astype(f32)
        self.Wq_x, self.Wq_h, self.Wq = Wq_f[:self.H], Wq_f[self.H:], Wq_f
        self.W = Wq_f * self.w_scale
        self.W_x, self.W_h = self.W[:self.H], self.W[self.H:]
        self.w_max = int(np.abs(W_q).max())
        self.gate_index = {g: k for k, g in enumerate(gates)}
        self._packed = None
        self._x_t = None

    @property
    def gate_quarters(self):
        """The quarters of z holding the input, candidate, forget and output gates (int64 (4,))."""
        return np.array([self.gate_index[g] for g in ("input", "candidate", "forget", "output")], dtype=np.int64)

    @property
    def packed_h(self):
        """W_q[H:] as int8 in ``int8_lstm.pack_blocks`` order (16 MiB, made on first use)."""
        if self._packed is None:
            bw = next(b for b in (BW, 32, 16, 8, 4, 2, 1) if self.H % b == 0)  # any cell count
            self._packed = pack_blocks(self.Wq_h.astype(np.int8), bw)
        return self._packed

    @property
    def int8_x_t(self):
        """W_q[:H] transposed, int8 (4 H, H) (16 MiB, made on first use): ``int8_lstm.int8_matmul``'s."""
        if self._x_t is None:
            self._x_t = np.ascontiguousarray(self.Wq_x.T.astype(np.int8))
        return self._x_t


def _time_major(seqs, width):
    """Sequences (T_i, width), longest first -> (T_max, n, width) zero-padded, and the lengths."""
    lengths = np.array([len(s) for s in seqs])
    out = np.zeros((lengths.max(), len(seqs), width), dtype=f32)
    for i, s in enumerate(seqs):
        out[:len(s), i] = s
    return out, lengths


def _recur(X, lengths, x_half, step, H, state, block: int = 16):
    """The recurrence over time, ``block`` steps at a time (the runtime's 16 windows per call).

    Sequences are sorted longest first, so the active ones at step t are a prefix. Per block,
    ``x_half(X[t0:t1, :a])`` precomputes the x half of every step at once (one GEMM of
    (t1 - t0) * a rows); then ``step(X_t, pre_t, h, c) -> (h, c)`` runs each step.
    Returns per-step h (T_max, n, H) and the final (c, h) of each sequence (after its last frame).
    """
    n = len(lengths)
    c = np.zeros((n, H), f32) if state is None else np.array(state[0], dtype=f32).reshape(n, H)
    h = np.zeros((n, H), f32) if state is None else np.array(state[1], dtype=f32).reshape(n, H)
    hs = np.zeros((X.shape[0], n, H), dtype=f32)
    for t0 in range(0, X.shape[0], block):
        t1 = min(t0 + block, X.shape[0])
        a0 = int(np.sum(lengths > t0))
        pre = x_half(X[t0:t1, :a0])
        for t in range(t0, t1):
            a = int(np.sum(lengths > t))
            h[:a], c[:a] = step(X[t, :a], [p[t - t0, :a] for p in pre], h[:a], c[:a])
            hs[t, :a] = h[:a]
    return hs, (c, h)


def lstm_float(seqs, w: LSTMWeights, state=None):
    """Float mode over sequences sorted longest first -> (per-step h (T_max, n, H), (c, h))."""
    X, lengths = _time_major(seqs, w.H)

    def x_half(Xb):
        Z = det_matmul(Xb.reshape(-1, w.H), w.W_x)
        Z += w.b
        return (Z.reshape(Xb.shape[0], Xb.shape[1], -1),)

    def step(x, pre, h, c):
        z = det_matmul(h, w.W_h)
        z += pre[0]
        return lstm_cell(z, c, w.gate_index)

    return _recur(X, lengths, x_half, step, w.H, state)


def _x_half_int8(w: LSTMWeights):
    def x_half(Xb):
        flat = Xb.reshape(-1, w.H)
        qx, mx = quantize_rows(flat)
        shape = Xb.shape[:2]
        acc = exact_int_matmul(qx, w.Wq_x, w.w_max)
        return acc.reshape(*shape, -1), mx.reshape(shape), sum_abs_bound(qx, w.w_max).reshape(shape)
    return x_half


def _requantised_x(w: LSTMWeights, x, acc_x, bound_x, mx, m_q, m):
    """acc_x and its bound with the rows whose x_t must be quantised with h's larger maximum redone."""
    again = mx < m
    if again.any():
        qx = _quantize_given_max(x[again], m_q[again])
        acc_x, bound_x = acc_x.copy(), bound_x.copy()
        acc_x[again] = exact_int_matmul(qx, w.Wq_x, w.w_max)
        bound_x[again] = sum_abs_bound(qx, w.w_max)
    return acc_x, bound_x


def _int8_step_reference(w: LSTMWeights, x, pre, h, c):
    """One tflite-int8 step in NumPy (the reference ``int8_lstm.fused_step`` is tested against)."""
    acc_x, mx, bound_x = pre
    m = np.maximum(mx, np.abs(h).max(axis=1))
    m_q = np.where(m == 0, f32(1), m)           # an all-zero row quantises to 0 whatever m
    qh = _quantize_given_max(h, m_q)
    acc_x, bound_x = _requantised_x(w, x, acc_x, bound_x, mx, m_q, m)
    acc_h = exact_int_matmul(qh, w.Wq_h, w.w_max)
    if acc_x.dtype == f32 and acc_h.dtype == f32 and np.all(bound_x + sum_abs_bound(qh, w.w_max) <= EXACT_F32_INT):
        acc_h += acc_x                           # exact: |sum| and every partial sum <= 2^24
        acc = acc_h
    else:
        acc = acc_h.astype(np.float64) + acc_x   # exact in float64, rounded once below
    z = hybrid_epilogue(acc, row_scales(m, w.w_scale), w.b)
    return lstm_cell(z, c, w.gate_index, logistic_tflite, tanh_tflite)


INT8_KERNEL_ROWS = 64  # up to this many rows the int8 kernel's sums beat a float32 GEMM on W_q as float32


def _exact_sums(q, w: LSTMWeights):
    """q @ W_q[:H], exact: the int8 kernel for a few rows (it reads 16 MiB, the GEMM 64 MiB),
    the float32 GEMM of ``exact_int_matmul`` for many (its compute rate wins there)."""
    if q.shape[0] <= INT8_KERNEL_ROWS:
        return int8_matmul(q.astype(np.int8), w.int8_x_t)
    return exact_int_matmul(q, w.Wq_x, w.w_max)


def _x_half_int8_fast(w: LSTMWeights):
    def x_half(Xb):
        qx, mx = quantize_rows(Xb.reshape(-1, w.H))
        shape = Xb.shape[:2]
        return _exact_sums(qx, w).reshape(*shape, -1), mx.reshape(shape)
    return x_half


def _int8_step_fast(w: LSTMWeights, x, pre, h, c):
    """``_int8_step_reference`` with the h half, epilogue and cell in one compiled pass over int8
    weights (``int8_lstm.fused_step``) and exact sums in int32; the same bits."""
    acc_x, mx = pre
    m = np.maximum(mx, row_max_abs(h))
    m_q = np.where(m == 0, f32(1), m)
    qh = np.empty(h.shape, dtype=np.int8)
    quantize_given_max(h, m_q, qh)
    again = mx < m
    if again.any():
        acc_x = np.array(acc_x, dtype=np.float64)   # exact integers, whichever sum made them
        acc_x[again] = _exact_sums(_quantize_given_max(x[again], m_q[again]), w)
    return fused_step(qh, w.packed_h, np.ascontiguousarray(acc_x), row_scales(m, w.w_scale), w.b,
                      w.gate_quarters, np.ascontiguousarray(c))


def lstm_tflite_int8(seqs, w: LSTMWeights, state=None, *, fast: bool = True):
    """tflite-int8 mode over sequences sorted longest first (see the module doc).

    Per step the row scale is m = max(max|x_t|, max|h|). Rows with m = max|x_t| reuse the x half
    quantised and summed ahead for the block; the others (h's maximum is larger: about 0.5 % of
    real frames) quantise x_t again with m and sum it at that step. Integer sums are exact
    (``exact_int_matmul``); the two halves are added in float32 when their bounds prove it exact,
    in float64 otherwise, and rounded to float32 once, as the kernel's int32 -> float.
    ``fast`` takes ``_int8_step_fast`` for each step, else ``_int8_step_reference``: the same bits.

    >>> rng = np.random.default_rng(0)
    >>> w = LSTMWeights(rng.integers(-127, 128, (128, 256), dtype=np.int8), 0.01, np.zeros(256, np.float32),
    ...                 ["input", "candidate", "forget", "output"])
    >>> seqs = [rng.uniform(0, 2, (20, 64)).astype(np.float32)]
    >>> bool(np.array_equal(lstm_tflite_int8(seqs, w)[0], lstm_tflite_int8(seqs, w, fast=False)[0]))
    True
    """
    X, lengths = _time_major(seqs, w.H)
    one = _int8_step_fast if fast else _int8_step_reference
    x_half = _x_half_int8_fast(w) if fast else _x_half_int8(w)
    return _recur(X, lengths, x_half, lambda x, pre, h, c: one(w, x, pre, h, c), w.H, state)

"""Adam, weight decay and clipping (nn/optim.py), and the compiled standardisation (nn/train.py):
the compiled paths are bit-identical to the array formulas, and Adam's formula is a closed form for
the first steps."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ser_ref.nn.optim import adam_init, adam_step, adam_update_arrays, clip_grad_norm


def _grads(rng, shapes, dtype):
    # magnitudes from 1e-30 to 1e2: squares reach the subnormal range in float32
    return {k: (rng.normal(size=s) * 10.0 ** rng.integers(-30, 3, size=s)).astype(dtype) for k, s in shapes.items()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_adam_is_bit_identical_to_the_array_formula(rng, dtype):
    shapes = {"W0": (37, 11), "b0": (11,), "U": (5, 20)}
    start = {k: rng.normal(size=s).astype(dtype) for k, s in shapes.items()}
    fast, slow = ({k: v.copy() for k, v in start.items()} for _ in range(2))
    s_fast, s_slow = adam_init(fast), adam_init(slow)
    for t in range(1, 25):
        g = _grads(rng, shapes, dtype)
        adam_step(fast, g, s_fast, lr=3e-3)
        step = 3e-3 * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        for k in slow:
            adam_update_arrays(slow[k], g[k], s_slow["m"][k], s_slow["v"][k], 0.9, 0.999, step, 1e-7)
    for k in shapes:
        for a, b in ((fast[k], slow[k]), (s_fast["m"][k], s_slow["m"][k]), (s_fast["v"][k], s_slow["v"][k])):
            assert a.dtype == dtype
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("compiled", [True, False])
def test_parameters_below_the_smallest_normal_are_flushed_to_zero(compiled):
    tiny = np.finfo(np.float32).tiny
    p = np.array([tiny / 100, -tiny / 3, tiny, 0.5], dtype=np.float32)  # two subnormal, two normal
    g, m, v = np.zeros(4, np.float32), np.zeros(4, np.float32), np.zeros(4, np.float32)
    if compiled:
        params = {"w": p}
        adam_step(params, {"w": g}, {"t": 0, "m": {"w": m}, "v": {"w": v}})
    else:
        adam_update_arrays(p, g, m, v, 0.9, 0.999, 1e-3, 1e-7)
    np.testing.assert_array_equal(p, np.array([0.0, 0.0, tiny, 0.5], dtype=np.float32))


def test_non_contiguous_parameters_take_the_array_formula(rng):
    p = {"W": rng.normal(size=(6, 8))[:, ::2]}  # a strided view: updated in place all the same
    base = p["W"].base
    before = p["W"].copy()
    adam_step(p, {"W": np.ones((6, 4))}, adam_init(p), lr=0.1, eps=0.0)
    assert p["W"].base is base
    np.testing.assert_allclose(p["W"], before - 0.1, rtol=1e-6)  # first step: lr * sign(g)


def test_adam_second_step_closed_form():
    """g1 = 1, g2 = -1: m2 = 0.9*0.1 - 0.1 = -0.01, v2 = 0.999*0.001 + 0.001 = 0.001999,
    p2 = p1 - lr sqrt(1 - b2^2)/(1 - b1^2) m2/(sqrt(v2) + eps)."""
    p = {"w": np.array([0.0])}
    s = adam_init(p)
    adam_step(p, {"w": np.array([1.0])}, s, lr=0.1, eps=0.0)
    p1 = p["w"][0]
    adam_step(p, {"w": np.array([-1.0])}, s, lr=0.1, eps=0.0)
    expect = p1 - 0.1 * math.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2) * (-0.01) / math.sqrt(0.001999)
    assert p1 == pytest.approx(-0.1, rel=1e-12)
    assert p["w"][0] == pytest.approx(expect, rel=1e-12)


def test_clip_scales_all_gradients_together(rng):
    g = {"a": rng.normal(size=5), "b": rng.normal(size=3)}
    norm = math.sqrt(sum(float(np.sum(v ** 2)) for v in g.values()))
    before = {k: v.copy() for k, v in g.items()}
    assert clip_grad_norm(g, norm / 4) == pytest.approx(norm)
    for k in g:
        np.testing.assert_allclose(g[k], before[k] / 4, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_standardisation_is_bit_identical_to_the_array_operations(rng, dtype):
    from ser_ref.nn.training import standardize_inplace

    X = (rng.normal(size=(7, 30, 11)) * 10.0 ** rng.integers(-30, 20, size=(7, 30, 11))).astype(dtype)
    mu = rng.normal(size=11).astype(dtype)
    sd = rng.uniform(1e-3, 1e3, size=11).astype(dtype)
    expect = X.copy()
    expect -= mu
    expect /= sd
    got = standardize_inplace(X, mu, sd)
    assert got is X
    np.testing.assert_array_equal(got, expect)
    # a strided view takes the array operations, in place all the same
    Y = np.ones((4, 22), dtype)[:, ::2]
    standardize_inplace(Y, mu, sd)
    np.testing.assert_array_equal(Y, (np.ones((4, 11), dtype) - mu) / sd)

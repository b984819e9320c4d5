"""Adam, weight decay and clipping (nn/optim.py): the compiled update is bit-identical to the array
formula, and the formula is Adam's (a closed form for the first steps)."""
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

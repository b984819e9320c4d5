"""The forest's random numbers (ser_ref.forest.splitmix) against splitmix64 written with Python integers."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.forest.splitmix import bootstrap_counts, next_u64, randint

_M = (1 << 64) - 1


def _splitmix64(seed):
    """splitmix64 from its definition, in arbitrary-precision integers reduced mod 2^64."""
    s = seed
    while True:
        s = (s + 0x9E3779B97F4A7C15) & _M
        z = ((s ^ (s >> 30)) * 0xBF58476D1CE4E5B9) & _M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M
        yield z ^ (z >> 31)


@pytest.mark.parametrize("seed", [0, 1, 2**63 + 12345, _M])
def test_stream_is_splitmix64(seed):
    state = np.array([seed], np.uint64)
    ref = _splitmix64(seed)
    assert [int(next_u64(state)) for _ in range(50)] == [next(ref) for _ in range(50)]


def test_randint_and_bootstrap_counts_follow_the_stream(rng):
    seed, n = int(rng.integers(0, 2**63)), 97
    ref = _splitmix64(seed)
    assert randint(np.array([seed], np.uint64), 7) == next(ref) % 7
    ref = _splitmix64(seed)
    expect = np.bincount([next(ref) % n for _ in range(n)], minlength=n).astype(np.float64)
    assert np.array_equal(bootstrap_counts(np.array([seed], np.uint64), n), expect)

"""splitmix64 (Steele, Lea & Flood 2014): the random forest's random numbers, one stream per tree.

One uint64 of state; each draw is (all arithmetic mod 2^64)

    s <- s + 0x9E3779B97F4A7C15
    z = (s ^ (s >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    next = z ^ (z >> 31)

The stream depends on the seed alone, so a tree is the same whichever thread grows it, in whatever
order. The functions are Numba kernels on a (1,) uint64 state array, callable from Python too.
Numba's cache does not see edits to this file in the kernels that call these (``cart.py``;
numba#1833): after changing it, delete ``ser_ref/__pycache__/cart.*``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


@njit(cache=True)
def next_u64(state):
    """The next 64-bit output; advances ``state[0]``.

    Examples
    --------
    >>> state = np.zeros(1, np.uint64)           # seed 0: the first outputs of the C original
    >>> hex(next_u64(state)), hex(next_u64(state))
    ('0xe220a8397b1dcdaf', '0x6e789e6aa1b965f4')
    """
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def randint(state, k):
    """Uniform integer in [0, k): next mod k (bias < k / 2^64, negligible).

    Examples
    --------
    >>> state = np.zeros(1, np.uint64)
    >>> randint(state, 10) == 0xe220a8397b1dcdaf % 10
    True
    """
    return np.int64(next_u64(state) % np.uint64(k))


@njit(cache=True)
def bootstrap_counts(state, n):
    """A bootstrap sample of n rows as counts: n draws with replacement, w_i = times row i was drawn.

    Examples
    --------
    >>> w = bootstrap_counts(np.zeros(1, np.uint64), 1000)
    >>> float(w.sum()), bool(0.3 < np.mean(w == 0) < 0.44)    # P(never drawn) -> 1/e = 0.37
    (1000.0, True)
    """
    w = np.zeros(n, np.float64)
    for _ in range(n):
        w[randint(state, n)] += 1.0
    return w

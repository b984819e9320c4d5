"""Sorting a tree node's samples by one feature: integer keys, radix-sorted.

The grower replaces every feature once by its dense ranks (``cart.rank_features``), and sorts a
node's m samples as int64 keys

    key = rank << 32 | position            (rank < 2^32 and position < 2^31)

so that equal values keep their order and the position comes back as ``key & 0xFFFFFFFF``. Small
nodes (m <= 48) take an insertion sort; larger ones a least-significant-digit radix sort on the
rank, 8 bits a pass: O(m + 256) per pass instead of O(m log m) comparisons of floats.
Numba's cache does not see edits to this file in the kernels that call these (``cart.py``;
numba#1833): after changing it, delete ``ser_ref/__pycache__/cart.*``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

INSERTION_MAX = 48  # below this many keys, insertion sort beats the radix passes' fixed cost


@njit(cache=True)
def rank_bits(n_ranks):
    """Bits of rank the radix passes cover: the least multiple of 8 with 2^bits >= n_ranks.

    Examples
    --------
    >>> rank_bits(256), rank_bits(257), rank_bits(70000)
    (8, 16, 24)
    """
    bits = 8
    while (1 << bits) < n_ranks:
        bits += 8
    return bits


@njit(cache=True)
def sort_keys(a, m, scratch, count, bits):
    """Sort a[:m] ascending in place; ``scratch`` holds >= m int64, ``count`` 257 int64, ``bits``
    is ``rank_bits`` of the largest rank.

    Examples
    --------
    >>> a = (np.array([3, 1, 3, 0]) << 32) | np.arange(4)
    >>> sort_keys(a, 4, np.empty(4, np.int64), np.empty(257, np.int64), 8); a & 0xFFFFFFFF
    array([3, 1, 0, 2])
    """
    if m <= INSERTION_MAX:
        for i in range(1, m):
            v = a[i]
            j = i - 1
            while j >= 0 and a[j] > v:
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = v
        return
    src, dst = a, scratch
    n_pass = 0
    for shift in range(32, 32 + bits, 8):
        count[:] = 0
        for i in range(m):
            count[((src[i] >> shift) & 255) + 1] += 1
        for d in range(1, 257):
            count[d] += count[d - 1]
        for i in range(m):  # stable: equal digits keep their order
            d = (src[i] >> shift) & 255
            dst[count[d]] = src[i]
            count[d] += 1
        src, dst = dst, src
        n_pass += 1
    if n_pass % 2 == 1:  # the sorted keys ended in scratch
        a[:m] = scratch[:m]

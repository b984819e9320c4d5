"""The node sort of the tree grower (ser_ref.forest.radix_sort) against NumPy's sort, on both of its paths."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.forest.radix_sort import INSERTION_MAX, rank_bits, sort_keys


@pytest.mark.parametrize("m,n_ranks", [(5, 3), (47, 1000), (49, 2), (300, 200), (900, 70000), (2000, 2**20),
                                       (INSERTION_MAX, 5), (INSERTION_MAX + 1, 5)])
def test_key_sort_matches_numpy(m, n_ranks):
    rng = np.random.default_rng(m)
    keys = (rng.integers(0, n_ranks, m).astype(np.int64) << 32) | np.arange(m)
    got = keys.copy()
    sort_keys(got, m, np.empty(m, np.int64), np.empty(257, np.int64), rank_bits(n_ranks))
    assert np.array_equal(got, np.sort(keys))


def test_only_the_first_m_keys_are_sorted(rng):
    keys = (rng.integers(0, 300, 100).astype(np.int64) << 32) | np.arange(100)
    got = keys.copy()
    sort_keys(got, 60, np.empty(100, np.int64), np.empty(257, np.int64), rank_bits(300))
    assert np.array_equal(got[:60], np.sort(keys[:60])) and np.array_equal(got[60:], keys[60:])


@pytest.mark.parametrize("n_ranks", [1, 2, 255, 256, 257, 65536, 65537, 2**24, 2**24 + 1])
def test_rank_bits_cover_every_rank(n_ranks):
    bits = rank_bits(n_ranks)
    # the least multiple of 8 whose range holds ranks 0 .. n_ranks - 1
    assert bits % 8 == 0 and 2**bits >= n_ranks and (bits == 8 or 2 ** (bits - 8) < n_ranks)

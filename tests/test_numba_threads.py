"""n_jobs as Numba threads (ser_ref.forest.numba_threads): the count inside the block, restored after, bad values named."""
from __future__ import annotations

import numba
import pytest

from ser_ref.errors import SerRefError
from ser_ref.forest.numba_threads import numba_threads, thread_count


def test_count_inside_and_restored_after():
    before = numba.get_num_threads()
    with numba_threads(1) as n:
        assert n == 1 and numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with numba_threads(1):
            raise RuntimeError("inside")
    assert numba.get_num_threads() == before


def test_all_and_capped():
    top = numba.config.NUMBA_NUM_THREADS
    assert thread_count(None) == thread_count(-1) == top
    assert thread_count(top + 5) == top


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_n_jobs_is_named(bad):
    with pytest.raises(SerRefError, match=r"n_jobs must be None, -1 or >= 1, got"):
        thread_count(bad)

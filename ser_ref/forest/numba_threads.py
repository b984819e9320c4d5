"""How many threads Numba's parallel loops (the forest's ``prange``) use, for the length of a block.

``n_jobs`` follows scikit-learn: None or -1 is every thread Numba started with, k >= 1 is k (capped
at that number). The count is process-wide; the previous one comes back when the block ends.
"""
from __future__ import annotations

from contextlib import contextmanager

import numba
import numpy as np

from ..errors import SerRefError


def thread_count(n_jobs) -> int:
    """The thread count ``n_jobs`` asks for, or a SerRefError naming ``n_jobs``.

    Examples
    --------
    >>> thread_count(1), thread_count(None) == numba.config.NUMBA_NUM_THREADS
    (1, True)
    """
    if n_jobs in (None, -1):
        return numba.config.NUMBA_NUM_THREADS
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise SerRefError(f"n_jobs must be None, -1 or >= 1, got {n_jobs!r}")
    return min(int(n_jobs), numba.config.NUMBA_NUM_THREADS)


@contextmanager
def numba_threads(n_jobs):
    """Run the block with ``thread_count(n_jobs)`` Numba threads.

    Examples
    --------
    >>> with numba_threads(1):
    ...     numba.get_num_threads()
    1
    """
    n = thread_count(n_jobs)
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(old)

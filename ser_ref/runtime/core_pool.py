"""One long-lived worker thread per core for our own splitting of work (no thread started per call).

Why: the LSTM's steps are short (about a millisecond each on one utterance) and there are hundreds
of them; a ``ThreadPoolExecutor`` made per step spends a visible part of each step starting and
joining threads. The pool is made once per process (again after a fork, whose child has no threads)
and the caller's own thread always takes one share, so k shares cost k - 1 hand-offs.

Which thread computes which share never changes a result: callers split their work into pieces
whose arithmetic does not depend on the split.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = -1


def cores() -> int:
    """The number of cores this process may run on (at least 1).

    >>> cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max(1, cores() - 1), thread_name_prefix="ser_ref-core")
            _pool_pid = os.getpid()
        return _pool


def run_shares(fn, shares) -> None:
    """fn(*share) for every share, the first ones on the pool, the last in the calling thread;
    returns when all are done (an exception in any share is raised here).

    >>> out = [0] * 4
    >>> run_shares(lambda i: out.__setitem__(i, i * i), [(0,), (1,), (2,), (3,)])
    >>> out
    [0, 1, 4, 9]
    """
    shares = list(shares)
    if not shares:
        return
    futures = [_executor().submit(fn, *s) for s in shares[:-1]] if len(shares) > 1 else []
    try:
        fn(*shares[-1])
    finally:
        for f in futures:
            f.result()

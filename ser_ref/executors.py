"""Where the work runs: in-process, a local process pool, or a Dask cluster.

Every long stage (feature extraction, LOSO folds) submits top-level, picklable functions to a
``concurrent.futures.Executor``; which one is a run-time choice, so the same code can run on a
laptop, on all cores of a server, or on a cluster (``--scheduler HOST:PORT``).
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor

# One BLAS thread per worker: N workers x N threads would oversubscribe the cores. BLAS reads
# these when it loads, so they are set in the parent for the spawned children to inherit.
_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _worker_init():
    # Numba reads this before it first launches its thread pool, which a fresh worker has not
    # done yet; setting it in the parent instead would clash with the parent's running pool.
    os.environ["NUMBA_NUM_THREADS"] = "1"


class _DeferredFuture(Future):
    """Runs its task in this process when its result is first asked for."""

    def __init__(self, fn, args, kwargs):
        super().__init__()
        self._task = (fn, args, kwargs)

    def result(self, timeout=None):
        if self._task is not None:
            fn, args, kwargs = self._task
            self._task = None
            try:
                self.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # delivered through the future, like a pool would
                self.set_exception(exc)
        return super().result(timeout)

    def exception(self, timeout=None):
        try:
            self.result(timeout)
        except BaseException:
            pass
        return super().exception(timeout)


class SerialExecutor(Executor):
    """Runs each task in this process, in the order results are asked for: deterministic,
    debuggable, no pickling, and progress bars over ``result()`` calls show real progress."""

    def submit(self, fn, /, *args, **kwargs):
        return _DeferredFuture(fn, args, kwargs)


class DaskExecutor(Executor):
    """A Dask client's executor that also closes the client on ``shutdown``."""

    def __init__(self, client):
        self.client = client
        self._executor = client.get_executor()

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, **kwargs):
        self._executor.shutdown(wait=wait)
        self.client.close()


def make_executor(jobs: int | None = None, scheduler: str | None = None) -> Executor:
    """An executor for ``jobs`` local processes (1: in-process), or the Dask cluster at ``scheduler``.

    Worker processes are started with ``spawn`` and one BLAS/Numba thread each.

    Examples
    --------
    >>> ex = make_executor(1)                    # 1 job: in-process, in the order results are asked for
    >>> ex.submit(pow, 2, 10).result()
    1024
    """
    if scheduler:
        try:
            from distributed import Client
        except ImportError as exc:
            raise RuntimeError(
                "--scheduler needs Dask's distributed package: pip install 'ser_ref[distributed]'"
            ) from exc
        return DaskExecutor(Client(scheduler))
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1:
        return SerialExecutor()
    for k, v in _SINGLE_THREAD_ENV.items():  # inherited by the spawned workers
        os.environ.setdefault(k, v)
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init
    )

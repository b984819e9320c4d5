"""Where the work runs: in-process, a local process pool, or a Dask cluster.

Every long stage (feature extraction, LOSO folds) submits top-level, picklable functions to a
``concurrent.futures.Executor``; which one is a run-time choice, so the same code can run on a
laptop, on all cores of a server, or on a cluster (``--scheduler HOST:PORT``).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..errors import MachineError, UsageError

# One BLAS thread per worker: N workers x N threads would oversubscribe the cores. BLAS reads
# these when it loads, so they are set in the parent for the spawned children to inherit.
_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


PARENT_POLL_S = 0.5
SCHEDULER_TIMEOUT_S = 5


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent has died (even by SIGKILL, which runs no clean-up) exits too: no
    orphan keeps computing for ever. Polling getppid works wherever fork/spawn parents exist."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _worker_init(parent: int):
    # Numba reads this before it first launches its thread pool, which a fresh worker has not
    # done yet; setting it in the parent instead would clash with the parent's running pool.
    os.environ["NUMBA_NUM_THREADS"] = "1"
    # Ctrl-C reaches the whole process group: the parent alone decides (it keeps finished work and
    # stops the workers), instead of every worker printing its own traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    from ..runtime.blas_threads import single_threaded_blas

    # One BLAS thread whatever OPENBLAS_NUM_THREADS says: results must not depend on it.
    single_threaded_blas().__enter__()


def _single_threaded(fn, *args, **kwargs):
    """fn(*args, **kwargs) with one BLAS thread: on a Dask worker, whose threads we do not set up."""
    from ..runtime.blas_threads import single_threaded_blas

    with single_threaded_blas():
        return fn(*args, **kwargs)


class _DeferredFuture(Future):
    """Runs its task in this process when its result is first asked for."""

    def __init__(self, fn, args, kwargs):
        super().__init__()
        self._task = (fn, args, kwargs)

    def result(self, timeout=None):
        if self._task is not None:
            fn, args, kwargs = self._task
            self._task = None
            try:  # one BLAS thread, as in a pool's worker: the same bits whatever --jobs
                self.set_result(_single_threaded(fn, *args, **kwargs))
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
    debuggable, no pickling, and progress bars over ``result()`` calls show real progress.
    Each task runs with one BLAS thread, as in a pool's worker, so that --jobs 1 gives the same bits
    as --jobs N (layer 1 still spreads its own blocks over the cores)."""

    def submit(self, fn, /, *args, **kwargs):
        return _DeferredFuture(fn, args, kwargs)


class DaskExecutor(Executor):
    """A Dask client's executor that also closes the client on ``shutdown``."""

    def __init__(self, client):
        self.client = client
        self._executor = client.get_executor()

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(_single_threaded, fn, *args, **kwargs)

    def shutdown(self, wait=True, **kwargs):
        self._executor.shutdown(wait=wait)
        self.client.close()


class _Started(dict):
    """A pool's {pid: process} that also keeps every process ever put in it (the pool forgets a
    dead one): what ``worker_death`` reads the signal from."""

    def __init__(self, started: list):
        super().__init__()
        self.started = started

    def __setitem__(self, pid, process):
        self.started.append(process)
        super().__setitem__(pid, process)


_STARTED: list = []   # every worker process this process started, for ``worker_death``


class WorkerPool(ProcessPoolExecutor):
    """``ProcessPoolExecutor`` whose workers are remembered after they die, so that a run broken by a
    killed worker can say which signal killed it (``worker_death``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _STARTED[:] = [p for p in _STARTED if _exitcode(p) != 0]  # those that ended cleanly say nothing
        self._processes = _Started(_STARTED)   # the dict the pool's manager thread shares


def _exitcode(process) -> int | None:
    try:
        return process.exitcode
    except ValueError:  # a closed Process object
        return 0


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def worker_death(exc: BaseException) -> MachineError | None:
    """The one line for a run whose worker process died (the kernel's OOM killer, a SIGKILL, a
    crash): a MachineError that names the signal when it is known and says how to resume; None
    when ``exc`` is not such a death. A worker's death is a fault of the machine, not of the input.

    >>> str(worker_death(BrokenProcessPool("terminated abruptly"))).startswith("a worker process died")
    True
    >>> worker_death(ValueError("x")) is None
    True
    >>> class KilledWorker(Exception): ...          # Dask's, by name: distributed need not be installed
    >>> "memory limit above that" in str(worker_death(KilledWorker("task")))
    True
    """
    if type(exc).__name__ == "KilledWorker":   # Dask's: its workers are not this process's children
        how = (" (a Dask worker: its nanny restarts one whose memory passes 95 % of its limit, and a training "
               "task's memory counts the layer-1 features of its training set, about 1.4 GiB per hour of audio; "
               "give each worker a memory limit above that, docs/performance.md#running-on-a-cluster---scheduler)")
    elif isinstance(exc, BrokenProcessPool):
        codes = {-c for c in map(_exitcode, _STARTED) if c is not None and c < 0}
        # the pool ends the other workers with SIGTERM once one is gone: another signal is the cause
        cause = sorted(codes - {signal.SIGTERM}) or sorted(codes)
        how = (f" (killed by {', '.join(_signal_name(c) for c in cause)}"
               + ("; the kernel's out-of-memory killer sends SIGKILL: fewer --jobs need less memory" if
                  signal.SIGKILL in cause else "") + ")") if cause else ""
    else:
        return None
    return MachineError(f"a worker process died{how}: a fault of the machine, not of the input. Finished work "
                        "is kept: re-run the same command (the same --out) to resume")


def make_executor(jobs: int | None = None, scheduler: str | None = None) -> Executor:
    """An executor for ``jobs`` local processes (1: in-process), or the Dask cluster at ``scheduler``.

    Worker processes are started with ``spawn`` and one BLAS/Numba thread each; they ignore SIGINT
    (the parent stops them, see ``stop``) and exit by themselves when the parent dies. An unreachable
    scheduler is a UsageError within ``SCHEDULER_TIMEOUT_S`` seconds.

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
        try:
            client = Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--scheduler {scheduler}: no Dask scheduler answered within "
                             f"{SCHEDULER_TIMEOUT_S} s ({type(exc).__name__}: {exc})") from exc
        return DaskExecutor(client)
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1:
        return SerialExecutor()
    for k, v in _SINGLE_THREAD_ENV.items():  # inherited by the spawned workers
        os.environ.setdefault(k, v)
    return WorkerPool(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(os.getpid(),))


def stop(executor: Executor) -> None:
    """Stop at once: queued tasks cancelled, a pool's worker processes terminated (a task they run
    is lost; everything finished was saved by its caller). For SIGINT and fatal errors."""
    procs = list((getattr(executor, "_processes", None) or {}).values())
    try:
        executor.shutdown(wait=False, cancel_futures=True)
    except TypeError:  # executors without cancel_futures
        executor.shutdown(wait=False)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=2)

"""ser_ref.runtime.blas_threads: NumPy's OpenBLAS made single-threaded for a block, and put back exactly."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from ser_ref.runtime import blas_threads
from ser_ref.runtime.blas_threads import single_threaded_blas


@pytest.fixture
def controllable():
    if blas_threads.blas_threads() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this process can find (another BLAS or OS): "
                    "single_threaded_blas yields None and callers keep BLAS's threading")
    return blas_threads.blas_threads()


def test_single_threaded_inside_restored_after(controllable):
    with single_threaded_blas() as before:
        assert before == controllable
        assert blas_threads.blas_threads() == 1
        a = np.ones((300, 300), np.float32)
        assert (a @ a == 300).all()  # BLAS still works with one thread
    assert blas_threads.blas_threads() == controllable


def test_restored_after_an_exception(controllable):
    with pytest.raises(RuntimeError):
        with single_threaded_blas():
            raise RuntimeError("boom")
    assert blas_threads.blas_threads() == controllable


def test_overlapping_callers_restore_once(controllable):
    """Two threads whose blocks overlap in time, leaving in the opposite order to entering: the
    count is 1 while either is inside and the original once both have left."""
    entered, release_a = threading.Event(), threading.Event()
    seen = []

    def a():
        with single_threaded_blas() as before:
            seen.append(("a", before))
            entered.set()
            release_a.wait(5)
            seen.append(("a inside", blas_threads.blas_threads()))

    t = threading.Thread(target=a)
    t.start()
    entered.wait(5)
    with single_threaded_blas() as before:
        seen.append(("b", before))  # the original count, not the 1 that a set
    seen.append(("after b", blas_threads.blas_threads()))  # a is still inside
    release_a.set()
    t.join(5)
    assert seen == [("a", controllable), ("b", controllable), ("after b", 1), ("a inside", 1)]
    assert blas_threads.blas_threads() == controllable


def test_no_control_yields_none(monkeypatch):
    monkeypatch.setattr(blas_threads, "_control", lambda: None)
    assert blas_threads.blas_threads() is None
    with single_threaded_blas() as before:
        assert before is None


def test_layer_error_in_a_worker_is_raised_and_threads_restored():
    """A worker's failure reaches the caller (nothing half-computed is returned) and the BLAS thread
    count is put back."""
    from ser_ref.deepspeech.layer1 import dense_relu_clip_fast

    before = blas_threads.blas_threads()
    x = np.ones((2000, 494), np.float32)
    with pytest.raises(ValueError):
        dense_relu_clip_fast(x, np.ones((400, 2048), np.float32), 20.0, 256, 100)  # wrong K
    assert blas_threads.blas_threads() == before


def test_corename_agrees_with_threadpoolctl(controllable):
    """The kernel family the manifests record is the one an independent reader of the library sees."""
    threadpoolctl = pytest.importorskip("threadpoolctl")  # comes with scikit-learn (dev extra)
    numpy_libs = [i for i in threadpoolctl.threadpool_info()
                  if i["internal_api"] == "openblas" and "numpy" in i["filepath"]]
    assert numpy_libs, "threadpoolctl does not see NumPy's OpenBLAS although blas_threads does"
    assert blas_threads.corename().lower() == numpy_libs[0]["architecture"].lower()

"""Let our own threads each own a core: NumPy's OpenBLAS run single-threaded for a while.

Why: an OpenBLAS call returns with its worker threads still spinning on the other cores (~0.1 s).
Any pass that follows it (layer 1's ReLU/clip) then runs on half the machine. Splitting the rows
over our own threads, each calling a single-threaded GEMM and then clipping its own block while
it is still in that core's cache, keeps every core busy with useful work instead.

The thread count is a process-wide OpenBLAS setting; it is changed through NumPy's own OpenBLAS
(found among the loaded libraries, as threadpoolctl does), under a lock, reference-counted so that
overlapping callers restore it once. Where it cannot be found (another BLAS, another OS),
``single_threaded_blas`` yields None and callers keep BLAS's own threading.
"""
from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

# (set, get) symbol pairs, newest NumPy wheels first
_SYMBOLS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
            ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
            ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
            ("openblas_set_num_threads", "openblas_get_num_threads"))

_NUMPY_LIBS = Path(np.__file__).resolve().parent.parent / "numpy.libs"  # where NumPy's wheels put it

_lock = threading.Lock()
_depth = 0
_saved = 1


def _loaded_openblas() -> list[Path]:
    """Paths of the OpenBLAS libraries mapped into this process, NumPy's own first."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    fields = (ln.split(None, 5) for ln in lines)
    paths = {Path(f[5]) for f in fields if len(f) == 6 and "openblas" in Path(f[5]).name.lower()}
    return sorted(paths, key=lambda p: (p.parent != _NUMPY_LIBS, str(p)))


@lru_cache(maxsize=None)
def openblas_library():
    """NumPy's OpenBLAS as a ctypes library, or None where it cannot be told apart (looked up once)."""
    libs = _loaded_openblas()
    # several OpenBLAS copies (SciPy ships its own) and none of them NumPy's: do not guess
    if not libs or (len(libs) > 1 and libs[0].parent != _NUMPY_LIBS):
        return None
    try:
        return ctypes.CDLL(str(libs[0]))
    except OSError:
        return None


@lru_cache(maxsize=None)
def _control():
    """(set, get) ctypes functions of NumPy's OpenBLAS, or None (looked up once)."""
    lib = openblas_library()
    if lib is None:
        return None
    for set_name, get_name in _SYMBOLS:
        if hasattr(lib, set_name) and hasattr(lib, get_name):
            setter, getter = getattr(lib, set_name), getattr(lib, get_name)
            setter.argtypes, setter.restype = [ctypes.c_int], None
            getter.argtypes, getter.restype = [], ctypes.c_int
            return setter, getter
    return None


def blas_threads() -> int | None:
    """NumPy's OpenBLAS thread count now, or None where it cannot be read.

    Examples
    --------
    >>> n = blas_threads()
    >>> n is None or n >= 1
    True
    """
    ctl = _control()
    return None if ctl is None else int(ctl[1]())


@contextmanager
def single_threaded_blas():
    """Within the block NumPy's OpenBLAS uses one thread; yields the thread count it had before
    (how many threads of our own to use instead), or None where it cannot be controlled.

    Examples
    --------
    >>> with single_threaded_blas() as before:
    ...     inside = blas_threads()
    >>> inside in (1, None), blas_threads() == before or before is None
    (True, True)
    """
    global _depth, _saved
    ctl = _control()
    if ctl is None:
        yield None
        return
    setter, getter = ctl
    with _lock:
        if _depth == 0:
            _saved = int(getter())
            setter(1)
        _depth += 1
        before = _saved
    try:
        yield before
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                setter(_saved)


def corename() -> str | None:
    """The kernel family NumPy's OpenBLAS loaded ('Haswell', 'SkylakeX', 'Zen', ...), or None where
    it cannot say. OpenBLAS picks it once, at load, from the CPU or from $OPENBLAS_CORETYPE; the
    family decides the last bits of every product, and so the trained networks' numbers
    (docs/reliability.md): manifests record it.

    >>> name = corename()
    >>> name is None or isinstance(name, str)
    True
    """
    lib = openblas_library()
    if lib is None:
        return None
    for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
        fn = getattr(lib, symbol, None)
        if fn is not None:
            fn.argtypes, fn.restype = [], ctypes.c_char_p
            raw = fn()
            return raw.decode().strip() if raw else None
    return None

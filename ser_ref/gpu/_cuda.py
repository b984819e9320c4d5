"""Lazy CuPy access, kernel compilation and launch helpers shared by the ser_ref.gpu modules.

Kernel sources are plain CUDA C (no #include: NVRTC, which CuPy uses, has no host headers). A
source written for several float types uses ``real_t``; ``with_real(src, dtype)`` prefixes the
typedef. ``ser_ref.gpu.ALL_SOURCES()`` lists every (name, source) pair so tests can compile them with nvcc.

Every kernel declares ``__launch_bounds__`` with the block size its host code launches: one
constant, ``BLOCK``, reaches the kernels as ``SER_REF_BLOCK`` (``DEFINES``), so a launch and the
shared-memory sizes it relies on cannot drift apart; tests/test_cuda_sources_compile.py checks
ptxas' registers and shared memory against those bounds, and the CPU emulator refuses a launch
beyond them.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..runtime.backend import get_xp
from ..errors import BackendError

BLOCK = 256  # threads per block of every 1-D launch (a power of two: the reductions halve it)
DEFINES = f"#define SER_REF_BLOCK {BLOCK}\n"
# --fmad=false: a*b + c is rounded twice, as NumPy does, not fused into one FMA; the kernels are
# memory-bound, so the FMA's speed is not missed, and results stay comparable with the reference.
NVRTC_OPTIONS = ("--std=c++14", "--fmad=false")
_CTYPE = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


def cupy():
    """The cupy module (BackendError with the reason when CuPy or a GPU is missing)."""
    return get_xp("gpu")


def ctype(dtype) -> str:
    try:
        return _CTYPE[np.dtype(dtype)]
    except KeyError:
        raise BackendError(f"GPU kernels support float32 and float64, got {np.dtype(dtype)}") from None


def common_real_dtype(where: str, **arrays):
    """The one float dtype (float32 or float64) that every named array shares, else a BackendError:
    a kernel reads every pointer as ``real_t``, so a float64 W beside a float32 x would be read
    with the wrong element size, silently.

    >>> common_real_dtype("lstm", x=np.zeros(2, np.float32), W=np.zeros(2, np.float32))
    dtype('float32')
    """
    dtypes = {name: np.dtype(a.dtype) for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) != 1:
        listed = ", ".join(f"{name} {dt}" for name, dt in dtypes.items())
        raise BackendError(f"{where}: the arrays must share one float dtype, got {listed}")
    dt = next(iter(dtypes.values()))
    ctype(dt)
    return dt


def with_real(src: str, dtype) -> str:
    """The source with ``real_t`` bound to the C type of ``dtype``."""
    return f"typedef {ctype(dtype)} real_t;\n{src}"


@lru_cache(maxsize=None)
def _module(code: str):
    return cupy().RawModule(code=code, options=NVRTC_OPTIONS)


def kernel(code: str, name: str):
    """The compiled ``extern "C" __global__`` function ``name`` of ``code`` (compiled once, cached)."""
    return _module(code).get_function(name)


def launch(fn, n: int, *args, block: int = BLOCK):
    """Launch ``fn`` with one thread per item of ``n`` (1-D grid)."""
    if n > 0:
        fn(((n + block - 1) // block,), (block,), args)


def i32(v):
    return np.int32(v)


def i64(v):
    return np.int64(v)

"""Run ser_ref.gpu's CUDA C kernels on the CPU, to check their logic where there is no GPU.

A stand-in for CuPy: NumPy for the arrays, and a ``RawModule`` that compiles each kernel source as
C++ with g++ (``__global__``/``__device__`` erased, ``blockIdx``/``threadIdx`` thread-local
globals, ``__shared__`` a static, ``__syncthreads`` a std::barrier) and launches it thread by
thread: every (block, thread) of the grid runs, in order; a kernel that synchronises runs each
block's threads as real OS threads meeting at the barrier. Arguments are checked the way the GPU
would need them (C-contiguous arrays, NumPy scalars of an exact C type), and a block larger than
the kernel's ``__launch_bounds__`` (evaluated with the source's own macros) is refused, as the
driver would refuse it; this catches glue bugs that would otherwise only show on a device.

What this does NOT check: NVRTC, CUDA's own math library (tanh/exp differ by an ulp or two),
cuFFT and cuBLAS (NumPy stands in), races between concurrently running threads, and speed.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import types
from pathlib import Path

import numpy as np

GXX = shutil.which("g++")

PRELUDE = r"""
#include <cmath>
#include <barrier>
using namespace std;
struct emu_dim3 { unsigned x, y, z; };
static thread_local emu_dim3 blockIdx, threadIdx;
static emu_dim3 blockDim, gridDim;
static std::barrier<>* emu_bar = nullptr;
extern "C" void emu_set_thread(unsigned b, unsigned t) { blockIdx = {b, 0, 0}; threadIdx = {t, 0, 0}; }
extern "C" void emu_set_launch(unsigned g, unsigned b) { gridDim = {g, 1, 1}; blockDim = {b, 1, 1}; }
extern "C" void emu_make_barrier(int n) { delete emu_bar; emu_bar = new std::barrier<>(n); }
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __syncthreads() emu_bar->arrive_and_wait()
#line 1 "kernel.cu"
"""

_SCALARS = {np.dtype(np.int32): ctypes.c_int32, np.dtype(np.int64): ctypes.c_int64,
            np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_BUILD = Path(tempfile.gettempdir()) / "ser_ref_cuda_emulator"


def _c_arg(a, k):
    if isinstance(a, np.ndarray):
        if not a.flags.c_contiguous:
            raise TypeError(f"kernel argument {k}: a non-contiguous array (shape {a.shape}, strides {a.strides})")
        return ctypes.c_void_p(a.ctypes.data)
    if isinstance(a, np.generic) and a.dtype in _SCALARS:
        return _SCALARS[a.dtype](a.item())
    raise TypeError(f"kernel argument {k}: {type(a).__name__} is neither an array nor a sized NumPy scalar")


BOUNDS = re.compile(r"__launch_bounds__\(([^)]*)\)\s*(\w+)\s*\(")


def _bounds_getters(code):
    """C++ functions emu_bounds_<kernel>() returning each kernel's __launch_bounds__ value."""
    return "".join(f'\nextern "C" long emu_bounds_{name}() {{ return ({expr}); }}'
                   for expr, name in BOUNDS.findall(code))


class Function:
    def __init__(self, lib, name, syncs):
        self.lib, self.fn, self.syncs = lib, getattr(lib, name), syncs
        getter = getattr(lib, f"emu_bounds_{name}", None)
        if getter is None:
            raise TypeError(f"kernel {name} declares no __launch_bounds__")
        getter.restype = ctypes.c_long
        self.max_threads = getter()

    def _thread(self, b, t, args):
        self.lib.emu_set_thread(b, t)
        self.fn(*args)

    def __call__(self, grid, block, args):
        (g,), (n,) = tuple(grid), tuple(block)
        if not 0 < n <= self.max_threads:
            raise ValueError(f"launch of {n} threads per block; the kernel's __launch_bounds__ is {self.max_threads}")
        cargs = [_c_arg(a, k) for k, a in enumerate(args)]
        self.lib.emu_set_launch(g, n)
        for b in range(g):
            if self.syncs:
                self.lib.emu_make_barrier(n)
                threads = [threading.Thread(target=self._thread, args=(b, t, cargs)) for t in range(n)]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
            else:
                for t in range(n):
                    self._thread(b, t, cargs)


class RawModule:
    def __init__(self, code, options=()):
        flags = ["-ffp-contract=off" if o == "--fmad=false" else None for o in options]
        src = PRELUDE + code + _bounds_getters(code)
        key = hashlib.sha256(src.encode()).hexdigest()[:16]
        _BUILD.mkdir(exist_ok=True)
        lib = _BUILD / f"k{key}.so"
        if not lib.exists():
            cpp = _BUILD / f"k{key}.{os.getpid()}.cpp"
            cpp.write_text(src)
            tmp = f"{lib}.{os.getpid()}.tmp"  # another test process may be building the same kernel
            cmd = [GXX, "-std=c++20", "-O1", "-fPIC", "-shared", "-pthread", *[f for f in flags if f], "-o", tmp, str(cpp)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                raise RuntimeError(f"g++ failed:\n{res.stderr}")
            os.replace(tmp, lib)
        self.lib = ctypes.CDLL(str(lib))
        for f in ("emu_set_thread", "emu_set_launch"):
            getattr(self.lib, f).argtypes = [ctypes.c_uint, ctypes.c_uint]
        self.code = code

    def get_function(self, name):
        return Function(self.lib, name, "__syncthreads" in self.code)


def fake_cupy():
    """NumPy dressed as CuPy, with the emulated RawModule."""
    mod = types.ModuleType("fake_cupy")
    mod.__getattr__ = lambda name: getattr(np, name)
    mod.RawModule = RawModule
    return mod

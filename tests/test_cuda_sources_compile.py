"""Every CUDA kernel source in ser_ref.gpu compiles for sm_90 (H100), with nvcc and with NVRTC (the
compiler CuPy's RawModule calls at run time; it has no host headers, so it fails where nvcc may
not): catches syntax and type errors on machines without a GPU. Each check skips when its compiler
is absent. (Compiling is not running: the numerical checks are tests/test_gpu_*.py, which need a
GPU, and tests/test_gpu_emulated.py, which runs the kernels' C on the CPU.)"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from ser_ref.gpu._cuda import ALL_SOURCES, NVRTC_OPTIONS

NVCC = shutil.which("nvcc")
SOURCES = ALL_SOURCES()


def test_every_kernel_family_is_listed():
    families = {name.split(".")[0] for name, _ in SOURCES}
    assert families == {"mfcc", "layer1", "lstm", "softmax_ce", "forest"}


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed (CUDA toolkit needed to compile the kernels)")
@pytest.mark.parametrize("name,code", SOURCES, ids=[n for n, _ in SOURCES])
def test_kernel_source_compiles_for_sm90(name, code, tmp_path):
    src = tmp_path / f"{name}.cu"
    src.write_text(code)
    # the same options CuPy's NVRTC gets; -Werror turns silent conversions into failures
    opts = [o.replace("--fmad=false", "-fmad=false") for o in NVRTC_OPTIONS]
    cmd = [NVCC, "-arch=sm_90", "-cubin", *opts, "-Werror", "all-warnings", "-o", str(tmp_path / f"{name}.cubin"),
           str(src)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"nvcc failed for {name}:\n{res.stderr}"
    assert (tmp_path / f"{name}.cubin").stat().st_size > 0


@pytest.fixture(scope="module")
def nvrtc():
    """libnvrtc through ctypes (the pip wheel nvidia-cuda-nvrtc, a CUDA toolkit, or the loader path)."""
    import ctypes
    import ctypes.util
    import glob
    import os

    candidates = []
    try:
        import nvidia

        for root in nvidia.__path__:
            candidates += sorted(glob.glob(os.path.join(root, "*", "lib", "libnvrtc.so*")))
    except ImportError:
        pass
    for home in filter(None, [os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME"), "/usr/local/cuda"]):
        candidates += sorted(glob.glob(os.path.join(home, "lib64", "libnvrtc.so*")))
    if ctypes.util.find_library("nvrtc"):
        candidates.append(ctypes.util.find_library("nvrtc"))
    for c in candidates:
        if "builtins" in os.path.basename(c):
            continue
        try:
            return ctypes.CDLL(c)
        except OSError:
            continue
    pytest.skip("NVRTC is not installed (pip install nvidia-cuda-nvrtc, or a CUDA toolkit): CuPy compiles "
                "the kernels with it at run time")


@pytest.mark.parametrize("name,code", SOURCES, ids=[n for n, _ in SOURCES])
def test_kernel_source_compiles_with_nvrtc(name, code, nvrtc):
    """What CuPy's RawModule does at run time, without a GPU: NVRTC (no host headers, unlike nvcc)
    compiles the source with ser_ref's options for sm_90, and reports no warnings."""
    import ctypes

    lib = nvrtc
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), code.encode(), f"{name}.cu".encode(), 0, None, None) == 0
    opts = [o.encode() for o in (*NVRTC_OPTIONS, "--gpu-architecture=sm_90")]
    rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    cubin_size = ctypes.c_size_t()
    got_cubin = lib.nvrtcGetCUBINSize(prog, ctypes.byref(cubin_size)) == 0
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    text = log.value.decode(errors="replace").strip()
    assert rc == 0, f"NVRTC failed for {name}:\n{text}"
    assert "warning" not in text.lower(), f"NVRTC warnings for {name}:\n{text}"
    assert got_cubin and cubin_size.value > 0

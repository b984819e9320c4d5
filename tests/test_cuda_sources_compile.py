"""Every CUDA kernel source in ser_ref.gpu compiles for sm_90 (H100), with nvcc and with NVRTC (the
compiler CuPy's RawModule calls at run time; it has no host headers, so it fails where nvcc may
not): catches syntax and type errors on machines without a GPU. Each check skips when its compiler
is absent. (Compiling is not running: the numerical checks are tests/test_gpu_*.py, which need a
GPU, and tests/test_gpu_emulated.py, which runs the kernels' C on the CPU.)"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ser_ref.gpu import ALL_SOURCES
from ser_ref.gpu._cuda import NVRTC_OPTIONS

NVCC = shutil.which("nvcc")
SOURCES = ALL_SOURCES()


def test_every_kernel_family_is_listed():
    families = {name.split(".")[0] for name, _ in SOURCES}
    assert families == {"tf_mfcc", "layer1", "lstm", "softmax_ce", "forest"}


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


def _nvrtc_compile(lib, name, code, extra=()):
    """NVRTC on ``code`` with ser_ref's options for sm_90 -> (return code, log, PTX, cubin size)."""
    import ctypes

    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), code.encode(), f"{name}.cu".encode(), 0, None, None) == 0
    opts = [o.encode() for o in (*NVRTC_OPTIONS, "--gpu-architecture=sm_90", *extra)]
    rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    ptx = ""
    if rc == 0 and lib.nvrtcGetPTXSize(prog, ctypes.byref(size)) == 0:
        buf = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetPTX(prog, buf)
        ptx = buf.value.decode()
    cubin_size = ctypes.c_size_t()
    got_cubin = lib.nvrtcGetCUBINSize(prog, ctypes.byref(cubin_size)) == 0
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return rc, log.value.decode(errors="replace").strip(), ptx, cubin_size.value if got_cubin else 0


@pytest.mark.parametrize("name,code", SOURCES, ids=[n for n, _ in SOURCES])
def test_kernel_source_compiles_with_nvrtc(name, code, nvrtc):
    """What CuPy's RawModule does at run time, without a GPU: NVRTC (no host headers, unlike nvcc)
    compiles the source with ser_ref's options for sm_90, and reports no warnings."""
    rc, text, _, cubin_size = _nvrtc_compile(nvrtc, name, code)
    assert rc == 0, f"NVRTC failed for {name}:\n{text}"
    assert "warning" not in text.lower(), f"NVRTC warnings for {name}:\n{text}"
    assert cubin_size > 0


# sm_90 (H100/H200) limits, CUDA C Programming Guide, "Technical Specifications per Compute Capability"
MAX_THREADS_PER_BLOCK = 1024
REGISTERS_PER_BLOCK = 65536
REGISTER_GRANULE = 8           # registers are allocated per thread in multiples of 8 (256 per warp)
STATIC_SHARED_PER_BLOCK = 48 * 1024
KERNEL_NAMES = re.compile(r'extern "C" __global__ void\s+(?:__launch_bounds__\([^)]*\)\s*)?(\w+)\s*\(')


def _ptxas_usage(log):
    """{kernel: (registers per thread, static shared bytes, spill bytes)} from ptxas -v output."""
    out = {}
    for block in re.split(r"Compiling entry function ", log)[1:]:
        name = re.match(r"'(\w+)'", block).group(1)
        regs = int(re.search(r"Used (\d+) registers", block).group(1))
        smem = re.search(r"(\d+) bytes smem", block)
        spills = sum(int(v) for v in re.findall(r"(\d+) bytes spill (?:stores|loads)", block))
        out[name] = (regs, int(smem.group(1)) if smem else 0, spills)
    return out


@pytest.mark.parametrize("name,code", SOURCES, ids=[n for n, _ in SOURCES])
def test_kernel_resources_fit_their_launch_bounds(name, code, nvrtc):
    """ptxas' registers and shared memory for every kernel against the block size it declares with
    __launch_bounds__ (PTX .maxntid), which the host code never exceeds (the CPU emulator refuses a
    larger launch): a kernel that compiles but cannot launch with its block fails here."""
    rc, log, ptx, _ = _nvrtc_compile(nvrtc, name, code, ("--ptxas-options=-v",))
    assert rc == 0, log
    usage = _ptxas_usage(log)
    bounds = {k: int(n) * int(ny) * int(nz) for k, n, ny, nz in
              re.findall(r"\.entry\s+(\w+)\(.*?\)\s*\.maxntid\s+(\d+),\s*(\d+),\s*(\d+)", ptx, re.S)}
    kernels = set(KERNEL_NAMES.findall(code))
    assert set(usage) == kernels, (sorted(usage), sorted(kernels))
    assert set(bounds) == kernels, f"kernels without __launch_bounds__: {sorted(kernels - set(bounds))}"
    for k, (regs, smem, spills) in usage.items():
        threads = bounds[k]
        allocated = -(-regs // REGISTER_GRANULE) * REGISTER_GRANULE * threads
        assert threads <= MAX_THREADS_PER_BLOCK, (k, threads)
        assert allocated <= REGISTERS_PER_BLOCK, f"{k}: {regs} registers x {threads} threads > {REGISTERS_PER_BLOCK}"
        assert smem <= STATIC_SHARED_PER_BLOCK, f"{k}: {smem} bytes of shared memory"
        assert spills == 0, f"{k}: {spills} bytes of register spills at {threads} threads"

"""Every CUDA kernel source in ser_ref.gpu compiles for sm_90 (H100) with nvcc: catches syntax and
type errors on machines without a GPU. Skips when nvcc is absent. (Compiling is not running: the
numerical checks are tests/test_gpu_*.py, which need a GPU.)"""
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

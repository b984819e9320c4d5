"""SER_REF_STRICT=1 (set by .ci/run): a skip for any reason but a missing GPU fails the run."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SAMPLE = '''
import pytest

def test_passes():
    pass

@pytest.mark.skipif(True, reason="no CUDA device (needs CuPy and a GPU)")
def test_gpu_only():
    pass

def test_missing_oracle():
    pytest.importorskip("no_such_oracle_module", reason="oracle 'no_such_oracle_module' is not installed")

@pytest.fixture
def corpus():
    pytest.skip("no RAVDESS corpus")

def test_needs_corpus(corpus):
    pass
'''


def _run(tmp_path, strict: bool):
    shutil.copy(Path(__file__).parent.parent / "conftest.py", tmp_path / "conftest.py")  # the strict hook
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "SER_REF_STRICT"}
    if strict:
        env["SER_REF_STRICT"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_strict_mode_fails_every_skip_but_the_gpu_ones(tmp_path):
    res = _run(tmp_path, strict=True)
    assert res.returncode == 1, res.stdout
    assert "FAILED test_sample.py::test_missing_oracle" in res.stdout
    assert "ERROR test_sample.py::test_needs_corpus" in res.stdout  # a skip in a fixture: setup error
    assert "SKIPPED [1] test_sample.py" in res.stdout and "no CUDA device" in res.stdout
    assert "1 passed" in res.stdout


def test_without_strict_mode_skips_stay_skips(tmp_path):
    res = _run(tmp_path, strict=False)
    assert res.returncode == 0, res.stdout
    assert "1 passed, 3 skipped" in res.stdout

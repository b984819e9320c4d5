"""Hooks for every test, the docstring examples (``--doctest-modules`` over ser_ref/) included.

``SER_REF_STRICT=1`` (set by .ci/run): every skip except the GPU ones ("no CUDA device") is
reported as a failure, so a missing oracle, model or corpus can never leave the run green.

The docstring examples write their files under pytest's tmp_path, which pytest cleans up, instead
of leaving tempfile.mkdtemp() folders in /tmp.
"""
import os
import tempfile

import pytest

STRICT = os.environ.get("SER_REF_STRICT", "") not in ("", "0")
# the only skips strict mode accepts: GPU tests without a GPU, and CPU-only paths on a GPU machine
NO_GPU = "no CUDA device"
GPU_PRESENT = "a CUDA device is present"


def _allowed_in_strict(reason: str) -> bool:
    return NO_GPU in reason or GPU_PRESENT in reason


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not (STRICT and rep.skipped) or hasattr(rep, "wasxfail"):
        return
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    if not _allowed_in_strict(reason):
        rep.outcome = "failed"
        rep.longrepr = f"SER_REF_STRICT=1: this test may not skip ({reason})"


def pytest_report_header(config):
    return "ser_ref strict mode: only GPU skips allowed" if STRICT else None


@pytest.fixture(autouse=True)
def _doctest_files_in_tmp_path(request, monkeypatch):
    if type(request.node).__name__ == "DoctestItem":
        monkeypatch.setattr(tempfile, "tempdir", str(request.getfixturevalue("tmp_path")))

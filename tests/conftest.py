"""Shared fixtures and the strict mode.

The model comes from where the main job takes it: $SER_REF_MODEL, ../shared, else the registry
package armspeech==0.1.4 (both sha256 checked, kept in weights/cache, so it is fetched once per
checkout). Tests that need real speech skip when no corpus is present; the ``voices`` fixture gives
every machine generated speech (the synthetic corpus' voices) for the same oracle checks.

``SER_REF_STRICT=1`` (set by .ci/run): every skip except the GPU ones ("no CUDA device") is
reported as a failure, so a missing oracle, model or corpus can never leave the run green.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from ser_ref import locations

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


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def model_path():
    """The DeepSpeech .tflite the main job would use (fetched once from the registry if needed)."""
    from ser_ref.deepspeech.load import model_tflite
    from ser_ref.errors import WeightsError

    try:
        return model_tflite(log=lambda msg: print(f"[model_path] {msg}"))
    except WeightsError as exc:
        pytest.skip(f"no DeepSpeech .tflite: {exc}")


@pytest.fixture(scope="session")
def ravdess_root():
    p = locations.ravdess_root()
    if p is None:
        pytest.skip("no RAVDESS corpus: set SER_REF_RAVDESS or provide ../shared/corpora/ravdess-4class-16k")
    return p


@pytest.fixture(scope="session")
def ravdess_files(ravdess_root):
    files = sorted(ravdess_root.glob("Actor_*/*.wav"))
    if not files:
        pytest.skip(f"RAVDESS root {ravdess_root} holds no Actor_*/*.wav files")
    return files


@pytest.fixture(scope="session")
def voices():
    """Generated speech on every machine: a female and a male voice of the synthetic corpus,
    angry and sad (the most distant pitch and voice quality), as ``load_audio`` reads the files."""
    from ser_ref.corpora.synthetic import utterance

    return [utterance(s, label) for s, label in ((0, "anger"), (1, "sadness"))]


def needs(module: str):
    """Import an optional oracle or skip the test with the reason."""
    return pytest.importorskip(module, reason=f"oracle '{module}' is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="session")
def interpreter(model_path):
    """The model file under the TFLite interpreter (reference kernels, intermediates kept)."""
    needs("ai_edge_litert")
    from ser_ref.audit.oracles import tflite_interpreter

    return tflite_interpreter(model_path)

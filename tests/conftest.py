"""Shared fixtures. Tests that need material from ../shared skip with a clear reason when absent."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref import locations


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def model_path():
    p = locations.shared_model_path()
    if p is None:
        pytest.skip("no DeepSpeech .tflite: set SER_REF_MODEL or provide ../shared/models/armspeech-0.1.4")
    return p


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


def needs(module: str):
    """Import an optional oracle or skip the test with the reason."""
    return pytest.importorskip(module, reason=f"oracle '{module}' is not installed (pip install 'ser_ref[audit]')")


@pytest.fixture(scope="session")
def interpreter(model_path):
    """The model file under the TFLite interpreter (reference kernels, intermediates kept)."""
    needs("ai_edge_litert")
    from ser_ref.audit.oracles import tflite_interpreter

    return tflite_interpreter(model_path)

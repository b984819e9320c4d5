"""Shared fixtures and the strict mode.

The model comes from where the main job takes it: $SER_REF_MODEL, ../shared, else the registry
package armspeech==0.1.4 (both sha256 checked, kept in weights/cache, so it is fetched once per
checkout). Tests that need real speech skip when no corpus is present; the ``voices`` fixture gives
every machine generated speech (the synthetic corpus' voices) for the same oracle checks.

Strict mode (``SER_REF_STRICT=1``) lives in the root conftest.py, so that it covers the doctests too.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from ser_ref.files import locations

@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh feature/corpus cache for one test module, so it never leans on an earlier run's files."""
    old = os.environ.get("SER_REF_CACHE")
    path = tmp_path_factory.mktemp("cache")
    os.environ["SER_REF_CACHE"] = str(path)
    yield path
    if old is None:
        del os.environ["SER_REF_CACHE"]
    else:
        os.environ["SER_REF_CACHE"] = old


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
